// What every operation of a Directory does before its own searches: connect to one server with
// bounded waits, set the per-handle options, share the Directory's TLS context, StartTLS when
// configured, bind as the service account; and the failover over the configured URLs. Used by
// authenticate() (directory.cpp) and import_users() (import.cpp). Internal to ldap/: the
// public headers do not include <ldap.h>.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <signal.h>
#include <sys/time.h>

#include "ldap/directory.hpp"
#include "ldap/handles.hpp"

namespace sso::ldap::detail {

// User names, DNs and server messages end up in nginx's error log: quote-safe, no control
// characters (no forged log lines), bounded.
std::string printable(std::string_view s);
std::string log_quoted(std::string_view s);
bool iequals(std::string_view a, std::string_view b) noexcept;
timeval to_timeval(int ms) noexcept;

// "ldap \"NAME\": ", the start of every reason.
std::string log_prefix(const DirectorySettings& s);

// Errors that say "this server cannot serve right now", as opposed to an answer.
bool is_server_level(int rc) noexcept;

// Which of %u and %D a filter template uses.
struct Placeholders {
    bool user = false, dn = false;
};
Placeholders placeholders_of(std::string_view tmpl) noexcept;
int ldap_scope(Scope s) noexcept;
// The server's result text and diagnostic message for the last operation on `ld`.
std::string describe(LDAP* ld, int rc);
std::optional<std::string> first_value(LDAP* ld, LDAPMessage* entry, const std::string& attribute);
// memberOf-style values are group DNs: the group's name is the value of the first RDN
// ("cn=Ops Team,ou=groups,..." -> "Ops Team"). A value that is not a DN is a name already.
std::string group_name_from_value(const berval& value);

// Group names in the order first seen, without duplicates or empty names.
class GroupList {
public:
    void add(std::string name) {
        if (name.empty() || !seen_.insert(name).second) return;
        names_.push_back(std::move(name));
    }
    std::vector<std::string> take() { return std::move(names_); }

private:
    std::set<std::string> seen_;
    std::vector<std::string> names_;
};

// SIGPIPE: liblber writes with write(2), so a peer that closed the connection raises SIGPIPE in
// the calling thread. Blocked for the call's duration; one raised meanwhile is swallowed.
class SigpipeBlock {
public:
    SigpipeBlock() noexcept;
    ~SigpipeBlock();
    SigpipeBlock(const SigpipeBlock&) = delete;
    SigpipeBlock& operator=(const SigpipeBlock&) = delete;

private:
    sigset_t old_;
    bool active_ = false;
    bool was_pending_ = false;
};

// Every read and write of a connection waits for its socket at most wait_ms (see directory.cpp).
struct SocketWait {
    int wait_ms;             // longest one read or write may wait for the socket
    bool timed_out = false;  // a wait expired: the server went silent
};

// A Directory's TLS context and its lock (the Directory's members, lent to one call).
struct TlsSlot {
    std::mutex& mutex;
    std::shared_ptr<void>& context;
};

// Why a connection could not be made ready.
struct ConnectFailure {
    bool internal = false;  // libldap refused an option: not the server's fault, no failover
    int rc = LDAP_OTHER;
    std::string detail;  // without the URL and the prefix
};

// One connection to one server, ready for searches as the service account (or anonymously).
// Not movable: the handle's I/O layer points at the SocketWait member.
class Connection {
public:
    Connection(const DirectorySettings& s, const TlsSlot& tls) : s_(s), tls_(tls), wait_{s.connect_timeout_ms} {}
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Connects (lazily: libldap connects at the first operation), sets options, StartTLS, the
    // service bind. nullopt when ready.
    std::optional<ConnectFailure> open(const std::string& url);

    LDAP* get() const noexcept { return ld_.get(); }
    // Once the first operation has answered, the TCP connect is done: later waits are bounded
    // by the operation timeout instead of the connect timeout.
    void connected() noexcept { wait_.wait_ms = s_.operation_timeout_ms; }
    bool timed_out() const noexcept { return wait_.timed_out; }
    int wait_ms() const noexcept { return wait_.wait_ms; }

private:
    std::optional<ConnectFailure> set_options(const std::string& url);

    const DirectorySettings& s_;
    const TlsSlot& tls_;
    // Declared before the handle: unbinding removes the I/O layer that points at it.
    SocketWait wait_;
    ldap_conncb on_connect_{};
    LdapPtr ld_;
};

// What happened on one server: a final answer (success, or a failure that another server would
// only repeat), or a server-level failure after which the next URL is tried.
template <class Result>
struct Outcome {
    bool server_failure = false;
    bool timed_out = false;
    Result result;       // final answer
    std::string detail;  // server-level failure: "<why>", without the URL
};

template <class Result>
Outcome<Result> server_failure(int rc, std::string detail) {
    Outcome<Result> o;
    o.server_failure = true;
    o.timed_out = rc == LDAP_TIMEOUT;
    o.detail = std::move(detail);
    return o;
}

// Connects to `url` and runs `steps(Connection&)` (which returns an Outcome<Result>) on it. A
// connection failure becomes an Outcome: internal ones through `internal(reason)` (a final
// Outcome), server-level ones as such. A server-level failure after a wait that expired is
// marked timed out.
template <class Result, class Steps, class Internal>
Outcome<Result> on_server(const DirectorySettings& s, const TlsSlot& tls, const std::string& url, Steps&& steps,
                          Internal&& internal) {
    Connection connection(s, tls);
    Outcome<Result> outcome;
    if (auto failure = connection.open(url)) {
        outcome = failure->internal ? internal(log_prefix(s) + failure->detail + " for " + url)
                                    : server_failure<Result>(failure->rc, std::move(failure->detail));
    } else {
        outcome = steps(connection);
    }
    if (outcome.server_failure && connection.timed_out()) {
        // libldap reports a read that our layer cut short as "Can't contact LDAP server".
        outcome.timed_out = true;
        outcome.detail += " (no answer within " + std::to_string(connection.wait_ms()) + " ms)";
    }
    return outcome;
}

// Failover: tries `attempt(url)` on each URL, starting at the one that answered last, until one
// gives a final answer (returned). Otherwise nullopt, with `failures` listing "URL: why" for
// each server and `last_timed_out` saying whether the last one tried timed out.
template <class Result, class Attempt>
std::optional<Result> first_answer(const std::vector<std::string>& urls, std::atomic<std::size_t>& preferred,
                                   Attempt&& attempt, std::string& failures, bool& last_timed_out) {
    const std::size_t n = urls.size();
    std::size_t start = preferred.load(std::memory_order_relaxed);
    if (start >= n) start = 0;
    for (std::size_t k = 0; k < n; ++k) {
        const std::size_t index = (start + k) % n;
        Outcome<Result> outcome = attempt(urls[index]);
        if (!outcome.server_failure) {
            if (index != start) preferred.store(index, std::memory_order_relaxed);
            return std::move(outcome.result);
        }
        last_timed_out = outcome.timed_out;
        if (!failures.empty()) failures += "; ";
        failures += urls[index] + ": " + outcome.detail;
    }
    return std::nullopt;
}

}  // namespace sso::ldap::detail
