// settings_error() and Directory::authenticate() against a real slapd started from a temp dir.
#include "ldap/directory.hpp"
#include "t/support/slapd.hpp"
#include "t/support/slapd_suite.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ldap.h>

namespace sso::ldap {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

using testing::bound_socket;
using testing::closed_port;
using testing::read_file;
using testing::Resume;
using testing::Slapd;
using testing::url_for;
using testing::write_file;
constexpr const char* kSuffix = testing::kSlapdSuffix;
constexpr char kReaderDn[] = "cn=reader,dc=example,dc=test";
constexpr char kReaderPassword[] = "reader-secret";
constexpr char kAlicePassword[] = "alice-pw";

// ---------------------------------------------------------------------------------------------
// Test servers that misbehave

// Listens but never answers: connections complete in the kernel's backlog, so a client that
// connects hangs until its own timeout, and the test can count the connections made.
class SilentListener {
public:
    SilentListener() {
        fd_ = bound_socket(port_);
        if (fd_ >= 0 && listen(fd_, 16) != 0) {
            close(fd_);
            fd_ = -1;
        }
        if (fd_ >= 0) fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
    }
    ~SilentListener() {
        for (const int c : accepted_) close(c);
        if (fd_ >= 0) close(fd_);
    }
    bool ok() const { return fd_ >= 0; }
    std::string url() const { return url_for(port_); }
    // Connections made since the last call.
    int take_connections() {
        int n = 0;
        for (;;) {
            const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) return n;
            accepted_.push_back(c);
            ++n;
        }
    }

private:
    int fd_ = -1;
    int port_ = 0;
    std::vector<int> accepted_;
};

// Answers the first request on each connection with the first bytes of an LDAP message and
// then goes silent, keeping the connection open: a read for the rest has nothing to wait for.
class HalfAnswerServer {
public:
    HalfAnswerServer() {
        fd_ = bound_socket(port_);
        if (fd_ >= 0 && listen(fd_, 16) != 0) {
            close(fd_);
            fd_ = -1;
        }
        if (fd_ >= 0) thread_ = std::thread([this] { serve(); });
    }
    ~HalfAnswerServer() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        if (fd_ >= 0) close(fd_);
    }
    bool ok() const { return fd_ >= 0; }
    std::string url() const { return url_for(port_); }

private:
    void serve() {
        std::vector<int> clients;
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 20) <= 0) continue;
            const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            clients.push_back(c);
            char buf[4096];
            pollfd q{c, POLLIN, 0};
            if (poll(&q, 1, 2000) > 0 && read(c, buf, sizeof buf) > 0) {
                // SEQUENCE with a 4-byte length, then nothing.
                const unsigned char partial[] = {0x30, 0x84, 0x00};
                if (write(c, partial, sizeof partial) < 0) continue;
            }
        }
        for (const int c : clients) close(c);
    }

    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// slapd

constexpr char kEntries[] = R"(dn: dc=example,dc=test
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,dc=example,dc=test
objectClass: organizationalUnit
ou: people

dn: ou=contractors,dc=example,dc=test
objectClass: organizationalUnit
ou: contractors

dn: ou=groups,dc=example,dc=test
objectClass: organizationalUnit
ou: groups

dn: cn=reader,dc=example,dc=test
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: reader-secret

dn: uid=alice,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.test
businessCategory: cn=Ops\, Team,ou=groups,dc=example,dc=test
businessCategory: plain-group
userPassword: alice-pw

dn: uid=bob,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: bob
cn: Bob Builder
sn: Builder
userPassword: bob-pw

dn: uid=eve(x)*,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: eve(x)*
cn: Eve
sn: Odd
userPassword: eve-pw

dn: uid=carol,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: carol
cn: Carol One
sn: One
userPassword: carol-pw

dn: uid=carol,ou=contractors,dc=example,dc=test
objectClass: inetOrgPerson
uid: carol
cn: Carol Two
sn: Two
userPassword: carol-pw

dn: cn=staff,ou=groups,dc=example,dc=test
objectClass: groupOfNames
cn: staff
member: uid=alice,ou=people,dc=example,dc=test
member: uid=bob,ou=people,dc=example,dc=test

dn: cn=admins,ou=groups,dc=example,dc=test
objectClass: groupOfNames
cn: admins
member: uid=alice,ou=people,dc=example,dc=test

dn: cn=odd,ou=groups,dc=example,dc=test
objectClass: groupOfNames
cn: odd
member: uid=eve(x)*,ou=people,dc=example,dc=test
)";

// ---------------------------------------------------------------------------------------------
// Helpers for results

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

// Neither password may ever reach a log line.
void expect_no_secrets(const AuthResult& r, std::initializer_list<std::string_view> secrets) {
    for (const auto secret : secrets) {
        EXPECT_EQ(r.reason.find(secret), std::string::npos) << "reason leaks a password: " << r.reason;
    }
}

const char* name_of(AuthFailure f) {
    switch (f) {
        case AuthFailure::invalid_credentials:
            return "invalid_credentials";
        case AuthFailure::ambiguous_user:
            return "ambiguous_user";
        case AuthFailure::unavailable:
            return "unavailable";
        case AuthFailure::timeout:
            return "timeout";
        case AuthFailure::internal:
            return "internal";
    }
    return "?";
}

#define EXPECT_FAILURE(result, expected)                                   \
    do {                                                                   \
        const AuthResult& r_ = (result);                                   \
        EXPECT_FALSE(r_.user.has_value()) << r_.reason;                    \
        EXPECT_STREQ(name_of(r_.failure), name_of(expected)) << r_.reason; \
        EXPECT_FALSE(r_.reason.empty());                                   \
    } while (0)

// ---------------------------------------------------------------------------------------------
// settings_error

DirectorySettings good_settings() {
    DirectorySettings s;
    s.name = "corp";
    s.urls = {"ldap://127.0.0.1:389/", "ldaps://ldap2.example.test:636/"};
    s.bind_dn = kReaderDn;
    s.bind_password = "s3rvice-pw";
    s.base_dn = kSuffix;
    s.group_base = "ou=groups,dc=example,dc=test";
    return s;
}

TEST(LdapSettings, GoodSettingsPass) {
    EXPECT_EQ(settings_error(good_settings()), std::nullopt);

    DirectorySettings anonymous = good_settings();
    anonymous.bind_dn.clear();
    anonymous.bind_password.clear();
    anonymous.group_base.clear();
    anonymous.urls = {"ldap://dc1.example.test"};
    anonymous.starttls = true;
    anonymous.scope = Scope::one;
    anonymous.user_filter = "(&(objectClass=user)(sAMAccountName=%u))";
    anonymous.user_attribute = "sAMAccountName";
    anonymous.email_attribute.clear();
    anonymous.group_attribute.clear();
    EXPECT_EQ(settings_error(anonymous), std::nullopt);

    DirectorySettings with_ca = good_settings();
    with_ca.ca_file = std::string(kSystemCaFile);
    with_ca.verify_cert = false;
    with_ca.name_attribute = "2.5.4.3";
    with_ca.group_filter = "(|(member=%D)(memberUid=%u))";
    EXPECT_EQ(settings_error(with_ca), std::nullopt);
}

TEST(LdapSettings, EveryRefusalNamesItsSetting) {
    const std::string not_pem = ::testing::TempDir() + "/sso-ldap-not-a-ca.txt";
    write_file(not_pem, "just text\n");

    struct Case {
        const char* setting;
        void (*change)(DirectorySettings&, const std::string&);
    };
    const Case cases[] = {
        {"url", [](DirectorySettings& s, const std::string&) { s.urls.clear(); }},
        {"url \"http://x/\"", [](DirectorySettings& s, const std::string&) { s.urls = {"http://x/"}; }},
        {"url \"ldapi:///\"", [](DirectorySettings& s, const std::string&) { s.urls = {"ldapi:///"}; }},
        {"url", [](DirectorySettings& s, const std::string&) { s.urls = {"ldap://a ldap://b"}; }},
        {"url", [](DirectorySettings& s, const std::string&) { s.urls = {"ldap://a,ldap://b"}; }},
        {"url", [](DirectorySettings& s, const std::string&) { s.urls = {"ldap://h/dc=example,dc=test?uid?sub"}; }},
        {"url", [](DirectorySettings& s, const std::string&) { s.urls = {"ldap:///"}; }},
        {"url", [](DirectorySettings& s, const std::string&) { s.urls = {"ldap://h:99999/"}; }},
        {"url", [](DirectorySettings& s, const std::string&) { s.urls = {"not a url"}; }},
        {"url", [](DirectorySettings& s, const std::string&) { s.urls = {""}; }},
        {"url \"ldaps://ldap2.example.test:636/\"",
         [](DirectorySettings& s, const std::string&) { s.starttls = true; }},
        {"connect_timeout", [](DirectorySettings& s, const std::string&) { s.connect_timeout_ms = 0; }},
        {"operation_timeout", [](DirectorySettings& s, const std::string&) { s.operation_timeout_ms = -1; }},
        {"ca_file \"/nonexistent/ca.pem\"",
         [](DirectorySettings& s, const std::string&) { s.ca_file = "/nonexistent/ca.pem"; }},
        {"ca_file", [](DirectorySettings& s, const std::string& pem) { s.ca_file = pem; }},
        {"bind_dn", [](DirectorySettings& s, const std::string&) { s.bind_dn = "not a dn"; }},
        {"bind_password", [](DirectorySettings& s, const std::string&) { s.bind_password.clear(); }},
        {"bind_password", [](DirectorySettings& s, const std::string&) { s.bind_dn.clear(); }},
        {"base_dn", [](DirectorySettings& s, const std::string&) { s.base_dn.clear(); }},
        {"base_dn", [](DirectorySettings& s, const std::string&) { s.base_dn = "example.test"; }},
        {"scope", [](DirectorySettings& s, const std::string&) { s.scope = static_cast<Scope>(7); }},
        {"user_filter", [](DirectorySettings& s, const std::string&) { s.user_filter = "(uid=%x)"; }},
        {"user_filter", [](DirectorySettings& s, const std::string&) { s.user_filter = "(uid=%u"; }},
        {"user_filter", [](DirectorySettings& s, const std::string&) { s.user_filter = "(uid=alice)"; }},
        {"user_filter", [](DirectorySettings& s, const std::string&) { s.user_filter = "(&(uid=%u)(member=%D))"; }},
        {"user_filter", [](DirectorySettings& s, const std::string&) { s.user_filter = "(%u=x)"; }},
        {"user_attribute", [](DirectorySettings& s, const std::string&) { s.user_attribute = "a b"; }},
        {"email_attribute", [](DirectorySettings& s, const std::string&) { s.email_attribute = "mail)("; }},
        {"name_attribute", [](DirectorySettings& s, const std::string&) { s.name_attribute = "cn=x"; }},
        {"group_attribute", [](DirectorySettings& s, const std::string&) { s.group_attribute = "*"; }},
        {"group_base", [](DirectorySettings& s, const std::string&) { s.group_base = "groups"; }},
        {"group_filter", [](DirectorySettings& s, const std::string&) { s.group_filter = "(member=%x)"; }},
        {"group_filter",
         [](DirectorySettings& s, const std::string&) { s.group_filter = "(objectClass=groupOfNames)"; }},
        {"group_name_attribute", [](DirectorySettings& s, const std::string&) { s.group_name_attribute.clear(); }},
    };
    for (const auto& c : cases) {
        DirectorySettings s = good_settings();
        c.change(s, not_pem);
        const auto error = settings_error(s);
        ASSERT_TRUE(error.has_value()) << c.setting;
        EXPECT_EQ(error->rfind(c.setting, 0), 0u) << "expected \"" << c.setting << "...\", got: " << *error;
        EXPECT_EQ(error->find("s3rvice-pw"), std::string::npos) << *error;
    }
    std::filesystem::remove(not_pem);
}

TEST(LdapSettings, MessagesAreReadable) {
    DirectorySettings s = good_settings();
    s.urls = {"http://x/"};
    EXPECT_EQ(settings_error(s), "url \"http://x/\": not an ldap:// or ldaps:// URL");
    s = good_settings();
    s.base_dn = "example.test";
    EXPECT_EQ(settings_error(s), "base_dn \"example.test\": not a DN");
    s = good_settings();
    s.ca_file = "/nonexistent/ca.pem";
    const auto error = settings_error(s);
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->rfind("ca_file \"/nonexistent/ca.pem\": cannot read", 0), 0u) << *error;
    // Group settings are not checked when groups come from the user entry.
    s = good_settings();
    s.group_base.clear();
    s.group_filter = "(broken";
    EXPECT_EQ(settings_error(s), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// authenticate without a server

TEST(LdapDirectory, RefusedCredentialsNeverTouchTheNetwork) {
    SilentListener listener;
    ASSERT_TRUE(listener.ok());
    DirectorySettings s = good_settings();
    s.urls = {listener.url()};
    s.operation_timeout_ms = 2000;
    const Directory directory(s);
    const std::string long_name(kMaxUserNameLength + 1, 'a');
    const std::string long_password(kMaxPasswordLength + 1, 'p');
    const std::pair<std::string, std::string> refused[] = {
        {"alice", ""},
        {"", "secret"},
        {long_name, "secret"},
        {std::string("ali\0ce", 6), "secret"},
        {"alice", long_password},
    };
    for (const auto& [user, password] : refused) {
        const auto started = Clock::now();
        const AuthResult r = directory.authenticate(user, password);
        EXPECT_LT(Clock::now() - started, milliseconds(200));
        EXPECT_FAILURE(r, AuthFailure::invalid_credentials);
        EXPECT_EQ(listener.take_connections(), 0) << "network I/O for user of " << user.size() << " bytes";
        expect_no_secrets(r, {"secret", long_password, "s3rvice-pw"});
    }
    // The longest accepted name does reach the server (here: connects, then times out quickly).
    s.operation_timeout_ms = 100;
    s.connect_timeout_ms = 100;
    const AuthResult r = Directory(s).authenticate(std::string(kMaxUserNameLength, 'a'), "secret");
    EXPECT_FAILURE(r, AuthFailure::timeout);
    EXPECT_EQ(listener.take_connections(), 1);
}

TEST(LdapDirectory, ServerThatStopsMidAnswerTimesOut) {
    // A reply that stops half-way ends in a timeout, not a hang.
    HalfAnswerServer server;
    ASSERT_TRUE(server.ok());
    DirectorySettings s = good_settings();
    s.urls = {server.url()};
    s.operation_timeout_ms = 300;
    const auto started = Clock::now();
    const AuthResult r = Directory(s).authenticate("alice", kAlicePassword);
    EXPECT_LT(Clock::now() - started, milliseconds(3000));
    EXPECT_FAILURE(r, AuthFailure::timeout);
}

TEST(LdapDirectory, AllServersDownIsUnavailable) {
    DirectorySettings s = good_settings();
    const std::string first = url_for(closed_port()), second = url_for(closed_port());
    s.urls = {first, second};
    const auto started = Clock::now();
    const AuthResult r = Directory(s).authenticate("alice", kAlicePassword);
    EXPECT_LT(Clock::now() - started, milliseconds(2000));
    EXPECT_FAILURE(r, AuthFailure::unavailable);
    EXPECT_NE(r.reason.find(first), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find(second), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find("Can't contact LDAP server"), std::string::npos) << r.reason;
    expect_no_secrets(r, {kAlicePassword, "s3rvice-pw"});
}

// ---------------------------------------------------------------------------------------------
// authenticate against slapd

class LdapDirectoryTest : public testing::SlapdSuite<LdapDirectoryTest> {
public:
    static std::string start(Slapd& slapd) {
        testing::SlapdOptions options;
        options.entries = kEntries;
        return slapd.start(options);
    }

protected:
    static DirectorySettings settings() {
        DirectorySettings s;
        s.name = "test";
        s.urls = {slapd_->url()};
        s.bind_dn = kReaderDn;
        s.bind_password = kReaderPassword;
        s.base_dn = kSuffix;
        s.user_filter = "(&(objectClass=inetOrgPerson)(uid=%u))";
        s.group_base = "ou=groups,dc=example,dc=test";
        s.connect_timeout_ms = 2000;
        s.operation_timeout_ms = 2000;
        return s;
    }

    static Directory directory(const DirectorySettings& s) {
        EXPECT_EQ(settings_error(s), std::nullopt);
        return Directory(s);
    }
};

TEST_F(LdapDirectoryTest, SuccessWithAttributesAndGroupSearch) {
    const AuthResult r = directory(settings()).authenticate("alice", kAlicePassword);
    ASSERT_TRUE(r.user.has_value()) << r.reason;
    EXPECT_EQ(r.user->dn, "uid=alice,ou=people,dc=example,dc=test");
    EXPECT_EQ(r.user->user, "alice");
    EXPECT_EQ(r.user->email, "alice@example.test");
    EXPECT_EQ(r.user->display_name, "Alice Liddell");
    EXPECT_EQ(sorted(r.user->groups), (std::vector<std::string>{"admins", "staff"}));
    EXPECT_EQ(r.user->server_url, slapd_->url());
    expect_no_secrets(r, {kAlicePassword, kReaderPassword});
}

TEST_F(LdapDirectoryTest, GroupsFromMemberOfOnTheUserEntry) {
    DirectorySettings s = settings();
    s.group_base.clear();  // group_attribute "memberOf" (the memberof overlay keeps it)
    const AuthResult r = directory(s).authenticate("alice", kAlicePassword);
    ASSERT_TRUE(r.user.has_value()) << r.reason;
    EXPECT_EQ(sorted(r.user->groups), (std::vector<std::string>{"admins", "staff"}));
}

TEST_F(LdapDirectoryTest, GroupAttributeDnValuesBecomeNamesOthersKept) {
    DirectorySettings s = settings();
    s.group_base.clear();
    s.group_attribute = "businessCategory";
    const AuthResult r = directory(s).authenticate("alice", kAlicePassword);
    ASSERT_TRUE(r.user.has_value()) << r.reason;
    // "cn=Ops\, Team,ou=groups,..." -> "Ops, Team" (first RDN, unescaped); "plain-group" as is.
    EXPECT_EQ(sorted(r.user->groups), (std::vector<std::string>{"Ops, Team", "plain-group"}));
}

TEST_F(LdapDirectoryTest, AnonymousSearchAndCanonicalUserName) {
    DirectorySettings s = settings();
    s.bind_dn.clear();
    s.bind_password.clear();
    const AuthResult r = directory(s).authenticate("BOB", "bob-pw");
    ASSERT_TRUE(r.user.has_value()) << r.reason;
    EXPECT_EQ(r.user->user, "bob");  // the directory's spelling, not the login's
    EXPECT_EQ(r.user->email, "");    // bob has no mail
    EXPECT_EQ(r.user->display_name, "Bob Builder");
    EXPECT_EQ(r.user->groups, (std::vector<std::string>{"staff"}));
}

TEST_F(LdapDirectoryTest, UserFallsBackToLoginNameWithoutUserAttribute) {
    DirectorySettings s = settings();
    s.user_attribute = "employeeNumber";  // nobody has one
    const AuthResult r = directory(s).authenticate("alice", kAlicePassword);
    ASSERT_TRUE(r.user.has_value()) << r.reason;
    EXPECT_EQ(r.user->user, "alice");
}

TEST_F(LdapDirectoryTest, WrongPassword) {
    const AuthResult r = directory(settings()).authenticate("alice", "not-alices-pw");
    EXPECT_FAILURE(r, AuthFailure::invalid_credentials);
    EXPECT_NE(r.reason.find("wrong password for \"uid=alice,ou=people,dc=example,dc=test\""), std::string::npos)
        << r.reason;
    expect_no_secrets(r, {"not-alices-pw", kAlicePassword, kReaderPassword});
}

TEST_F(LdapDirectoryTest, UnknownUserSameOutcomeAsWrongPassword) {
    const AuthResult r = directory(settings()).authenticate("mallory", "whatever-pw");
    EXPECT_FAILURE(r, AuthFailure::invalid_credentials);
    EXPECT_NE(r.reason.find("no entry matches"), std::string::npos) << r.reason;
    expect_no_secrets(r, {"whatever-pw", kReaderPassword});
}

TEST_F(LdapDirectoryTest, EmptyPasswordRefused) {
    const AuthResult r = directory(settings()).authenticate("alice", "");
    EXPECT_FAILURE(r, AuthFailure::invalid_credentials);
}

TEST_F(LdapDirectoryTest, InjectionAttemptsFindNobody) {
    const Directory d = directory(settings());
    for (const char* attack :
         {"*", "alice)(uid=*", "*)(uid=*))(|(uid=*", "alice)(|(uid=*)", "al*", "*)(objectClass=*"}) {
        const AuthResult r = d.authenticate(attack, kAlicePassword);
        EXPECT_FAILURE(r, AuthFailure::invalid_credentials);
        EXPECT_NE(r.reason.find("no entry matches"), std::string::npos) << attack << ": " << r.reason;
    }
}

TEST_F(LdapDirectoryTest, SpecialCharactersInNameAndDnAreEscaped) {
    // uid "eve(x)*": the user filter and the %D group filter both need escaping to match.
    const AuthResult r = directory(settings()).authenticate("eve(x)*", "eve-pw");
    ASSERT_TRUE(r.user.has_value()) << r.reason;
    EXPECT_EQ(r.user->dn, "uid=eve(x)*,ou=people,dc=example,dc=test");
    EXPECT_EQ(r.user->groups, (std::vector<std::string>{"odd"}));
}

TEST_F(LdapDirectoryTest, AmbiguousUser) {
    const AuthResult r = directory(settings()).authenticate("carol", "carol-pw");
    EXPECT_FAILURE(r, AuthFailure::ambiguous_user);
    expect_no_secrets(r, {"carol-pw", kReaderPassword});
}

TEST_F(LdapDirectoryTest, ServiceBindRefusedIsUnavailable) {
    DirectorySettings s = settings();
    s.bind_password = "wrong-service-pw";
    const AuthResult r = directory(s).authenticate("alice", kAlicePassword);
    EXPECT_FAILURE(r, AuthFailure::unavailable);
    EXPECT_NE(r.reason.find("service bind"), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find("Invalid credentials"), std::string::npos) << r.reason;
    expect_no_secrets(r, {"wrong-service-pw", kAlicePassword});
}

TEST_F(LdapDirectoryTest, FailoverToTheSecondUrl) {
    DirectorySettings s = settings();
    s.urls = {url_for(closed_port()), slapd_->url()};
    const AuthResult r = directory(s).authenticate("alice", kAlicePassword);
    ASSERT_TRUE(r.user.has_value()) << r.reason;
    EXPECT_EQ(r.user->server_url, slapd_->url());
}

TEST_F(LdapDirectoryTest, LaterCallsStartAtTheServerThatAnswered) {
    SilentListener hung;
    ASSERT_TRUE(hung.ok());
    DirectorySettings s = settings();
    s.urls = {hung.url(), slapd_->url()};
    s.operation_timeout_ms = 400;
    const Directory d = directory(s);
    const AuthResult first = d.authenticate("alice", kAlicePassword);
    ASSERT_TRUE(first.user.has_value()) << first.reason;
    EXPECT_EQ(hung.take_connections(), 1);
    for (int i = 0; i < 3; ++i) {
        const AuthResult again = d.authenticate("bob", "bob-pw");
        ASSERT_TRUE(again.user.has_value()) << again.reason;
    }
    EXPECT_EQ(hung.take_connections(), 0) << "the hung server was tried again";
}

TEST_F(LdapDirectoryTest, StoppedServerTimesOut) {
    DirectorySettings with_service = settings();
    with_service.operation_timeout_ms = 500;
    with_service.connect_timeout_ms = 500;
    DirectorySettings anonymous = with_service;  // the search is the first operation
    anonymous.bind_dn.clear();
    anonymous.bind_password.clear();
    DirectorySettings starttls = with_service;  // StartTLS is the first operation
    starttls.starttls = true;
    starttls.ca_file = slapd_->ca_file();

    slapd_->pause();
    const Resume resume{*slapd_};
    for (const auto* s : {&with_service, &anonymous, &starttls}) {
        const auto started = Clock::now();
        const AuthResult r = directory(*s).authenticate("alice", kAlicePassword);
        const auto took = Clock::now() - started;
        EXPECT_FAILURE(r, AuthFailure::timeout);
        EXPECT_LT(took, milliseconds(3000));
        EXPECT_GE(took, milliseconds(400));
        EXPECT_NE(r.reason.find(slapd_->url()), std::string::npos) << r.reason;
        expect_no_secrets(r, {kAlicePassword, kReaderPassword});
    }
}

TEST_F(LdapDirectoryTest, StoppedLdapsServerTimesOutInTheHandshake) {
    DirectorySettings s = settings();
    s.urls = {slapd_->ldaps_url()};
    s.ca_file = slapd_->ca_file();
    s.operation_timeout_ms = 500;
    s.connect_timeout_ms = 500;  // libldap bounds the TLS handshake by the connect timeout
    slapd_->pause();
    const Resume resume{*slapd_};
    const auto started = Clock::now();
    const AuthResult r = directory(s).authenticate("alice", kAlicePassword);
    EXPECT_FAILURE(r, AuthFailure::timeout);
    EXPECT_LT(Clock::now() - started, milliseconds(3000));
}

TEST_F(LdapDirectoryTest, ConcurrentLogins) {
    const Directory d = directory(settings());
    std::atomic<int> ok{0};
    std::vector<std::string> failures(8);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 5; ++i) {
                const bool alice = (t + i) % 2 == 0;
                const AuthResult r = d.authenticate(alice ? "alice" : "bob", alice ? kAlicePassword : "bob-pw");
                if (r.user && r.user->user == (alice ? "alice" : "bob")) {
                    ++ok;
                } else {
                    failures[t] = r.reason;
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 40);
    for (const auto& f : failures) EXPECT_EQ(f, "");
}

// ---------------------------------------------------------------------------------------------
// TLS: one context per Directory, verification on by default, no fallback to plain text

TEST_F(LdapDirectoryTest, LdapsWithCaFile) {
    DirectorySettings s = settings();
    s.urls = {slapd_->ldaps_url()};
    s.ca_file = slapd_->ca_file();
    const AuthResult r = directory(s).authenticate("alice", kAlicePassword);
    ASSERT_TRUE(r.user.has_value()) << r.reason;
    EXPECT_EQ(r.user->server_url, slapd_->ldaps_url());
}

TEST_F(LdapDirectoryTest, LdapsWithTheWrongCaIsUnavailable) {
    DirectorySettings s = settings();
    s.urls = {slapd_->ldaps_url()};
    s.ca_file = slapd_->other_ca_file();
    EXPECT_FAILURE(directory(s).authenticate("alice", kAlicePassword), AuthFailure::unavailable);
    // The system store does not know the test CA either.
    s.ca_file.clear();
    EXPECT_FAILURE(directory(s).authenticate("alice", kAlicePassword), AuthFailure::unavailable);
    // Unless the administrator turned verification off.
    s.ca_file = slapd_->other_ca_file();
    s.verify_cert = false;
    const AuthResult r = directory(s).authenticate("alice", kAlicePassword);
    EXPECT_TRUE(r.user.has_value()) << r.reason;
}

TEST_F(LdapDirectoryTest, StartTls) {
    DirectorySettings s = settings();
    s.starttls = true;
    s.ca_file = slapd_->ca_file();
    const AuthResult r = directory(s).authenticate("alice", kAlicePassword);
    ASSERT_TRUE(r.user.has_value()) << r.reason;

    // A certificate that does not verify: StartTLS fails and nothing goes out in plain text.
    s.ca_file = slapd_->other_ca_file();
    const AuthResult refused = directory(s).authenticate("alice", kAlicePassword);
    EXPECT_FAILURE(refused, AuthFailure::unavailable);
    EXPECT_NE(refused.reason.find("StartTLS"), std::string::npos) << refused.reason;
}

TEST_F(LdapDirectoryTest, TlsSettingsStayPerDirectory) {
    // Two directories with opposite TLS settings used side by side, from several threads: each
    // directory has its own context, so neither one's CA or verification leaks into the other.
    DirectorySettings good = settings();
    good.urls = {slapd_->ldaps_url()};
    good.ca_file = slapd_->ca_file();
    DirectorySettings bad = good;
    bad.ca_file = slapd_->other_ca_file();
    const Directory trusted = directory(good), untrusted = directory(bad);
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 3; ++i) {
                const bool use_trusted = (t + i) % 2 == 0;
                const AuthResult r = (use_trusted ? trusted : untrusted).authenticate("alice", kAlicePassword);
                if (r.user.has_value() != use_trusted) ++wrong;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(wrong.load(), 0);
}

// What a login costs in CPU with a large CA file: the system bundle (~140 certificates) plus
// the test CA, over ldaps://. Printed, not asserted (timings are not tested here); before the
// TLS context was built once per Directory, every login parsed the whole bundle again.
TEST_F(LdapDirectoryTest, LdapsCpuPerLoginWithTheSystemBundle) {
    const std::string bundle = read_file(std::string(kSystemCaFile));
    if (bundle.empty()) GTEST_SKIP() << kSystemCaFile << " is not readable";
    const std::string combined = slapd_->dir() + "/system-and-test-ca.pem";
    write_file(combined, bundle + "\n" + read_file(slapd_->ca_file()));
    DirectorySettings s = settings();
    s.urls = {slapd_->ldaps_url()};
    s.ca_file = combined;
    EXPECT_EQ(settings_error(s), std::nullopt);
    const auto cpu_ms = [] {
        timespec ts{};
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
    };
    const double building = cpu_ms();
    const Directory d(s);
    const double built = cpu_ms() - building;
    constexpr int kLogins = 50;
    const double started = cpu_ms();
    for (int i = 0; i < kLogins; ++i) {
        const AuthResult r = d.authenticate("alice", kAlicePassword);
        ASSERT_TRUE(r.user.has_value()) << r.reason;
    }
    const double per_login = (cpu_ms() - started) / kLogins;
    std::size_t certificates = 0;
    for (std::size_t at = 0; (at = bundle.find("-----BEGIN CERTIFICATE-----", at)) != std::string::npos; ++at) {
        ++certificates;
    }
    std::printf(
        "[ timing   ] ldaps with %zu+1 CA certificates: %.2f ms CPU per login (%d logins), %.2f ms to build "
        "the Directory\n",
        certificates, per_login, kLogins, built);
}

// The CA file is read when the Directory is built, not at each login: replacing it on disk
// changes nothing for that Directory (nginx reloads to pick it up), only for a new one.
TEST_F(LdapDirectoryTest, CaFileIsReadOnceWhenTheDirectoryIsBuilt) {
    const std::string ca = slapd_->dir() + "/replaced-ca.pem";
    write_file(ca, read_file(slapd_->ca_file()));
    DirectorySettings s = settings();
    s.urls = {slapd_->ldaps_url()};
    s.ca_file = ca;
    const Directory before = directory(s);
    write_file(ca, read_file(slapd_->other_ca_file()));
    for (int i = 0; i < 2; ++i) {
        const AuthResult r = before.authenticate("alice", kAlicePassword);
        EXPECT_TRUE(r.user.has_value()) << r.reason;
    }
    EXPECT_FAILURE(directory(s).authenticate("alice", kAlicePassword), AuthFailure::unavailable);
}

// Copies share one TLS context: the copy goes on working after the original is gone, and the
// context is released once, by the last of them (ASan and LeakSanitizer would tell).
TEST_F(LdapDirectoryTest, CopySharesTheTlsContextAndOutlivesTheOriginal) {
    DirectorySettings s = settings();
    s.starttls = true;
    s.ca_file = slapd_->ca_file();
    auto original = std::make_unique<Directory>(directory(s));
    const Directory copy(*original);
    ASSERT_TRUE(original->authenticate("alice", kAlicePassword).user.has_value());
    original.reset();
    const AuthResult r = copy.authenticate("alice", kAlicePassword);
    EXPECT_TRUE(r.user.has_value()) << r.reason;
}

// As in nginx: the Directory (and its TLS context) is built before the fork, logins happen in
// the child.
TEST_F(LdapDirectoryTest, TlsContextBuiltBeforeAForkWorksInTheChild) {
    DirectorySettings s = settings();
    s.urls = {slapd_->ldaps_url()};
    s.ca_file = slapd_->ca_file();
    const Directory d = directory(s);
    ASSERT_TRUE(d.authenticate("bob", "bob-pw").user.has_value());
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        const AuthResult r = d.authenticate("alice", kAlicePassword);
        _exit(r.user.has_value() && r.user->user == "alice" ? 0 : 1);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
    EXPECT_TRUE(d.authenticate("alice", kAlicePassword).user.has_value());
}

}  // namespace
}  // namespace sso::ldap
