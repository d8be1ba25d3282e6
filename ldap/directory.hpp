// LDAP search-then-bind authentication on libldap (OpenLDAP 2.5).
//
// A login looks the user up (as the service account, or anonymously), reads the identity
// attributes and groups, then binds as the entry's DN with the user's password on the same
// connection. Several servers give failover. Every call opens its own connection, so one
// Directory serves any number of threads; the call blocks, so nginx runs it in a thread pool.
// The TLS context (CA file parsed, verification mode) is built once per Directory and shared by
// all its connections.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sso::ldap {

enum class Scope { base, one, sub };

struct DirectorySettings {
    std::string name;                    // the config block's name, for logs
    std::vector<std::string> urls;       // ldap:// or ldaps://, tried in order (failover)
    bool starttls = false;               // StartTLS on ldap:// URLs (required when on: no fallback to plain)
    std::string ca_file;                 // empty: the system's CA store (kSystemCaFile)
    bool verify_cert = true;             // off only when the administrator says so
    std::string bind_dn, bind_password;  // service account for the search; empty bind_dn = anonymous search
    std::string base_dn;
    Scope scope = Scope::sub;
    std::string user_filter = "(uid=%u)";
    std::string user_attribute = "uid";  // fills DirectoryUser::user (falls back to the login name when absent)
    std::string email_attribute = "mail";
    std::string name_attribute = "cn";
    // On the user entry (DN values -> group name = value of the first RDN); empty = not read.
    std::string group_attribute = "memberOf";
    std::string group_base;                    // non-empty: groups come from a search under this base instead
    std::string group_filter = "(member=%D)";  // %D = the user's DN, %u = DirectoryUser::user
    std::string group_name_attribute = "cn";
    int connect_timeout_ms = 5000;     // TCP connect, and each wait of the TLS handshake
    int operation_timeout_ms = 10000;  // each bind/search/StartTLS, and each page of an import

    // Directory import (Directory::import_users).
    std::string import_filter;               // empty: "(<email_attribute>=*)"
    int import_page_size = 500;              // entries per page of the paged search, 1..kMaxImportPageSize
    std::size_t import_max_users = 1000000;  // more matching entries than this: the import fails
    // With group_base: the attribute of a group that lists its members (member, uniqueMember:
    // DNs; memberUid: user names, see import_users()).
    std::string group_member_attribute = "member";
};

constexpr int kMaxImportPageSize = 10000;

// The CA bundle used when ca_file is empty. libldap's GnuTLS backend has no "system store" of
// its own: without a CA file it trusts nothing (or whatever /etc/ldap/ldap.conf says), so we
// name Debian's bundle explicitly.
inline constexpr std::string_view kSystemCaFile = "/etc/ssl/certs/ca-certificates.crt";

// Longest user name and password authenticate() passes to the server; longer ones are refused
// without I/O.
constexpr std::size_t kMaxUserNameLength = 256;
constexpr std::size_t kMaxPasswordLength = 4096;

// For `nginx -t`: nullopt when the settings are usable, otherwise one message that starts with
// the setting's name ("url \"x\": not an ldap:// or ldaps:// URL", "ca_file \"x\": cannot read",
// "user_filter: ...", "base_dn: not a DN", ...). Reads ca_file from disk; no network I/O.
std::optional<std::string> settings_error(const DirectorySettings& settings) noexcept;

struct DirectoryUser {
    std::string dn, user, email, display_name;
    std::vector<std::string> groups;
    std::string server_url;  // the server that authenticated the user
};

// What one directory import read. On failure (ok == false) `users` is empty: an import never
// gives a partial list, so the caller keeps the previous one.
struct ImportResult {
    bool ok = false;
    std::vector<DirectoryUser> users;  // server_url empty in each (the one server is below)
    std::size_t skipped = 0;           // entries without an e-mail value (not users of the directory)
    std::size_t pages = 0;             // pages the searches took (users and groups), also on failure
    std::string server_url;            // the server that answered (empty on failure)
    std::string reason;                // one log-ready sentence: a summary, or why it failed
};

enum class AuthFailure {
    // Unknown user, wrong password, empty password: ONE outcome to the client (no enumeration);
    // the reason (for the log) may differ.
    invalid_credentials,
    ambiguous_user,  // the filter found more than one entry
    unavailable,     // no server could be reached / TLS failed / service bind refused, after trying every URL
    timeout,         // the last server tried timed out
    internal,        // allocation failure, unexpected libldap error
};

// `user` is set on success (and `failure` means nothing); otherwise `failure` says why. `reason`
// is one log-ready sentence in both cases (user names and server messages in it are quoted and
// stripped of control characters); it never contains the user's password or the service password.
struct AuthResult {
    std::optional<DirectoryUser> user;
    AuthFailure failure = AuthFailure::internal;
    std::string reason;
};

class Directory {
public:
    // Expects settings that settings_error() accepted. With TLS (an ldaps:// URL or starttls)
    // this builds the TLS context: it reads ca_file (or the system bundle) now, at configuration
    // time, and not again for this Directory, so a changed CA file takes a new Directory (an
    // nginx reload). If that fails, the first login that needs TLS tries again (and reports why).
    explicit Directory(DirectorySettings s);
    // Shares the other's TLS context (the last of them to go releases it).
    Directory(const Directory& other);
    Directory& operator=(const Directory&) = delete;

    const DirectorySettings& settings() const noexcept { return settings_; }

    // Thread-safe and blocking: one connection per call. Per server tried, every wait is bounded:
    // the TCP connect (per address the host name resolves to; name resolution itself is not) and
    // each wait of the TLS handshake by connect_timeout_ms; StartTLS, binds and searches by
    // operation_timeout_ms. SIGPIPE from a dropped connection is blocked in the calling thread
    // for the call's duration.
    AuthResult authenticate(std::string_view user, std::string_view password) const noexcept;

    // Reads every entry under base_dn/scope that matches import_filter, as the service account
    // (or anonymously), with RFC 2696 simple paged results (import_page_size entries a page, so a
    // server-side size limit for plain searches does not cut the list). Thread-safe and
    // blocking, with the same TLS context, failover and timeouts as authenticate() (each page is
    // one operation). Per entry: dn; email = first email_attribute value as stored (entries
    // without one are counted in `skipped`, not returned); user = first user_attribute value
    // (the e-mail when the entry has none); display_name = first name_attribute value.
    //
    // Groups:
    // - group_base empty: the group_attribute (memberOf) values of each entry, named as in
    //   authenticate() (a DN gives the value of its first RDN, anything else is the name).
    // - group_base set: ONE paged search under group_base (subtree) for
    //   "(<group_member_attribute>=*)", reading group_name_attribute (the group's name; its first
    //   RDN value when absent) and group_member_attribute. A user is in a group when one of the
    //   group's member values equals
    //     * the user's `user` value, exactly, when group_filter has %u and no %D (posixGroup
    //       memberUid style);
    //     * otherwise the user's DN, compared as DNs: parsed and written back in LDAPv3 form
    //       (so "uid=a, ou=x" equals "uid=a,ou=x" and escapes are canonical), then compared
    //       without regard to ASCII case.
    //   group_filter itself is not sent: it only says which of the two member styles applies.
    //
    // Fails (ok false, no users) when: a page fails (size or time limit hit on the server,
    // paging refused, a cookie the server no longer knows, no answer within the timeout),
    // a page comes without its paged-results control, more than import_max_users entries (or
    // groups) match, or the service bind is refused. A failure on one server moves on to the
    // next URL, starting the import from scratch; `reason` names each server and the step.
    ImportResult import_users() const noexcept;

private:
    DirectorySettings settings_;
    // The URL that answered last: later calls start there, so a dead first server costs one
    // connect timeout once rather than on every login.
    mutable std::atomic<std::size_t> preferred_{0};
    // libldap's TLS context (a GnuTLS tlsg_ctx; void* because this header does not include
    // <ldap.h>) for every connection of this Directory: it holds ONE libldap reference, given
    // back (ldap_pvt_tls_ctx_free) when the last Directory sharing it goes; each connection's
    // handle takes a reference of its own. Set once (construction, or the first login after a
    // failed build), never replaced; tls_mutex_ guards it.
    mutable std::mutex tls_mutex_;
    mutable std::shared_ptr<void> tls_context_;
};

}  // namespace sso::ldap
