// A real slapd for the LDAP unit tests: started from a temp dir on 127.0.0.1 (a plain port with
// StartTLS, and an ldaps port, with a test CA), its entries loaded, killed by PID at the end.
// Also the small process and socket helpers those tests share.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include <sys/types.h>

namespace sso::testing {

inline constexpr char kSlapdSuffix[] = "dc=example,dc=test";
inline constexpr char kSlapdRootDn[] = "cn=admin,dc=example,dc=test";
inline constexpr char kSlapdRootPassword[] = "admin-secret";

// fork + exec with stdout/stderr to `log`. The child dies with the test process (PDEATHSIG),
// so a crashed test leaves no slapd behind.
pid_t spawn(const std::vector<std::string>& args, const std::string& log);
// spawn() and wait: the exit status, or -1.
int run(const std::vector<std::string>& args, const std::string& log);
std::string read_file(const std::filesystem::path& p);
void write_file(const std::filesystem::path& p, const std::string& content);
// A listening-capable socket bound to 127.0.0.1 on a port the kernel picked (`port`), or -1.
int bound_socket(int& port);
// A port nothing listens on (the kernel picked it free; it is closed again at once).
int closed_port();
std::string url_for(int port, const char* scheme = "ldap");

struct SlapdOptions {
    // LDIF added with ldapadd (as the root DN) once slapd answers: overlays (memberof) see it.
    std::string entries;
    // LDIF loaded with slapadd before slapd starts: much faster for big directories, but no
    // overlay runs on it (no memberOf values).
    std::string preload;
    // Extra lines at the end of the mdb database section (sizelimit, limits, ...).
    std::string database_config;
    std::size_t max_size = 16 * 1024 * 1024;  // the mdb map size
};

// suffix dc=example,dc=test, root DN cn=admin,dc=example,dc=test (kSlapdRootPassword); the
// core, cosine, inetorgperson and nis schemas; the memberof overlay; userPassword readable by
// nobody, everything else by everyone.
class Slapd {
public:
    Slapd() = default;
    Slapd(const Slapd&) = delete;
    Slapd& operator=(const Slapd&) = delete;
    ~Slapd() { stop(); }

    // Empty on success, else what went wrong (with slapd's log).
    std::string start(const SlapdOptions& options);
    // Kills slapd by PID (SIGTERM, then SIGKILL after 3 s) and removes its directory.
    void stop();

    // kill() only queues SIGSTOP: waits until every slapd thread has actually stopped, or a
    // request sent right after could still be answered.
    void pause() const;
    void resume() const;

    // ldapadd / ldapdelete as the root DN: empty on success, else the tool's output.
    std::string add(const std::string& ldif) const;
    std::string remove(const std::string& dn) const;

    std::string url() const { return url_for(port_); }
    std::string ldaps_url() const { return url_for(ldaps_port_, "ldaps"); }
    std::string dir() const { return dir_.string(); }
    std::string ca_file() const { return (dir_ / "ca.pem").string(); }
    std::string other_ca_file() const { return (dir_ / "other-ca.pem").string(); }
    std::string log() const { return (dir_ / "log").string(); }

private:
    std::string make_certificates();
    // Polls (connect + a root DSE search) until slapd answers; no fixed sleeps.
    std::string wait_until_ready() const;

    std::filesystem::path dir_;
    pid_t pid_ = -1;
    int port_ = 0;
    int ldaps_port_ = 0;
};

// Resumes a SIGSTOPped slapd even when an assertion fails half-way.
struct Resume {
    const Slapd& slapd;
    ~Resume() { slapd.resume(); }
};

}  // namespace sso::testing
