#include "identity/users_file.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace sso {
namespace {

// echo -n "scan robot secret" | argon2 saltsalt1 -id -m 13 -t 1 -p 1 -e
constexpr const char* kScanbotHash =
    "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHQx$ss3G4Sgm+zNj9TqnKSmyYoivWnAQtLihNKAij/33wRI";
// python3 -c 'from passlib.hash import pbkdf2_sha256; print(pbkdf2_sha256.using(rounds=10000).hash("carol pw"))'
constexpr const char* kCarolHash =
    "$pbkdf2-sha256$10000$i1FKidE6R0gJYaw1hjDm3A$9La2/tZDEeQ/5BMXF7mrV02tIfvIBuGLzBOsj9Lri2o";

// The parsed file (by value: callers bind temporaries), or an empty one after a test failure.
UsersFile ok(std::variant<UsersFile, UsersFileError> r) {
    if (const auto* e = std::get_if<UsersFileError>(&r)) {
        ADD_FAILURE() << "line " << e->line << ": " << e->message;
        return std::get<UsersFile>(UsersFile::parse(""));
    }
    return std::move(std::get<UsersFile>(r));
}

TEST(UsersFile, GoodFile) {
    const std::string text = std::string("# internal accounts\n") +                                       // 1
                             "\n" +                                                                       // 2
                             "scan-robot@example.org user=scanbot name=\"Scan Robot\" groups=devices " +  // 3
                             "password=" + kScanbotHash + "\n" +                                          //
                             "   # indented comment\n" +                                                  // 4
                             "Carol@Example.ORG\tname=\"Carol \\\"CJ\\\" Internal \\\\ Print\" " +        // 5
                             "groups=staff,print-admins attr.department=Print attr.room=\"B 12\" " +      //
                             "attr.department=Scan password=" + kCarolHash + "\r\n" +                     //
                             " \t \n" +                                                                   // 6
                             "dave@example.org\n";  // 7 (no final newline)
    const auto r = UsersFile::parse(text);
    const auto& f = ok(r);
    ASSERT_EQ(f.users().size(), 3u);

    const auto& scan = f.users()[0];
    EXPECT_EQ(scan.line, 3u);
    EXPECT_EQ(scan.email, "scan-robot@example.org");
    EXPECT_EQ(scan.user, "scanbot");
    EXPECT_EQ(scan.display_name, "Scan Robot");
    EXPECT_EQ(scan.groups, std::vector<std::string>{"devices"});
    EXPECT_TRUE(scan.attributes.empty());
    ASSERT_TRUE(scan.password);
    EXPECT_EQ(scan.password->scheme(), "argon2id");
    EXPECT_TRUE(scan.password->verify("scan robot secret"));
    EXPECT_FALSE(scan.password->verify("carol pw"));

    const auto& carol = f.users()[1];
    EXPECT_EQ(carol.line, 5u);
    EXPECT_EQ(carol.email, "carol@example.org");
    EXPECT_EQ(carol.user, "carol@example.org");  // default: the normalised e-mail
    EXPECT_EQ(carol.display_name, "Carol \"CJ\" Internal \\ Print");
    EXPECT_EQ(carol.groups, (std::vector<std::string>{"staff", "print-admins"}));
    ASSERT_EQ(carol.attributes.size(), 2u);
    EXPECT_EQ(carol.attributes[0], (Attribute{"department", {"Print", "Scan"}}));
    EXPECT_EQ(carol.attributes[1], (Attribute{"room", {"B 12"}}));
    ASSERT_TRUE(carol.password);
    EXPECT_EQ(carol.password->scheme(), "pbkdf2-sha256");
    EXPECT_TRUE(carol.password->verify("carol pw"));

    const auto& dave = f.users()[2];
    EXPECT_EQ(dave.line, 7u);
    EXPECT_EQ(dave.user, "dave@example.org");
    EXPECT_TRUE(dave.display_name.empty());
    EXPECT_TRUE(dave.groups.empty());
    EXPECT_FALSE(dave.password);  // no form/Basic login
}

TEST(UsersFile, EmptyAndCommentOnlyFiles) {
    for (const char* text : {"", "\n\n", "# nothing here\n  # nor here\n", "\xEF\xBB\xBF# BOM\n"}) {
        EXPECT_TRUE(ok(UsersFile::parse(text)).users().empty()) << text;
    }
    // A BOM before the first account is not part of its e-mail.
    const auto& f =
        ok(UsersFile::parse("\xEF\xBB\xBF"
                            "a@example.org\n"));
    ASSERT_EQ(f.users().size(), 1u);
    EXPECT_EQ(f.users()[0].email, "a@example.org");
}

TEST(UsersFile, Lookups) {
    const auto r = UsersFile::parse(
        "Alice@Example.org name=Alice\n"
        "scan-robot@example.org user=scanbot\n"
        "bob@example.org user=Robert.Smith@Example.ORG\n"
        "eve@example.org user=\"Eve Admin\"\n");
    const auto& f = ok(r);
    ASSERT_EQ(f.users().size(), 4u);
    const auto* alice = &f.users()[0];
    const auto* scan = &f.users()[1];
    const auto* bob = &f.users()[2];
    const auto* eve = &f.users()[3];

    EXPECT_EQ(f.by_email("alice@example.org"), alice);
    EXPECT_EQ(f.by_email("Alice@Example.org"), nullptr);  // by_email takes the normalised key
    EXPECT_EQ(f.by_email("scan-robot@example.org"), scan);
    EXPECT_EQ(f.by_email("scanbot"), nullptr);
    EXPECT_EQ(f.by_email("robert.smith@example.org"), nullptr);  // a user name, not an e-mail
    EXPECT_EQ(f.by_email("nobody@example.org"), nullptr);
    EXPECT_EQ(f.by_email(""), nullptr);

    EXPECT_EQ(f.by_login("alice@example.org"), alice);
    EXPECT_EQ(f.by_login("ALICE@example.ORG"), alice);      // the e-mail after normalising
    EXPECT_EQ(f.by_login(" alice@example.org "), alice);    // normalize_email trims
    EXPECT_EQ(f.by_login("scanbot"), scan);                 // user= exactly
    EXPECT_EQ(f.by_login("ScanBot"), nullptr);              // ... and only exactly
    EXPECT_EQ(f.by_login("scan-robot@example.org"), scan);  // the e-mail still works
    EXPECT_EQ(f.by_login("Robert.Smith@Example.ORG"), bob);
    EXPECT_EQ(f.by_login("robert.smith@example.org"), nullptr);  // user= is matched as written
    EXPECT_EQ(f.by_login("bob@example.org"), bob);
    EXPECT_EQ(f.by_login("Eve Admin"), eve);
    EXPECT_EQ(f.by_login("eve admin"), nullptr);
    EXPECT_EQ(f.by_login("alice"), nullptr);
    EXPECT_EQ(f.by_login(""), nullptr);
    EXPECT_EQ(f.by_login("nobody@example.org"), nullptr);
}

TEST(UsersFile, LookupsSurviveCopyAndMove) {
    auto r = UsersFile::parse("a@example.org user=aa\nb@example.org user=bb\n");
    ASSERT_TRUE(std::holds_alternative<UsersFile>(r));
    const UsersFile copy = std::get<UsersFile>(r);
    const UsersFile moved = std::move(std::get<UsersFile>(r));
    for (const UsersFile* f : {&copy, &moved}) {
        ASSERT_EQ(f->users().size(), 2u);
        EXPECT_EQ(f->by_login("bb"), &f->users()[1]);
        EXPECT_EQ(f->by_email("a@example.org"), &f->users()[0]);
    }
}

struct Bad {
    std::string text;
    std::size_t line;
    std::string message;  // a part of it
};

void expect_refusals(const std::vector<Bad>& cases) {
    for (const auto& c : cases) {
        const auto r = UsersFile::parse(c.text);
        const auto* e = std::get_if<UsersFileError>(&r);
        ASSERT_NE(e, nullptr) << c.text;
        EXPECT_EQ(e->line, c.line) << c.text << "\n  message: " << e->message;
        EXPECT_NE(e->message.find(c.message), std::string::npos)
            << c.text << "\n  message: " << e->message << "\n  expected: " << c.message;
    }
}

TEST(UsersFile, DuplicatesAfterNormalisation) {
    expect_refusals({
        {"alice@example.org\n# x\nAlice@Example.org\n", 3, "duplicate e-mail \"alice@example.org\", also (line 1)"},
        {"alice@example.org\nalice@EXAMPLE.ORG name=A\n", 2, "duplicate e-mail \"alice@example.org\", also (line 1)"},
        {"a@example.org user=ops\n\nb@example.org user=ops\n", 3, "duplicate user name \"ops\", also (line 1)"},
        // user= names that are e-mails compare normalised.
        {"a@example.org user=Ops@Example.org\nb@example.org user=ops@example.ORG\n", 2,
         "duplicate user name \"ops@example.ORG\", also (line 1)"},
        // A user= naming another account's e-mail, in either order.
        {"alice@example.org\nbob@example.org user=alice@example.org\n", 2,
         "user name \"alice@example.org\" is the e-mail of the account (line 1)"},
        {"alice@example.org\nbob@example.org user=ALICE@example.org\n", 2,
         "user name \"ALICE@example.org\" is the e-mail of the account (line 1)"},
        {"bob@example.org user=Alice@Example.org\nalice@example.org\n", 2,
         "e-mail \"alice@example.org\" is the user name of the account (line 1)"},
    });
    // An account may name its own e-mail as user=, in any case.
    const auto& f = ok(UsersFile::parse("alice@example.org user=Alice@Example.org\n"));
    ASSERT_EQ(f.users().size(), 1u);
    EXPECT_EQ(f.by_login("Alice@Example.org"), &f.users()[0]);
    EXPECT_EQ(f.by_login("alice@example.org"), &f.users()[0]);
    // User names are case-sensitive unless they are e-mails.
    EXPECT_EQ(ok(UsersFile::parse("a@example.org user=ops\nb@example.org user=Ops\n")).users().size(), 2u);
}

TEST(UsersFile, LineErrors) {
    const std::string good = "ok@example.org\n";
    expect_refusals({
        {good + "not-an-email name=x\n", 2, "bad e-mail address \"not-an-email\""},
        {good + "name=\"Alice\"\n", 2, "bad e-mail address \"name=\"Alice\"\""},
        {good + "a@b@example.org\n", 2, "bad e-mail address"},
        {good + "a@example.org. \n", 2, "bad e-mail address"},
        {good + "a@example.org mail=a@example.org\n", 2, "unknown field \"mail\""},
        {good + "a@example.org Name=A\n", 2, "unknown field \"Name\""},
        {good + "a@example.org attr=x\n", 2, "unknown field \"attr\""},
        {good + "a@example.org attr.=x\n", 2, "bad attribute name \"\""},
        {good + "a@example.org attr.a/b=x\n", 2, "bad attribute name \"a/b\""},
        {good + "a@example.org name=A name=B\n", 2, "duplicated field \"name\""},
        {good + "a@example.org user=a user=b\n", 2, "duplicated field \"user\""},
        {good + "a@example.org groups=x groups=y\n", 2, "duplicated field \"groups\""},
        {good + "a@example.org password=" + kCarolHash + " password=" + kCarolHash + "\n", 2,
         "duplicated field \"password\""},
        {good + "a@example.org name\n", 2, "field \"name\" has no '='"},
        {good + "a@example.org name=A # comment\n", 2, "field \"#\" has no '='"},
        {good + "a@example.org =A\n", 2, "a field has no name before '='"},
        {good + "a@example.org name=\"Alice\n", 2, "unterminated quote in the value of \"name\""},
        {good + "a@example.org name=\"Alice\\\"\n", 2, "unterminated quote"},
        {good + "a@example.org name=\"Alice\\", 2, "unterminated quote"},
        {good + "a@example.org name=\"A\\nB\"\n", 2, "unknown escape '\\n' in the value of \"name\""},
        {good + "a@example.org name=\"A\"B\n", 2, "text right after the closing quote of \"name\""},
        {good + "a@example.org name=Al\"ice\"\n", 2, "a '\"' inside the bare value of \"name\""},
        {good + "a@example.org name=\"A\tB\"\n", 2, "a tab in the value of \"name\""},
        {good + "a@example.org name=\n", 2, "empty value for \"name\""},
        {good + "a@example.org name=\"\"\n", 2, "empty value for \"name\""},
        {good + "a@example.org groups=a,,b\n", 2, "empty group name in groups \"a,,b\""},
        {good + "a@example.org groups=a,\n", 2, "empty group name"},
        {good + "a@example.org groups=,a\n", 2, "empty group name"},
        {good + "a@example.org groups=a,b,a\n", 2, "group \"a\" listed twice"},
        {good + "a@example.org user=dom:alice\n", 2, "user name \"dom:alice\" contains ':'"},
        {good + "a@example.org password=secret\n", 2, "password: the password hash does not start with"},
        {good + "a@example.org password=$argon2i$v=19$m=8192,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$"
                "atFaGvu4dNuM7C9N9EuvCtEFXI5I3wLw+TCnrHvRVVk\n",
         2, "password: argon2i hashes are not accepted, only argon2id"},
        {good + "a@example.org password=$pbkdf2-sha256$1000$ZizF2HsvJWRsTSlFSEkJYQ$"
                "PNTzLtyNU0ww3nbT.5vdnRMXuWlRVFfkM1WlSCU3fe4\n",
         2, "password: pbkdf2-sha256 rounds 1000 is outside 10000..10000000"},
        // Control characters, anywhere on the line, even in a comment.
        {good + "a@example.org name=A\x01\n", 2, "control character 0x01 at column 21"},
        {good + "a@example.org name=\"A\x7f\"\n", 2, "control character 0x7F at column 22"},
        {good + "# a comment with a NUL" + std::string(1, '\0') + "\n", 2, "control character 0x00 at column 23"},
        {good + "a@example.org\rname=A\n", 2, "control character 0x0D at column 14"},
        {good + "a@example.org name=A\x1b[31m\n", 2, "control character 0x1B"},
        // Sizes.
        {good + "a@example.org name=" + std::string(kMaxUsersFileValue + 1, 'x') + "\n", 2,
         "the value of \"name\" is longer than 4096 bytes"},
        {good + "a@example.org name=\"" + std::string(kMaxUsersFileValue + 1, 'x') + "\"\n", 2,
         "the value of \"name\" is longer than 4096 bytes"},
        {good + "a@example.org name=\"" + std::string(kMaxUsersFileValue + 10, 'x'), 2,
         "the value of \"name\" is longer than 4096 bytes"},
        {good + "a@example.org" + std::string(kMaxUsersFileLine, ' ') + "\n", 2, "line longer than 16384 bytes"},
    });
}

TEST(UsersFile, ValuesAtTheLimitsAreAccepted) {
    std::string groups, attrs;
    for (std::size_t i = 0; i < kMaxUsersFileGroups; ++i) groups += (i ? ",g" : "g") + std::to_string(i);
    for (std::size_t i = 0; i < kMaxUsersFileAttributeValues; ++i) attrs += " attr.x=" + std::to_string(i);
    const std::string text =
        "a@example.org name=" + std::string(kMaxUsersFileValue, 'n') + " groups=" + groups + attrs + "\n";
    ASSERT_LE(text.size(), kMaxUsersFileLine + 1);
    const auto& f = ok(UsersFile::parse(text));
    ASSERT_EQ(f.users().size(), 1u);
    EXPECT_EQ(f.users()[0].display_name.size(), kMaxUsersFileValue);
    EXPECT_EQ(f.users()[0].groups.size(), kMaxUsersFileGroups);
    ASSERT_EQ(f.users()[0].attributes.size(), 1u);
    EXPECT_EQ(f.users()[0].attributes[0].values.size(), kMaxUsersFileAttributeValues);

    expect_refusals({
        {"a@example.org groups=" + groups + ",one-more\n", 1, "more than 256 groups"},
        {"a@example.org" + attrs + " attr.x=one-more\n", 1, "more than 256 values of attribute \"x\""},
    });
    std::string names;
    for (std::size_t i = 0; i <= kMaxUsersFileAttributes; ++i) names += " attr.a" + std::to_string(i) + "=v";
    expect_refusals({{"a@example.org" + names + "\n", 1, "more than 256 attributes"}});
}

TEST(UsersFile, MessagesQuoteLongValuesShortly) {
    const std::string key(1000, 'k');
    const auto r = UsersFile::parse("a@example.org " + key + "=v\n");
    const auto* e = std::get_if<UsersFileError>(&r);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->message, "unknown field \"" + std::string(64, 'k') + "...\"");
}

TEST(UsersFile, WholeFileTooLarge) {
    const std::string text(kMaxUsersFileBytes + 1, '\n');
    const auto r = UsersFile::parse(text);
    const auto* e = std::get_if<UsersFileError>(&r);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->line, 0u);
    EXPECT_NE(e->message.find("larger than 16777216 bytes"), std::string::npos) << e->message;
}

class UsersFileLoad : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/sso-users-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override {
        for (const auto& p : created_) std::remove(p.c_str());
        ::rmdir(dir_.c_str());
    }
    std::string write(const std::string& name, const std::string& content) {
        const auto path = dir_ + "/" + name;
        std::ofstream(path, std::ios::binary) << content;
        created_.push_back(path);
        return path;
    }
    std::string dir_;
    std::vector<std::string> created_;
};

TEST_F(UsersFileLoad, ReadsAFile) {
    const auto path = write("users", std::string("carol@example.org password=") + kCarolHash + "\n");
    const auto r = UsersFile::load(path);
    const auto& f = ok(r);
    ASSERT_EQ(f.users().size(), 1u);
    ASSERT_TRUE(f.by_login("carol@example.org"));
    EXPECT_TRUE(f.by_login("carol@example.org")->password->verify("carol pw"));
}

TEST_F(UsersFileLoad, ErrorsOfTheFileAndItsLines) {
    const auto missing = UsersFile::load(dir_ + "/absent");
    ASSERT_TRUE(std::holds_alternative<UsersFileError>(missing));
    EXPECT_EQ(std::get<UsersFileError>(missing).line, 0u);
    EXPECT_EQ(std::get<UsersFileError>(missing).message,
              "cannot open \"" + dir_ + "/absent\": No such file or directory");

    const auto directory = UsersFile::load(dir_);
    ASSERT_TRUE(std::holds_alternative<UsersFileError>(directory));
    EXPECT_EQ(std::get<UsersFileError>(directory).line, 0u);
    EXPECT_EQ(std::get<UsersFileError>(directory).message, "\"" + dir_ + "\" is not a regular file");

    // A FIFO with no writer: refused at once, not waited on.
    const auto fifo = dir_ + "/fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    created_.push_back(fifo);
    const auto pipe = UsersFile::load(fifo);
    ASSERT_TRUE(std::holds_alternative<UsersFileError>(pipe));
    EXPECT_EQ(std::get<UsersFileError>(pipe).message, "\"" + fifo + "\" is not a regular file");

    const auto big = write("big", std::string(kMaxUsersFileBytes + 1, '#'));
    const auto large = UsersFile::load(big);
    ASSERT_TRUE(std::holds_alternative<UsersFileError>(large));
    EXPECT_EQ(std::get<UsersFileError>(large).line, 0u);
    EXPECT_NE(std::get<UsersFileError>(large).message.find("is larger than 16777216 bytes"), std::string::npos);

    const auto bad = write("bad", "a@example.org\n\n# c\nb@example.org colour=red\n");
    const auto line = UsersFile::load(bad);
    ASSERT_TRUE(std::holds_alternative<UsersFileError>(line));
    EXPECT_EQ(std::get<UsersFileError>(line).line, 4u);
    EXPECT_EQ(std::get<UsersFileError>(line).message, "unknown field \"colour\"");
}

}  // namespace
}  // namespace sso
