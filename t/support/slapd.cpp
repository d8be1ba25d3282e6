#include "t/support/slapd.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <system_error>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ldap.h>

namespace sso::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kSlapd[] = "/usr/sbin/slapd";
constexpr char kSlapAdd[] = "/usr/sbin/slapadd";
constexpr char kLdapAdd[] = "/usr/bin/ldapadd";
constexpr char kLdapDelete[] = "/usr/bin/ldapdelete";
constexpr char kOpenSsl[] = "/usr/bin/openssl";

}  // namespace

pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid != 0) return pid;
    // Child: async-signal-safe calls only.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    execv(argv[0], argv.data());
    _exit(127);
}

int run(const std::vector<std::string>& args, const std::string& log) {
    const pid_t pid = spawn(args, log);
    if (pid < 0) return -1;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::filesystem::path& p, const std::string& content) {
    std::ofstream(p) << content;
}

int bound_socket(int& port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        close(fd);
        return -1;
    }
    port = ntohs(addr.sin_port);
    return fd;
}

int closed_port() {
    int port = 0;
    const int fd = bound_socket(port);
    if (fd >= 0) close(fd);
    return port;
}

std::string url_for(int port, const char* scheme) {
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(port) + "/";
}

std::string Slapd::start(const SlapdOptions& options) {
    char tmpl[] = "/tmp/sso-ldap-test-XXXXXX";
    if (!mkdtemp(tmpl)) return "mkdtemp failed";
    dir_ = tmpl;
    std::filesystem::create_directory(dir_ / "db");
    if (auto error = make_certificates(); !error.empty()) return error;

    port_ = closed_port();
    ldaps_port_ = closed_port();
    const std::string d = dir_.string();
    write_file(dir_ / "slapd.conf",
               "include /etc/ldap/schema/core.schema\n"
               "include /etc/ldap/schema/cosine.schema\n"
               "include /etc/ldap/schema/inetorgperson.schema\n"
               "include /etc/ldap/schema/nis.schema\n"
               "pidfile " +
                   d +
                   "/slapd.pid\n"
                   "argsfile " +
                   d +
                   "/slapd.args\n"
                   "modulepath /usr/lib/ldap\n"
                   "moduleload back_mdb\n"
                   "moduleload memberof\n"
                   "TLSCACertificateFile " +
                   d +
                   "/ca.pem\n"
                   "TLSCertificateFile " +
                   d +
                   "/server.pem\n"
                   "TLSCertificateKeyFile " +
                   d +
                   "/server.key\n"
                   "access to attrs=userPassword by self write by anonymous auth by * none\n"
                   "access to * by * read\n"
                   "database mdb\n"
                   "maxsize " +
                   std::to_string(options.max_size) +
                   "\n"
                   "suffix \"" +
                   kSlapdSuffix +
                   "\"\n"
                   "rootdn \"" +
                   kSlapdRootDn +
                   "\"\n"
                   "rootpw " +
                   kSlapdRootPassword +
                   "\n"
                   "directory " +
                   d + "/db\n" + options.database_config + (options.database_config.empty() ? "" : "\n") +
                   "overlay memberof\n");
    if (!options.preload.empty()) {
        write_file(dir_ / "preload.ldif", options.preload);
        // -q: no consistency checks (the LDIF is ours); much faster on big directories.
        if (run({kSlapAdd, "-q", "-f", d + "/slapd.conf", "-l", d + "/preload.ldif"}, log()) != 0) {
            return "slapadd failed\n" + read_file(log());
        }
    }
    pid_ = spawn({kSlapd, "-d", "0", "-f", d + "/slapd.conf", "-h", url() + " " + ldaps_url()}, log());
    if (pid_ < 0) return "fork failed";
    if (auto error = wait_until_ready(); !error.empty()) return error + "\n" + read_file(log());
    if (!options.entries.empty()) {
        if (auto error = add(options.entries); !error.empty()) return error;
    }
    return {};
}

std::string Slapd::add(const std::string& ldif) const {
    static std::atomic<int> serial{0};
    const std::string file = dir() + "/add-" + std::to_string(++serial) + ".ldif";
    write_file(file, ldif);
    if (run({kLdapAdd, "-x", "-H", url(), "-D", kSlapdRootDn, "-w", kSlapdRootPassword, "-f", file}, log()) != 0) {
        return "ldapadd failed\n" + read_file(log());
    }
    return {};
}

std::string Slapd::remove(const std::string& dn) const {
    if (run({kLdapDelete, "-x", "-H", url(), "-D", kSlapdRootDn, "-w", kSlapdRootPassword, dn}, log()) != 0) {
        return "ldapdelete failed\n" + read_file(log());
    }
    return {};
}

void Slapd::stop() {
    if (pid_ > 0) {
        kill(pid_, SIGCONT);
        kill(pid_, SIGTERM);
        const auto deadline = Clock::now() + milliseconds(3000);
        int status = 0;
        while (waitpid(pid_, &status, WNOHANG) == 0) {
            if (Clock::now() > deadline) {
                kill(pid_, SIGKILL);
                waitpid(pid_, &status, 0);
                break;
            }
            std::this_thread::sleep_for(milliseconds(5));
        }
        pid_ = -1;
    }
    if (!dir_.empty()) {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
        dir_.clear();
    }
}

void Slapd::pause() const {
    kill(pid_, SIGSTOP);
    int status = 0;
    while (waitpid(pid_, &status, WUNTRACED) == pid_ && !WIFSTOPPED(status)) {
    }
}

void Slapd::resume() const {
    kill(pid_, SIGCONT);
}

std::string Slapd::make_certificates() {
    const std::string d = dir_.string();
    write_file(dir_ / "server.ext",
               "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
    const auto ca = [&](const std::string& name) {
        return run({kOpenSsl,
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-nodes",
                    "-keyout",
                    d + "/" + name + ".key",
                    "-out",
                    d + "/" + name + ".pem",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=nginx-sso test " + name,
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign"},
                   log());
    };
    if (ca("ca") != 0 || ca("other-ca") != 0) return "openssl: CA certificates\n" + read_file(log());
    if (run({kOpenSsl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             d + "/server.key", "-out", d + "/server.csr", "-subj", "/CN=127.0.0.1"},
            log()) != 0 ||
        run({kOpenSsl, "x509", "-req", "-in", d + "/server.csr", "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key",
             "-set_serial", "2", "-days", "2", "-extfile", d + "/server.ext", "-out", d + "/server.pem"},
            log()) != 0) {
        return "openssl: server certificate\n" + read_file(log());
    }
    return {};
}

std::string Slapd::wait_until_ready() const {
    const auto deadline = Clock::now() + milliseconds(10000);
    while (Clock::now() < deadline) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) return "slapd exited during startup";
        LDAP* raw = nullptr;
        if (ldap_initialize(&raw, url().c_str()) == LDAP_SUCCESS) {
            int version = LDAP_VERSION3;
            ldap_set_option(raw, LDAP_OPT_PROTOCOL_VERSION, &version);
            timeval tv{1, 0};
            ldap_set_option(raw, LDAP_OPT_NETWORK_TIMEOUT, &tv);
            LDAPMessage* res = nullptr;
            char no_attributes[] = "1.1";
            char* attrs[] = {no_attributes, nullptr};
            const int rc = ldap_search_ext_s(raw, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, nullptr, nullptr,
                                             &tv, 1, &res);
            if (res) ldap_msgfree(res);
            ldap_unbind_ext_s(raw, nullptr, nullptr);
            if (rc == LDAP_SUCCESS) return {};
        }
        std::this_thread::sleep_for(milliseconds(10));  // poll interval
    }
    return "slapd did not answer within 10 s";
}

}  // namespace sso::testing
