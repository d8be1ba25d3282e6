#include "ldap/directory.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <mutex>
#include <new>
#include <set>
#include <system_error>
#include <utility>

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include "ldap/connection.hpp"
#include "ldap/filter.hpp"
#include "ldap/handles.hpp"

namespace sso::ldap {

// File-local helpers live in the unnamed namespace; the ones import.cpp shares (declared in
// ldap/connection.hpp) in detail.
namespace {

using namespace detail;

constexpr std::size_t kMaxLoggedBytes = 512;
constexpr std::size_t kMaxCaFileBytes = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Small helpers

constexpr char lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

namespace detail {

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

std::string printable(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(std::min(s.size(), kMaxLoggedBytes) + 8);
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (out.size() >= kMaxLoggedBytes) {
            out += "...";
            break;
        }
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 0x0f];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::string log_quoted(std::string_view s) {
    // Built by appending: `"\"" + std::string` trips a GCC 12 -Wrestrict false positive at -O2.
    std::string out = printable(s);
    out.insert(out.begin(), '"');
    out += '"';
    return out;
}

timeval to_timeval(int ms) noexcept {
    timeval tv{};
    tv.tv_sec = ms / 1000;
    tv.tv_usec = static_cast<suseconds_t>(ms % 1000) * 1000;
    return tv;
}

std::string log_prefix(const DirectorySettings& s) {
    return "ldap " + log_quoted(s.name) + ": ";
}

}  // namespace detail

namespace {

bool contains_nul(std::string_view s) noexcept {
    return s.find('\0') != std::string_view::npos;
}

bool is_dn(const std::string& s) noexcept {
    LDAPDN dn = nullptr;
    const int rc = ldap_str2dn(s.c_str(), &dn, LDAP_DN_FORMAT_LDAPV3);
    LdapDnPtr owner(dn);
    return rc == LDAP_SUCCESS;
}

// An attribute description as a search may request it: a name or numeric OID, with options.
bool is_attribute_name(std::string_view s) {
    if (s.empty()) return false;
    for (const char c : s) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '.' || c == ';';
        if (!ok) return false;
    }
    // Without '=' in the name the filter below parses it as exactly one attribute description.
    return !filter_syntax_error("(" + std::string(s) + "=*)");
}

}  // namespace

detail::Placeholders detail::placeholders_of(std::string_view tmpl) noexcept {
    Placeholders p;
    for (std::size_t i = 0; i + 1 < tmpl.size(); ++i) {
        if (tmpl[i] != '%') continue;
        if (tmpl[i + 1] == 'u') p.user = true;
        if (tmpl[i + 1] == 'D') p.dn = true;
        ++i;
    }
    return p;
}

namespace {

bool uses_tls(const DirectorySettings& s) {
    if (s.starttls) return true;
    return std::any_of(s.urls.begin(), s.urls.end(), [](const std::string& u) { return ldap_is_ldaps_url(u.c_str()); });
}

// The reason a CA file cannot serve as trust anchors, or nullopt.
std::optional<std::string> ca_file_problem(const std::string& path) {
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        const int err = errno;
        return "cannot read" + (err ? " (" + std::generic_category().message(err) + ")" : std::string());
    }
    std::string content;
    content.reserve(64 * 1024);
    char buf[16 * 1024];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        content.append(buf, static_cast<std::size_t>(in.gcount()));
        if (content.size() > kMaxCaFileBytes) return std::string("larger than 16 MB");
    }
    if (in.bad()) return std::string("cannot read");
    // GnuTLS only warns about a file without certificates, then trusts nothing.
    if (content.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
        return std::string("contains no PEM certificate");
    }
    return std::nullopt;
}

std::optional<std::string> url_problem(const std::string& url, bool starttls) {
    for (const char c : url) {
        const auto u = static_cast<unsigned char>(c);
        // ldap_initialize() would take a space- or comma-separated list as several servers.
        if (u <= 0x20 || u == 0x7f || c == ',') return std::string("must be a single URL without spaces or commas");
    }
    LDAPURLDesc* raw = nullptr;
    const int rc = ldap_url_parse(url.c_str(), &raw);
    LdapUrlPtr lud(raw);
    if (rc != LDAP_URL_SUCCESS || !lud || !lud->lud_scheme) return std::string("not an ldap:// or ldaps:// URL");
    const std::string_view scheme = lud->lud_scheme;
    if (!iequals(scheme, "ldap") && !iequals(scheme, "ldaps")) return std::string("not an ldap:// or ldaps:// URL");
    if (!lud->lud_host || !*lud->lud_host) return std::string("has no host");
    // ldap_url_parse() takes any integer ("ldap://h:99999/", "ldap://h:-1/").
    if (lud->lud_port < 1 || lud->lud_port > 65535) return std::string("port out of range");
    // Everything after the host[:port] is ignored by libldap's connection code; refuse it
    // rather than let an administrator believe a DN or filter in the URL is used.
    const std::size_t authority = url.find("://");
    const std::size_t path = url.find_first_of("/?", authority == std::string::npos ? 0 : authority + 3);
    if (path != std::string::npos && url.substr(path) != "/") {
        return std::string("must not carry a DN, attributes, scope or filter (use base_dn and user_filter)");
    }
    if (starttls && iequals(scheme, "ldaps")) return std::string("starttls cannot be combined with an ldaps:// URL");
    return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// libldap process-wide initialisation

// libldap reads ldap.conf and initialises GnuTLS on first use; its TLS initialisation counters
// (tls2.c, tls_init) are plain ints. Doing it once while nginx is still single-threaded (at
// configuration time) keeps thread-pool threads from racing on them.
void warm_up_libldap() noexcept {
    LDAP* raw = nullptr;
    if (ldap_initialize(&raw, "ldap://127.0.0.1/") != LDAP_SUCCESS) return;
    LdapPtr ld(raw);
    // No trust anchors: this context only exists to initialise the TLS library, cheaply.
    ldap_set_option(ld.get(), LDAP_OPT_X_TLS_CACERTFILE, "");
    ldap_set_option(ld.get(), LDAP_OPT_X_TLS_CACERTDIR, "");
    int is_server = 0;
    ldap_set_option(ld.get(), LDAP_OPT_X_TLS_NEWCTX, &is_server);
}

std::once_flag g_warm_up;

// ---------------------------------------------------------------------------------------------
// SIGPIPE: liblber writes with write(2), so a peer that closed the connection raises SIGPIPE in
// the calling thread. nginx ignores it (and blocks it in thread-pool threads), but a core that
// can kill its host process on a network error is a trap; block it for the call and swallow
// one raised meanwhile.

}  // namespace

namespace detail {

SigpipeBlock::SigpipeBlock() noexcept {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigemptyset(&old_);
    if (pthread_sigmask(SIG_BLOCK, &set, &old_) != 0) return;
    active_ = sigismember(&old_, SIGPIPE) != 1;
    if (active_) {
        sigset_t pending;
        sigemptyset(&pending);
        was_pending_ = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    }
}

SigpipeBlock::~SigpipeBlock() {
    if (!active_) return;
    if (!was_pending_) {
        sigset_t pending;
        sigemptyset(&pending);
        if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
            sigset_t set;
            sigemptyset(&set);
            sigaddset(&set, SIGPIPE);
            const timespec zero{};
            const int saved = errno;
            while (sigtimedwait(&set, nullptr, &zero) < 0 && errno == EINTR) {
            }
            errno = saved;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

}  // namespace detail

namespace {

// ---------------------------------------------------------------------------------------------
// Bounded socket waits
//
// libldap 2.5 (Debian 12: 2.5.13) does not bound the TLS handshake: with LDAP_OPT_NETWORK_TIMEOUT
// set it switches the socket to non-blocking for the handshake and then retries gnutls_handshake()
// on EAGAIN without ever polling (ldap_int_tls_start only polls for LDAP_OPT_CONNECT_ASYNC
// handles), so an ldaps:// server (or a StartTLS peer) that accepts the connection and then says
// nothing keeps the thread at 100% CPU forever. So every connection gets an I/O layer of ours,
// between TLS and TCP, that waits for the socket with poll(2) before each read and write and
// fails with ETIMEDOUT when nothing comes. Outside the handshake libldap polls before it reads
// (bounded by LDAP_OPT_TIMEOUT), so there the socket is ready and the extra poll returns at once.

// True when the socket is ready for `events` within the wait; false when the wait expired.
bool wait_for_socket(Sockbuf_IO_Desc* sbiod, short events) noexcept {
    auto* wait = static_cast<SocketWait*>(sbiod->sbiod_pvt);
    int fd = -1;
    if (ber_sockbuf_ctrl(sbiod->sbiod_sb, LBER_SB_OPT_GET_FD, &fd) != 1 || fd < 0) return true;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait->wait_ms);
    for (;;) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd p{fd, events, 0};
        const int rc = poll(&p, 1, static_cast<int>(std::max<std::chrono::milliseconds::rep>(left.count(), 0)));
        if (rc > 0) return true;  // ready, or an error/hang-up the read or write will report
        if (rc == 0) {
            wait->timed_out = true;
            return false;
        }
        if (errno != EINTR) return true;
    }
}

int wait_layer_setup(Sockbuf_IO_Desc* sbiod, void* arg) {
    sbiod->sbiod_pvt = arg;
    return 0;
}

int wait_layer_remove(Sockbuf_IO_Desc*) {
    return 0;
}

int wait_layer_ctrl(Sockbuf_IO_Desc* sbiod, int opt, void* arg) {
    return LBER_SBIOD_CTRL_NEXT(sbiod, opt, arg);
}

ber_slen_t wait_layer_read(Sockbuf_IO_Desc* sbiod, void* buf, ber_len_t len) {
    if (!sbiod->sbiod_next) {
        errno = EBADF;
        return -1;
    }
    // Data buffered below us (liblber's read-ahead) needs no wait.
    if (!LBER_SBIOD_CTRL_NEXT(sbiod, LBER_SB_OPT_DATA_READY, nullptr) && !wait_for_socket(sbiod, POLLIN)) {
        errno = ETIMEDOUT;  // not EAGAIN: GnuTLS and liblber must give up, not retry
        return -1;
    }
    return LBER_SBIOD_READ_NEXT(sbiod, buf, len);
}

ber_slen_t wait_layer_write(Sockbuf_IO_Desc* sbiod, void* buf, ber_len_t len) {
    if (!sbiod->sbiod_next) {
        errno = EBADF;
        return -1;
    }
    if (!wait_for_socket(sbiod, POLLOUT)) {
        errno = ETIMEDOUT;
        return -1;
    }
    return LBER_SBIOD_WRITE_NEXT(sbiod, buf, len);
}

Sockbuf_IO g_wait_layer = {&wait_layer_setup, &wait_layer_remove, &wait_layer_ctrl,
                           &wait_layer_read,  &wait_layer_write,  nullptr};

// Runs once the TCP connection is up, before any TLS: the TLS layer libldap adds later stacks
// on top of ours, the TCP layer below it.
int add_wait_layer(LDAP*, Sockbuf* sb, LDAPURLDesc*, sockaddr*, ldap_conncb* ctx) {
    return ber_sockbuf_add_io(sb, &g_wait_layer, LBER_SBIOD_LEVEL_TRANSPORT, ctx->lc_arg) == 0 ? 0 : -1;
}

void no_op_on_close(LDAP*, Sockbuf*, ldap_conncb*) {}

// ---------------------------------------------------------------------------------------------
// One login attempt against one server

using ServerOutcome = Outcome<AuthResult>;

ServerOutcome final_result(AuthFailure failure, std::string reason) {
    ServerOutcome o;
    o.result.failure = failure;
    o.result.reason = std::move(reason);
    return o;
}

}  // namespace

namespace detail {

// The server's diagnostic message for the last operation on `ld` (AD puts its "data 52e" style
// sub-codes there), printable, or "".
std::string diagnostic(LDAP* ld) {
    char* msg = nullptr;
    if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) != LDAP_OPT_SUCCESS) return {};
    LdapCharPtr owner(msg);
    if (!msg || !*msg) return {};
    return printable(msg);
}

std::string describe(LDAP* ld, int rc) {
    std::string out = ldap_err2string(rc);
    const std::string diag = diagnostic(ld);
    if (!diag.empty()) out += " (" + diag + ")";
    return out;
}

bool is_server_level(int rc) noexcept {
    return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT || rc == LDAP_UNAVAILABLE ||
           rc == LDAP_BUSY || rc == LDAP_LOCAL_ERROR;
}

int ldap_scope(Scope s) noexcept {
    switch (s) {
        case Scope::base:
            return LDAP_SCOPE_BASE;
        case Scope::one:
            return LDAP_SCOPE_ONELEVEL;
        case Scope::sub:
            break;
    }
    return LDAP_SCOPE_SUBTREE;
}

// A simple bind; libldap takes the credentials as a non-const berval but does not modify them.
int simple_bind(LDAP* ld, const std::string& dn, std::string_view password) noexcept {
    berval cred{};
    cred.bv_len = password.size();
    cred.bv_val = const_cast<char*>(password.data());
    return ldap_sasl_bind_s(ld, dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
}

std::optional<std::string> first_value(LDAP* ld, LDAPMessage* entry, const std::string& attribute) {
    if (attribute.empty()) return std::nullopt;
    BerValuesPtr values(ldap_get_values_len(ld, entry, attribute.c_str()));
    if (!values || !values.get()[0]) return std::nullopt;
    const berval* v = values.get()[0];
    return std::string(v->bv_val, v->bv_len);
}

std::string group_name_from_value(const berval& value) {
    const std::string raw(value.bv_val, value.bv_len);
    if (raw.empty() || contains_nul(raw)) return raw;
    LDAPDN dn = nullptr;
    const int rc = ldap_str2dn(raw.c_str(), &dn, LDAP_DN_FORMAT_LDAPV3);
    LdapDnPtr owner(dn);
    if (rc != LDAP_SUCCESS || !dn || !dn[0] || !dn[0][0]) return raw;
    const LDAPAVA* ava = dn[0][0];
    if ((ava->la_flags & LDAP_AVA_BINARY) != 0) return raw;  // "#04..." BER: keep the DN as is
    return std::string(ava->la_value.bv_val, ava->la_value.bv_len);
}

}  // namespace detail

namespace {

// ---------------------------------------------------------------------------------------------
// The TLS context
//
// Building one (LDAP_OPT_X_TLS_NEWCTX) parses the CA file into GnuTLS credentials: with Debian's
// bundle (~140 certificates) several milliseconds of CPU, once paid by every login. A Directory
// builds it once and hands it to each connection's handle with LDAP_OPT_X_TLS_CTX.
//
// How libldap 2.5 counts references (tls2.c ldap_pvt_tls_{get,set}_option, tls_g.c
// tlsg_ctx_{ref,free}; checked against 2.5.13 by experiment): NEWCTX gives the handle a new
// context with a count of 1; ldap_get_option(LDAP_OPT_X_TLS_CTX) returns the handle's context
// with +1 for the caller; ldap_set_option(LDAP_OPT_X_TLS_CTX) drops the handle's previous context
// and takes +1 on the new one; unbinding a handle drops its reference (ldap_int_tls_destroy).
// The count changes under the context's own mutex (ref_mutex), so handles in several threads
// may take and drop references at once; the GnuTLS credentials are only read once loaded, and
// GnuTLS lets concurrent sessions share them.

// What a Directory's connections share, or why it could not be built.
struct TlsContextBuild {
    std::shared_ptr<void> context;  // owns one reference (ldap_pvt_tls_ctx_free), or null
    bool internal = false;          // an option libldap refused: `what` names it
    std::string what;               // otherwise the TLS setup failure, for the log
};

// The same options the per-connection NEWCTX had, on a handle of its own made like a
// connection's (so it inherits the same ldap.conf defaults): the context keeps our reference
// when that handle goes.
TlsContextBuild build_tls_context(const DirectorySettings& s) {
    TlsContextBuild out;
    const auto refused = [&](const char* what) {
        out.internal = true;
        out.what = what;
        return std::move(out);
    };
    LDAP* raw = nullptr;
    const int rc = ldap_initialize(&raw, nullptr);
    LdapPtr ld(raw);
    if (rc == LDAP_NO_MEMORY) throw std::bad_alloc();
    if (rc != LDAP_SUCCESS || !ld) return refused("up a handle for the TLS context");
    // ca_file replaces whatever /etc/ldap/ldap.conf configured: the nginx configuration is the
    // one source of trust anchors. Without verification no CA file is read at all.
    const char* ca = !s.verify_cert ? "" : s.ca_file.empty() ? kSystemCaFile.data() : s.ca_file.c_str();
    if (ldap_set_option(ld.get(), LDAP_OPT_X_TLS_CACERTFILE, ca) != LDAP_OPT_SUCCESS) return refused("the CA file");
    if (ldap_set_option(ld.get(), LDAP_OPT_X_TLS_CACERTDIR, "") != LDAP_OPT_SUCCESS) {
        return refused("the CA directory");
    }
    // The context checks the peer's certificate chain with its own copy of this setting.
    int require = s.verify_cert ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER;
    if (ldap_set_option(ld.get(), LDAP_OPT_X_TLS_REQUIRE_CERT, &require) != LDAP_OPT_SUCCESS) {
        return refused("certificate checking");
    }
    int is_server = 0;
    if (ldap_set_option(ld.get(), LDAP_OPT_X_TLS_NEWCTX, &is_server) != LDAP_OPT_SUCCESS) {
        // Not an LDAP result code: only the diagnostic message (if any) says more.
        const std::string diag = diagnostic(ld.get());
        out.what = "TLS setup with CA file " + log_quoted(ca) + " failed" + (diag.empty() ? "" : ": " + diag);
        return out;
    }
    void* ctx = nullptr;
    if (ldap_get_option(ld.get(), LDAP_OPT_X_TLS_CTX, &ctx) != LDAP_OPT_SUCCESS || !ctx) {
        return refused("up the TLS context");
    }
    // Owned from here on (on bad_alloc the shared_ptr constructor releases it before throwing).
    out.context = std::shared_ptr<void>(ctx, TlsContextRelease{});
    return out;
}

// The Directory's context, built now if it has none yet. The build runs under the lock:
// threads that need it meanwhile wait for that one build instead of each parsing the CA file.
// A failed build is not remembered: the next login tries again (and says why, if it fails).
TlsContextBuild shared_tls_context(const DirectorySettings& s, const TlsSlot& slot) {
    const std::lock_guard lock(slot.mutex);
    if (slot.context) {
        TlsContextBuild out;
        out.context = slot.context;
        return out;
    }
    TlsContextBuild built = build_tls_context(s);
    if (built.context) slot.context = built.context;
    return built;
}

// ---------------------------------------------------------------------------------------------
// A connection ready for searches

}  // namespace

namespace detail {

std::optional<ConnectFailure> Connection::open(const std::string& url) {
    const auto server_level = [](int rc, std::string detail) {
        ConnectFailure f;
        f.rc = rc;
        f.detail = std::move(detail);
        return f;
    };
    on_connect_ = ldap_conncb{&add_wait_layer, &no_op_on_close, &wait_};
    LDAP* raw = nullptr;
    int rc = ldap_initialize(&raw, url.c_str());
    ld_.reset(raw);
    if (rc == LDAP_NO_MEMORY) throw std::bad_alloc();
    if (rc != LDAP_SUCCESS || !ld_) return server_level(rc, std::string("cannot initialise: ") + ldap_err2string(rc));
    if (ldap_set_option(ld_.get(), LDAP_OPT_CONNECT_CB, &on_connect_) != LDAP_OPT_SUCCESS) {
        ConnectFailure f;
        f.internal = true;
        f.detail = "cannot set the connect callback";
        return f;
    }
    if (auto problem = set_options(url)) return problem;

    LDAP* const ld = ld_.get();
    if (s_.starttls && !ldap_is_ldaps_url(url.c_str())) {
        // Required when configured: a failure moves on to the next server, never to plain text.
        rc = ldap_start_tls_s(ld, nullptr, nullptr);
        if (rc != LDAP_SUCCESS) return server_level(rc, "StartTLS failed: " + describe(ld, rc));
    }
    if (!s_.bind_dn.empty()) {
        rc = simple_bind(ld, s_.bind_dn, s_.bind_password);
        if (rc == LDAP_NO_MEMORY) throw std::bad_alloc();
        if (rc != LDAP_SUCCESS) {
            return server_level(rc, "service bind as " + log_quoted(s_.bind_dn) + " failed: " + describe(ld, rc));
        }
    }
    // Connected (and TLS established) by now, unless the first search is the first operation.
    if (s_.starttls || !s_.bind_dn.empty()) connected();
    return std::nullopt;
}

// Per-handle options only: the global (NULL-handle) options are shared by every thread.
std::optional<ConnectFailure> Connection::set_options(const std::string& url) {
    LDAP* const ld = ld_.get();
    const auto failed = [](const std::string& what) {
        ConnectFailure f;
        f.internal = true;
        f.detail = "cannot set " + what;
        return f;
    };
    int version = LDAP_VERSION3;
    if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS) {
        return failed("the protocol version");
    }
    // A referral would send the user's password to a server nobody configured.
    if (ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS) return failed("referrals off");
    const timeval connect = to_timeval(s_.connect_timeout_ms);
    if (ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &connect) != LDAP_OPT_SUCCESS) {
        return failed("the connect timeout");
    }
    // Bounds the synchronous calls (binds, StartTLS) that take no timeout argument.
    const timeval operation = to_timeval(s_.operation_timeout_ms);
    if (ldap_set_option(ld, LDAP_OPT_TIMEOUT, &operation) != LDAP_OPT_SUCCESS) {
        return failed("the operation timeout");
    }

    // ldap.conf may say otherwise; aliases are never followed to another entry.
    int deref = LDAP_DEREF_NEVER;
    if (ldap_set_option(ld, LDAP_OPT_DEREF, &deref) != LDAP_OPT_SUCCESS) return failed("alias dereferencing");

    if (!ldap_is_ldaps_url(url.c_str()) && !s_.starttls) return std::nullopt;
    // The context checks the certificate chain; the handle's own copy of this setting decides
    // whether the host name is checked too (ldap_pvt_tls_check_hostname).
    int require = s_.verify_cert ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER;
    if (ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &require) != LDAP_OPT_SUCCESS) {
        return failed("certificate checking");
    }
    const TlsContextBuild tls = shared_tls_context(s_, tls_);
    if (!tls.context) {
        if (tls.internal) return failed(tls.what);
        ConnectFailure f;
        f.rc = LDAP_LOCAL_ERROR;
        f.detail = tls.what;
        return f;
    }
    // The handle takes a reference of its own, which unbinding it gives back.
    if (ldap_set_option(ld, LDAP_OPT_X_TLS_CTX, tls.context.get()) != LDAP_OPT_SUCCESS) {
        return failed("the TLS context");
    }
    return std::nullopt;
}

}  // namespace detail

namespace {

// ---------------------------------------------------------------------------------------------
// The login

class Login {
public:
    Login(const DirectorySettings& s, const TlsSlot& tls, std::string_view user, std::string_view password,
          std::string filter)
        : s_(s), tls_(tls), user_(user), password_(password), filter_(std::move(filter)) {
        add_attribute(s_.user_attribute);
        add_attribute(s_.email_attribute);
        add_attribute(s_.name_attribute);
        if (s_.group_base.empty()) add_attribute(s_.group_attribute);
        // "1.1": no attributes, just the DN (RFC 4511 4.5.1.8).
        if (attributes_.empty()) attributes_.push_back(const_cast<char*>("1.1"));
        attributes_.push_back(nullptr);
    }

    ServerOutcome try_server(const std::string& url) const {
        return on_server<AuthResult>(
            s_, tls_, url, [&](Connection& connection) { return run(connection, url); },
            [](std::string reason) { return final_result(AuthFailure::internal, std::move(reason)); });
    }

    std::string prefix() const { return log_prefix(s_); }

private:
    // The steps of one login on a connection ready for the search.
    ServerOutcome run(Connection& connection, const std::string& url) const {
        LDAP* const ld = connection.get();
        timeval tv = to_timeval(s_.operation_timeout_ms);
        LDAPMessage* res = nullptr;
        // Size limit 2: one entry is the user, a second one is all it takes to be ambiguous.
        int rc = ldap_search_ext_s(ld, s_.base_dn.c_str(), ldap_scope(s_.scope), filter_.c_str(),
                                   const_cast<char**>(attributes_.data()), 0, nullptr, nullptr, &tv, 2, &res);
        LdapMessagePtr result(res);
        if (rc == LDAP_NO_MEMORY) throw std::bad_alloc();
        if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
            return server_failure<AuthResult>(
                rc, "user search " + filter_ + " under " + log_quoted(s_.base_dn) + " failed: " + describe(ld, rc));
        }

        connection.connected();
        // Entries only: search references (AD returns them for its partitions) are not users.
        std::size_t count = 0;
        for (LDAPMessage* e = ldap_first_entry(ld, res); e; e = ldap_next_entry(ld, e)) ++count;
        if (rc == LDAP_SIZELIMIT_EXCEEDED || count > 1) {
            return final_result(AuthFailure::ambiguous_user, prefix() + "user " + log_quoted(user_) +
                                                                 ": more than one entry matches " + filter_ +
                                                                 " under " + log_quoted(s_.base_dn) + " on " + url);
        }
        if (count == 0) {
            return final_result(AuthFailure::invalid_credentials, prefix() + "user " + log_quoted(user_) +
                                                                      ": no entry matches " + filter_ + " under " +
                                                                      log_quoted(s_.base_dn) + " on " + url);
        }

        LDAPMessage* entry = ldap_first_entry(ld, res);
        LdapCharPtr dn_chars(ldap_get_dn(ld, entry));
        if (!dn_chars) {
            return final_result(AuthFailure::internal, prefix() + "cannot read the DN of the entry found on " + url);
        }
        DirectoryUser found;
        found.dn = dn_chars.get();
        if (found.dn.empty()) {
            // A bind with an empty DN is anonymous, whatever the password: never a login.
            return final_result(AuthFailure::internal,
                                prefix() + "user " + log_quoted(user_) + ": the entry found has an empty DN on " + url);
        }
        found.user = first_value(ld, entry, s_.user_attribute).value_or(std::string(user_));
        found.email = first_value(ld, entry, s_.email_attribute).value_or(std::string());
        found.display_name = first_value(ld, entry, s_.name_attribute).value_or(std::string());

        GroupList groups;
        if (s_.group_base.empty()) {
            if (!s_.group_attribute.empty()) {
                BerValuesPtr values(ldap_get_values_len(ld, entry, s_.group_attribute.c_str()));
                for (berval** v = values.get(); v && *v; ++v) groups.add(group_name_from_value(**v));
            }
        } else {
            // As the service account (or anonymously), before the connection is bound as the user.
            auto problem = search_groups(ld, found, groups);
            if (problem) return std::move(*problem);
        }

        rc = simple_bind(ld, found.dn, password_);
        if (rc == LDAP_NO_MEMORY) throw std::bad_alloc();
        if (rc == LDAP_INVALID_CREDENTIALS) {
            std::string reason = prefix() + "wrong password for " + log_quoted(found.dn) + " on " + url;
            const std::string diag = diagnostic(ld);
            if (!diag.empty()) reason += " (" + diag + ")";
            return final_result(AuthFailure::invalid_credentials, std::move(reason));
        }
        if (is_server_level(rc)) {
            return server_failure<AuthResult>(rc, "bind as " + log_quoted(found.dn) + " failed: " + describe(ld, rc));
        }
        if (rc != LDAP_SUCCESS) {
            // Locked, expired, unwilling to perform, ...: an answer about this user. Fail closed.
            return final_result(AuthFailure::invalid_credentials, prefix() + "bind as " + log_quoted(found.dn) +
                                                                      " refused on " + url + ": " + describe(ld, rc));
        }

        found.groups = groups.take();
        found.server_url = url;
        ServerOutcome ok;
        ok.result.reason =
            prefix() + "user " + log_quoted(user_) + " authenticated as " + log_quoted(found.dn) + " on " + url;
        ok.result.user = std::move(found);
        return ok;
    }

    void add_attribute(const std::string& name) {
        if (name.empty()) return;
        for (const char* a : attributes_) {
            if (iequals(a, name)) return;
        }
        attributes_.push_back(const_cast<char*>(name.c_str()));
    }

    // %u is the directory's spelling of the name (memberUid values are case-sensitive).
    std::optional<ServerOutcome> search_groups(LDAP* ld, const DirectoryUser& user, GroupList& groups) const {
        auto filter = expand_filter(s_.group_filter, user.user, user.dn);
        if (!filter) return final_result(AuthFailure::internal, prefix() + "group_filter cannot be expanded");
        if (auto error = filter_syntax_error(*filter)) {
            return final_result(AuthFailure::internal,
                                prefix() + "group_filter expands to an invalid filter: " + *error);
        }
        char* attributes[] = {const_cast<char*>(s_.group_name_attribute.c_str()), nullptr};
        timeval tv = to_timeval(s_.operation_timeout_ms);
        LDAPMessage* res = nullptr;
        const int rc = ldap_search_ext_s(ld, s_.group_base.c_str(), LDAP_SCOPE_SUBTREE, filter->c_str(), attributes, 0,
                                         nullptr, nullptr, &tv, LDAP_NO_LIMIT, &res);
        LdapMessagePtr result(res);
        if (rc == LDAP_NO_MEMORY) throw std::bad_alloc();
        // A server-side size limit leaves a partial list: fewer groups can only deny, never grant.
        if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
            return server_failure<AuthResult>(
                rc, "group search " + *filter + " under " + log_quoted(s_.group_base) + " failed: " + describe(ld, rc));
        }
        for (LDAPMessage* e = ldap_first_entry(ld, res); e; e = ldap_next_entry(ld, e)) {
            if (auto name = first_value(ld, e, s_.group_name_attribute)) {
                groups.add(std::move(*name));
                continue;
            }
            // No name attribute: the group's own RDN value names it.
            LdapCharPtr group_dn(ldap_get_dn(ld, e));
            if (!group_dn) continue;
            berval bv{};
            bv.bv_val = group_dn.get();
            bv.bv_len = std::char_traits<char>::length(group_dn.get());
            groups.add(group_name_from_value(bv));
        }
        return std::nullopt;
    }

    const DirectorySettings& s_;
    const TlsSlot& tls_;
    std::string_view user_, password_;
    std::string filter_;
    std::vector<char*> attributes_;
};

AuthResult refuse(const std::string& prefix, AuthFailure failure, std::string why) {
    AuthResult r;
    r.failure = failure;
    r.reason = prefix + why;
    return r;
}

AuthResult authenticate_impl(const DirectorySettings& s, std::atomic<std::size_t>& preferred, const TlsSlot& tls,
                             std::string_view user, std::string_view password) {
    const std::string prefix = log_prefix(s);
    // All before any network I/O. A simple bind with a DN and an empty password is an
    // "unauthenticated bind" that many servers accept as anonymous: never a login.
    if (user.empty()) return refuse(prefix, AuthFailure::invalid_credentials, "empty user name refused");
    if (user.size() > kMaxUserNameLength) {
        return refuse(prefix, AuthFailure::invalid_credentials,
                      "user name longer than " + std::to_string(kMaxUserNameLength) + " bytes refused");
    }
    if (contains_nul(user)) {
        return refuse(prefix, AuthFailure::invalid_credentials, "user name with a NUL byte refused");
    }
    if (password.empty()) {
        return refuse(prefix, AuthFailure::invalid_credentials,
                      "empty password for user " + log_quoted(user) + " refused");
    }
    if (password.size() > kMaxPasswordLength) {
        return refuse(prefix, AuthFailure::invalid_credentials,
                      "password of user " + log_quoted(user) + " longer than " + std::to_string(kMaxPasswordLength) +
                          " bytes refused");
    }
    if (s.urls.empty()) return refuse(prefix, AuthFailure::internal, "no url configured");

    auto filter = expand_filter(s.user_filter, user, {});
    if (!filter) return refuse(prefix, AuthFailure::internal, "user_filter cannot be expanded");
    if (auto error = filter_syntax_error(*filter)) {
        return refuse(prefix, AuthFailure::internal,
                      "user_filter expands to an invalid filter for user " + log_quoted(user) + ": " + *error);
    }

    const SigpipeBlock no_sigpipe;
    const Login login(s, tls, user, password, std::move(*filter));
    std::string failures;
    bool last_timed_out = false;
    auto answer = first_answer<AuthResult>(
        s.urls, preferred, [&](const std::string& url) { return login.try_server(url); }, failures, last_timed_out);
    if (answer) return std::move(*answer);
    const std::size_t n = s.urls.size();
    return refuse(prefix, last_timed_out ? AuthFailure::timeout : AuthFailure::unavailable,
                  (n == 1 ? "server unavailable for user " : "no server available for user ") + log_quoted(user) +
                      ": " + failures);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::optional<std::string> settings_error(const DirectorySettings& s) noexcept {
    try {
        const auto named = [](std::string_view setting, std::string_view value, std::string_view what) {
            return std::string(setting) + " " + log_quoted(value) + ": " + std::string(what);
        };
        if (s.urls.empty()) return std::string("url: none configured");
        for (const std::string& url : s.urls) {
            if (auto problem = url_problem(url, s.starttls)) return named("url", url, *problem);
        }
        if (s.connect_timeout_ms <= 0) return std::string("connect_timeout: must be positive");
        if (s.operation_timeout_ms <= 0) return std::string("operation_timeout: must be positive");

        if (contains_nul(s.ca_file)) return std::string("ca_file: contains a NUL byte");
        if (!s.ca_file.empty()) {
            if (auto problem = ca_file_problem(s.ca_file)) return named("ca_file", s.ca_file, *problem);
        } else if (uses_tls(s) && s.verify_cert) {
            if (ca_file_problem(std::string(kSystemCaFile))) {
                return "ca_file: not set, and the system CA bundle " + log_quoted(kSystemCaFile) + " cannot be used";
            }
        }

        if (!s.bind_dn.empty()) {
            if (contains_nul(s.bind_dn) || !is_dn(s.bind_dn)) return named("bind_dn", s.bind_dn, "not a DN");
            if (s.bind_password.empty()) {
                return std::string(
                    "bind_password: empty (a bind with a DN and no password is anonymous; leave bind_dn empty for an "
                    "anonymous search)");
            }
        } else if (!s.bind_password.empty()) {
            return std::string("bind_password: set without a bind_dn");
        }

        if (s.base_dn.empty()) return std::string("base_dn: empty");
        if (contains_nul(s.base_dn) || !is_dn(s.base_dn)) return named("base_dn", s.base_dn, "not a DN");
        if (s.scope != Scope::base && s.scope != Scope::one && s.scope != Scope::sub) {
            return std::string("scope: must be base, one or sub");
        }

        if (auto error = template_error(s.user_filter)) return "user_filter: " + *error;
        const Placeholders in_user_filter = placeholders_of(s.user_filter);
        if (!in_user_filter.user) return std::string("user_filter: has no %u (every login would find the same entry)");
        if (in_user_filter.dn) return std::string("user_filter: %D is not known before the user's entry is found");

        const std::pair<const char*, const std::string*> attributes[] = {
            {"user_attribute", &s.user_attribute},
            {"email_attribute", &s.email_attribute},
            {"name_attribute", &s.name_attribute},
            {"group_attribute", &s.group_attribute},
        };
        for (const auto& [setting, value] : attributes) {
            if (!value->empty() && !is_attribute_name(*value)) return named(setting, *value, "not an attribute name");
        }

        if (!s.group_base.empty()) {
            if (contains_nul(s.group_base) || !is_dn(s.group_base)) {
                return named("group_base", s.group_base, "not a DN");
            }
            if (auto error = template_error(s.group_filter)) return "group_filter: " + *error;
            const Placeholders in_group_filter = placeholders_of(s.group_filter);
            if (!in_group_filter.user && !in_group_filter.dn) {
                return std::string("group_filter: has neither %D nor %u (every user would get the same groups)");
            }
            if (!is_attribute_name(s.group_name_attribute)) {
                return named("group_name_attribute", s.group_name_attribute, "not an attribute name");
            }
        }
        if (!is_attribute_name(s.group_member_attribute)) {
            return named("group_member_attribute", s.group_member_attribute, "not an attribute name");
        }

        if (!s.import_filter.empty()) {
            if (contains_nul(s.import_filter)) return std::string("import_filter: contains a NUL byte");
            if (auto error = filter_syntax_error(s.import_filter)) return "import_filter: " + *error;
        }
        if (s.import_page_size < 1 || s.import_page_size > kMaxImportPageSize) {
            return "import_page_size: must be between 1 and " + std::to_string(kMaxImportPageSize);
        }
        if (s.import_max_users < 1) return std::string("import_max_users: must be at least 1");
        return std::nullopt;
    } catch (const std::bad_alloc&) {
        return std::string("out of memory");
    }
}

Directory::Directory(DirectorySettings s) : settings_(std::move(s)) {
    std::call_once(g_warm_up, warm_up_libldap);
    // nginx builds Directories while loading its configuration, single-threaded, and forks its
    // workers afterwards: each inherits the context (memory only: GnuTLS credentials hold no
    // descriptor, lock or thread). A failure is left to the first login that needs TLS.
    if (!uses_tls(settings_)) return;
    try {
        tls_context_ = build_tls_context(settings_).context;
    } catch (const std::bad_alloc&) {
    }
}

Directory::Directory(const Directory& other)
    : settings_(other.settings_), preferred_(other.preferred_.load(std::memory_order_relaxed)) {
    const std::lock_guard lock(other.tls_mutex_);
    tls_context_ = other.tls_context_;
}

AuthResult Directory::authenticate(std::string_view user, std::string_view password) const noexcept {
    try {
        return authenticate_impl(settings_, preferred_, TlsSlot{tls_mutex_, tls_context_}, user, password);
    } catch (const std::bad_alloc&) {
        AuthResult r;
        r.failure = AuthFailure::internal;
        r.reason = "out of memory";  // fits the small-string buffer: no allocation
        return r;
    } catch (...) {
        AuthResult r;
        r.failure = AuthFailure::internal;
        r.reason = "unexpected error";
        return r;
    }
}

}  // namespace sso::ldap
