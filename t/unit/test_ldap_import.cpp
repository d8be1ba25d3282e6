// Directory::import_users() against real slapds: a small directory (memberOf, group_base in the
// member-DN and memberUid styles, entries without mail, removals, failures) and a big one (10,000
// users behind a server-side size limit that only paged results get through).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <ldap.h>

#include "ldap/directory.hpp"
#include "t/support/slapd.hpp"
#include "t/support/slapd_suite.hpp"

namespace sso::ldap {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using testing::closed_port;
using testing::Resume;
using testing::Slapd;
using testing::url_for;

constexpr char kReaderDn[] = "cn=reader,dc=example,dc=test";
constexpr char kReaderPassword[] = "reader-secret";
constexpr char kPeople[] = "ou=people,dc=example,dc=test";
constexpr char kBulk[] = "ou=bulk,dc=example,dc=test";
constexpr std::size_t kBulkUsers = 10000;
constexpr std::size_t kBulkGroups = 5;
constexpr std::size_t kServerSizeLimit = 500;

constexpr char kBase[] = R"(dn: dc=example,dc=test
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: cn=reader,dc=example,dc=test
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: reader-secret

)";

// Added with ldapadd (the memberof overlay fills memberOf). carol's mail is stored in mixed case;
// bob has none. In cn=staff, carol's DN is written with spaces and in upper case.
constexpr char kSmall[] = R"(dn: ou=people,dc=example,dc=test
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=test
objectClass: organizationalUnit
ou: groups

dn: ou=posix,dc=example,dc=test
objectClass: organizationalUnit
ou: posix

dn: uid=alice,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.test

dn: uid=bob,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: bob
cn: Bob Builder
sn: Builder

dn: uid=carol,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: carol
cn: Carol Jones
sn: Jones
mail: Carol@Example.Test

dn: cn=staff,ou=groups,dc=example,dc=test
objectClass: groupOfNames
cn: staff
member: uid=alice,ou=people,dc=example,dc=test
member: uid=bob,ou=people,dc=example,dc=test
member: UID=CAROL, OU=People, DC=Example, DC=Test

dn: cn=admins,ou=groups,dc=example,dc=test
objectClass: groupOfNames
cn: admins
member: uid=alice,ou=people,dc=example,dc=test

dn: cn=devs,ou=posix,dc=example,dc=test
objectClass: posixGroup
cn: devs
gidNumber: 1000
memberUid: carol
memberUid: alice

dn: cn=ops,ou=posix,dc=example,dc=test
objectClass: posixGroup
cn: ops
gidNumber: 1001
memberUid: bob
memberUid: Alice
)";

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

// The users of an import by e-mail.
std::map<std::string, DirectoryUser> by_email(const ImportResult& r) {
    std::map<std::string, DirectoryUser> out;
    for (const auto& u : r.users) out[u.email] = u;
    return out;
}

#define EXPECT_IMPORT_FAILED(result)                                                \
    do {                                                                            \
        const ImportResult& r_ = (result);                                          \
        EXPECT_FALSE(r_.ok) << r_.reason;                                           \
        EXPECT_TRUE(r_.users.empty()) << r_.reason;                                 \
        EXPECT_TRUE(r_.server_url.empty());                                         \
        EXPECT_FALSE(r_.reason.empty());                                            \
        EXPECT_EQ(r_.reason.find(kReaderPassword), std::string::npos) << r_.reason; \
    } while (0)

DirectorySettings base_settings(const Slapd& slapd, const char* base_dn) {
    DirectorySettings s;
    s.name = "import";
    s.urls = {slapd.url()};
    s.bind_dn = kReaderDn;
    s.bind_password = kReaderPassword;
    s.base_dn = base_dn;
    s.connect_timeout_ms = 2000;
    s.operation_timeout_ms = 5000;
    return s;
}

Directory directory(const DirectorySettings& s) {
    EXPECT_EQ(settings_error(s), std::nullopt);
    return Directory(s);
}

// ---------------------------------------------------------------------------------------------
// settings_error for the import settings

TEST(LdapImportSettings, DefaultsAndGoodValuesPass) {
    DirectorySettings s;
    s.urls = {"ldap://127.0.0.1/"};
    s.base_dn = "dc=example,dc=test";
    EXPECT_EQ(s.import_page_size, 500);
    EXPECT_EQ(s.import_max_users, 1000000u);
    EXPECT_EQ(s.group_member_attribute, "member");
    EXPECT_EQ(settings_error(s), std::nullopt);
    s.import_filter = "(&(objectClass=inetOrgPerson)(mail=*))";
    s.import_page_size = kMaxImportPageSize;
    s.import_max_users = 1;
    s.group_member_attribute = "memberUid";
    EXPECT_EQ(settings_error(s), std::nullopt);
}

TEST(LdapImportSettings, EveryRefusalNamesItsSetting) {
    struct Case {
        const char* expected;
        void (*change)(DirectorySettings&);
    };
    const Case cases[] = {
        {"import_filter: ", [](DirectorySettings& s) { s.import_filter = "(mail=*"; }},
        {"import_filter: ", [](DirectorySettings& s) { s.import_filter = "mail=*"; }},
        {"import_filter: ", [](DirectorySettings& s) { s.import_filter = std::string("(mail=a\0b)", 10); }},
        {"import_page_size: must be between 1 and 10000", [](DirectorySettings& s) { s.import_page_size = 0; }},
        {"import_page_size: must be between 1 and 10000", [](DirectorySettings& s) { s.import_page_size = 10001; }},
        {"import_max_users: must be at least 1", [](DirectorySettings& s) { s.import_max_users = 0; }},
        {"group_member_attribute \"a b\": not an attribute name",
         [](DirectorySettings& s) { s.group_member_attribute = "a b"; }},
        {"group_member_attribute \"\": not an attribute name",
         [](DirectorySettings& s) { s.group_member_attribute.clear(); }},
    };
    for (const auto& c : cases) {
        DirectorySettings s;
        s.urls = {"ldap://127.0.0.1/"};
        s.base_dn = "dc=example,dc=test";
        c.change(s);
        const auto error = settings_error(s);
        ASSERT_TRUE(error.has_value()) << c.expected;
        EXPECT_EQ(error->rfind(c.expected, 0), 0u) << "expected \"" << c.expected << "...\", got: " << *error;
    }
}

TEST(LdapImport, AllServersDownFailsNamingEach) {
    DirectorySettings s;
    s.name = "import";
    const std::string first = url_for(closed_port()), second = url_for(closed_port());
    s.urls = {first, second};
    s.base_dn = "dc=example,dc=test";
    const ImportResult r = directory(s).import_users();
    EXPECT_IMPORT_FAILED(r);
    EXPECT_NE(r.reason.find(first), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find(second), std::string::npos) << r.reason;
    EXPECT_EQ(r.reason.rfind("ldap \"import\": import failed: no server available: ", 0), 0u) << r.reason;
}

TEST(LdapImport, WithoutAnEmailAttributeThereIsNothingToImport) {
    DirectorySettings s;
    s.name = "import";
    s.urls = {url_for(closed_port())};
    s.base_dn = "dc=example,dc=test";
    s.email_attribute.clear();
    s.import_filter = "(objectClass=inetOrgPerson)";
    const ImportResult r = directory(s).import_users();
    EXPECT_IMPORT_FAILED(r);
    EXPECT_EQ(r.reason, "ldap \"import\": import failed: no email_attribute (users are keyed by e-mail)");
    EXPECT_EQ(r.pages, 0u);
}

// ---------------------------------------------------------------------------------------------
// A small directory

class LdapImportTest : public testing::SlapdSuite<LdapImportTest> {
public:
    static std::string start(Slapd& slapd) {
        testing::SlapdOptions options;
        options.preload = kBase;
        options.entries = kSmall;
        return slapd.start(options);
    }

protected:
    static DirectorySettings settings() { return base_settings(*slapd_, kPeople); }
};

TEST_F(LdapImportTest, UsersWithMemberOfGroups) {
    DirectorySettings s = settings();  // group_base empty: memberOf on each entry
    const ImportResult r = directory(s).import_users();
    ASSERT_TRUE(r.ok) << r.reason;
    EXPECT_EQ(r.server_url, slapd_->url());
    EXPECT_EQ(r.pages, 1u);
    EXPECT_EQ(r.skipped, 0u);  // the default filter (mail=*) does not even match bob
    auto users = by_email(r);
    ASSERT_EQ(users.size(), 2u) << r.reason;
    const DirectoryUser& alice = users.at("alice@example.test");
    EXPECT_EQ(alice.dn, "uid=alice,ou=people,dc=example,dc=test");
    EXPECT_EQ(alice.user, "alice");
    EXPECT_EQ(alice.display_name, "Alice Liddell");
    EXPECT_EQ(sorted(alice.groups), (std::vector<std::string>{"admins", "staff"}));
    EXPECT_EQ(alice.server_url, "");
    // The e-mail as stored, not normalised.
    const DirectoryUser& carol = users.at("Carol@Example.Test");
    EXPECT_EQ(carol.user, "carol");
    EXPECT_EQ(carol.groups, (std::vector<std::string>{"staff"}));
    EXPECT_NE(r.reason.find("imported 2 users"), std::string::npos) << r.reason;
}

TEST_F(LdapImportTest, EntriesWithoutMailAreSkipped) {
    DirectorySettings s = settings();
    s.import_filter = "(objectClass=inetOrgPerson)";
    const ImportResult r = directory(s).import_users();
    ASSERT_TRUE(r.ok) << r.reason;
    EXPECT_EQ(r.skipped, 1u);  // bob
    EXPECT_EQ(sorted({r.users[0].user, r.users[1].user}), (std::vector<std::string>{"alice", "carol"}));
    EXPECT_EQ(r.users.size(), 2u);
    EXPECT_NE(r.reason.find("1 entries without mail skipped"), std::string::npos) << r.reason;
}

TEST_F(LdapImportTest, GroupBaseWithMemberDns) {
    DirectorySettings s = settings();
    s.group_base = "ou=groups,dc=example,dc=test";
    s.group_attribute.clear();  // memberOf is not what gives the groups here
    s.import_page_size = 1;     // several pages for the users and for the groups
    const ImportResult r = directory(s).import_users();
    ASSERT_TRUE(r.ok) << r.reason;
    EXPECT_GE(r.pages, 4u);
    auto users = by_email(r);
    ASSERT_EQ(users.size(), 2u);
    EXPECT_EQ(sorted(users.at("alice@example.test").groups), (std::vector<std::string>{"admins", "staff"}));
    // "UID=CAROL, OU=People, DC=Example, DC=Test" is carol's DN.
    EXPECT_EQ(users.at("Carol@Example.Test").groups, (std::vector<std::string>{"staff"}));
}

TEST_F(LdapImportTest, GroupBaseWithMemberUids) {
    DirectorySettings s = settings();
    s.group_base = "ou=posix,dc=example,dc=test";
    s.group_filter = "(memberUid=%u)";
    s.group_member_attribute = "memberUid";
    const ImportResult r = directory(s).import_users();
    ASSERT_TRUE(r.ok) << r.reason;
    auto users = by_email(r);
    ASSERT_EQ(users.size(), 2u);
    // memberUid values are compared exactly: "Alice" in ops is not alice.
    EXPECT_EQ(users.at("alice@example.test").groups, (std::vector<std::string>{"devs"}));
    EXPECT_EQ(users.at("Carol@Example.Test").groups, (std::vector<std::string>{"devs"}));
}

TEST_F(LdapImportTest, RemovedUserIsGoneAtTheNextImport) {
    ASSERT_EQ(slapd_->add("dn: uid=dave,ou=people,dc=example,dc=test\nobjectClass: inetOrgPerson\nuid: dave\n"
                          "cn: Dave\nsn: D\nmail: dave@example.test\n"),
              "");
    const Directory d = directory(settings());
    const ImportResult before = d.import_users();
    ASSERT_TRUE(before.ok) << before.reason;
    EXPECT_EQ(by_email(before).count("dave@example.test"), 1u);
    ASSERT_EQ(slapd_->remove("uid=dave,ou=people,dc=example,dc=test"), "");
    const ImportResult after = d.import_users();
    ASSERT_TRUE(after.ok) << after.reason;
    EXPECT_EQ(by_email(after).count("dave@example.test"), 0u);
    EXPECT_EQ(after.users.size(), before.users.size() - 1);
}

TEST_F(LdapImportTest, MoreEntriesThanImportMaxUsersFails) {
    DirectorySettings s = settings();
    s.import_max_users = 1;
    const ImportResult r = directory(s).import_users();
    EXPECT_IMPORT_FAILED(r);
    EXPECT_NE(r.reason.find("more than 1 entries match (mail=*)"), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find("import_max_users"), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find(slapd_->url()), std::string::npos) << r.reason;
    s.import_max_users = 2;  // exactly as many as there are: fine
    EXPECT_TRUE(directory(s).import_users().ok);
}

TEST_F(LdapImportTest, BadServiceBindFails) {
    DirectorySettings s = settings();
    s.bind_password = "wrong-service-pw";
    const ImportResult r = directory(s).import_users();
    EXPECT_IMPORT_FAILED(r);
    EXPECT_NE(r.reason.find("service bind"), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find("Invalid credentials"), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find(slapd_->url()), std::string::npos) << r.reason;
    EXPECT_EQ(r.reason.find("wrong-service-pw"), std::string::npos) << r.reason;
}

TEST_F(LdapImportTest, FailoverToTheSecondUrl) {
    DirectorySettings s = settings();
    s.urls = {url_for(closed_port()), slapd_->url()};
    const ImportResult r = directory(s).import_users();
    ASSERT_TRUE(r.ok) << r.reason;
    EXPECT_EQ(r.server_url, slapd_->url());
    EXPECT_EQ(r.users.size(), 2u);
}

TEST_F(LdapImportTest, OverLdapsWithTheDirectorysTlsContext) {
    DirectorySettings s = settings();
    s.urls = {slapd_->ldaps_url()};
    s.ca_file = slapd_->ca_file();
    const ImportResult r = directory(s).import_users();
    ASSERT_TRUE(r.ok) << r.reason;
    EXPECT_EQ(r.users.size(), 2u);
    s.ca_file = slapd_->other_ca_file();  // a certificate that does not verify: no users
    EXPECT_IMPORT_FAILED(directory(s).import_users());
}

// ---------------------------------------------------------------------------------------------
// 10,000 users behind `sizelimit 500`: only the reader's paged searches get them all.

class LdapImportPagingTest : public testing::SlapdSuite<LdapImportPagingTest> {
public:
    static std::string start(Slapd& slapd) {
        const auto started = Clock::now();
        const std::string ldif = ::testing::TempDir() + "/sso-import-bulk-" + std::to_string(getpid()) + ".ldif";
        if (testing::run(
                {"/usr/bin/python3", SSO_TEST_DATA "/ldap/generate_users.py", "--count", std::to_string(kBulkUsers),
                 "--groups", std::to_string(kBulkGroups), "--base", kBulk, "--output", ldif},
                "/dev/null") != 0) {
            return "generate_users.py failed";
        }
        testing::SlapdOptions options;
        options.preload = std::string(kBase) + testing::read_file(ldif);
        std::remove(ldif.c_str());
        options.max_size = 256 * 1024 * 1024;
        // Plain searches stop at 500 entries for everyone; a paged search's total is bounded by
        // size.prtotal, which is lifted for the reader only (anonymous keeps the default: the
        // hard limit, 500).
        options.database_config = "sizelimit " + std::to_string(kServerSizeLimit) + "\nlimits dn.exact=\"" + kReaderDn +
                                  "\" size.prtotal=unlimited";
        std::string error = slapd.start(options);
        std::printf("[ timing   ] generating and loading %zu users (slapadd) and starting slapd: %lld ms\n", kBulkUsers,
                    static_cast<long long>(std::chrono::duration_cast<milliseconds>(Clock::now() - started).count()));
        return error;
    }

protected:
    static DirectorySettings settings() { return base_settings(*slapd_, kBulk); }
};

// A search of the bulk users without paging, as the reader: the server's result code and how many
// entries came.
std::pair<int, std::size_t> plain_search(const Slapd& slapd) {
    LDAP* raw = nullptr;
    if (ldap_initialize(&raw, slapd.url().c_str()) != LDAP_SUCCESS) return {-1, 0};
    int version = LDAP_VERSION3;
    ldap_set_option(raw, LDAP_OPT_PROTOCOL_VERSION, &version);
    berval cred{};
    cred.bv_val = const_cast<char*>(kReaderPassword);
    cred.bv_len = sizeof kReaderPassword - 1;
    int rc = ldap_sasl_bind_s(raw, kReaderDn, LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
    std::size_t count = 0;
    if (rc == LDAP_SUCCESS) {
        LDAPMessage* res = nullptr;
        char mail[] = "mail";
        char* attrs[] = {mail, nullptr};
        rc = ldap_search_ext_s(raw, kBulk, LDAP_SCOPE_SUBTREE, "(mail=*)", attrs, 0, nullptr, nullptr, nullptr,
                               LDAP_NO_LIMIT, &res);
        count = static_cast<std::size_t>(std::max(ldap_count_entries(raw, res), 0));
        if (res) ldap_msgfree(res);
    }
    ldap_unbind_ext_s(raw, nullptr, nullptr);
    return {rc, count};
}

TEST_F(LdapImportPagingTest, TenThousandUsersThroughPaging) {
    // Without paging the server stops at its size limit.
    const auto [plain_rc, plain_count] = plain_search(*slapd_);
    EXPECT_EQ(plain_rc, LDAP_SIZELIMIT_EXCEEDED);
    EXPECT_EQ(plain_count, kServerSizeLimit);

    DirectorySettings s = settings();
    s.group_base = std::string("ou=groups,") + kBulk;  // user i is in group (i % 5)
    const Directory d = directory(s);
    const auto started = Clock::now();
    const ImportResult r = d.import_users();
    const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - started).count();
    std::printf("[ timing   ] import of %zu users in %zu pages with group search: %lld ms\n", r.users.size(), r.pages,
                static_cast<long long>(took));
    ASSERT_TRUE(r.ok) << r.reason;
    EXPECT_EQ(r.users.size(), kBulkUsers);
    EXPECT_EQ(r.skipped, 0u);
    // 10,000 / 500 pages of users, one page of groups.
    EXPECT_EQ(r.pages, kBulkUsers / 500 + 1);
    std::vector<bool> seen(kBulkUsers, false);
    for (const DirectoryUser& u : r.users) {
        ASSERT_EQ(u.user.rfind("user", 0), 0u) << u.user;
        const std::size_t i = std::stoul(u.user.substr(4));
        ASSERT_LT(i, kBulkUsers);
        EXPECT_FALSE(seen[i]) << u.user << " twice";
        seen[i] = true;
        EXPECT_EQ(u.email, u.user + "@example.test");
        EXPECT_EQ(u.dn, "uid=" + u.user + ",ou=people," + kBulk);
        char group[16];
        std::snprintf(group, sizeof group, "group%02zu", i % kBulkGroups);
        EXPECT_EQ(u.groups, (std::vector<std::string>{group})) << u.user;
    }
    EXPECT_EQ(std::count(seen.begin(), seen.end(), true), static_cast<long>(kBulkUsers));
}

TEST_F(LdapImportPagingTest, ServerSizeLimitOnPagedSearchFails) {
    // Anonymous paged searches keep the default total (the hard limit, 500): the server cuts the
    // search short, and the import keeps nothing rather than 500 users.
    DirectorySettings s = settings();
    s.bind_dn.clear();
    s.bind_password.clear();
    const ImportResult r = directory(s).import_users();
    EXPECT_IMPORT_FAILED(r);
    EXPECT_NE(r.reason.find("Size limit exceeded"), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find("user search (mail=*) under \"ou=bulk,dc=example,dc=test\" page"), std::string::npos)
        << r.reason;
    EXPECT_GE(r.pages, 1u);
}

// Bytes this process has read (sockets included), from /proc/self/io; -1 when unreadable.
long long bytes_read() {
    std::ifstream io("/proc/self/io");
    std::string key;
    long long value = -1;
    while (io >> key >> value) {
        if (key == "rchar:") return value;
    }
    return -1;
}

TEST_F(LdapImportPagingTest, ServerStoppedMidImportFailsWithNothing) {
    DirectorySettings s = settings();
    s.import_page_size = 10;  // 1000 pages: the import is still running when slapd stops
    s.operation_timeout_ms = 1000;
    const Directory d = directory(s);
    ASSERT_GE(bytes_read(), 0) << "/proc/self/io is not readable";
    const long long before = bytes_read();
    ImportResult r;
    std::atomic<bool> done{false};
    std::thread importer([&] {
        r = d.import_users();
        done = true;
    });
    // Stop slapd once several pages (~2 KB each) have come in.
    const auto deadline = Clock::now() + milliseconds(30000);
    while (!done && bytes_read() - before < 20000 && Clock::now() < deadline) {
        std::this_thread::sleep_for(milliseconds(1));  // poll interval
    }
    bool paused = false;
    if (!done) {
        slapd_->pause();
        paused = true;
    }
    {
        const Resume resume{*slapd_};
        importer.join();
    }
    ASSERT_TRUE(paused) << "the import finished before slapd could be stopped: " << r.reason;
    EXPECT_IMPORT_FAILED(r);
    EXPECT_GT(r.pages, 2u) << r.reason;  // it did stop mid-import
    EXPECT_NE(r.reason.find("failed: Timed out"), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find("user search (mail=*) under \"ou=bulk,dc=example,dc=test\" page "), std::string::npos)
        << r.reason;
    EXPECT_NE(r.reason.find(slapd_->url()), std::string::npos) << r.reason;

    // The server is back: a new import gets everything.
    s.import_page_size = 500;
    const ImportResult again = directory(s).import_users();
    ASSERT_TRUE(again.ok) << again.reason;
    EXPECT_EQ(again.users.size(), kBulkUsers);
}

}  // namespace
}  // namespace sso::ldap
