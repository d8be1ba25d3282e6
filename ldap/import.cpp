// Directory::import_users(): the whole directory (or import_filter's part of it) read with RFC
// 2696 simple paged results, on the connection code authenticate() uses (ldap/connection.hpp).
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ldap/connection.hpp"
#include "ldap/directory.hpp"
#include "ldap/handles.hpp"

namespace sso::ldap {
namespace {

using namespace detail;

using ImportOutcome = Outcome<ImportResult>;

// A final failure: the same on every server (a limit of ours, an internal error).
ImportOutcome final_failure(std::string reason) {
    ImportOutcome o;
    o.result.reason = std::move(reason);
    return o;
}

ImportOutcome final_failure(const DirectorySettings& s, const std::string& why) {
    return final_failure(log_prefix(s) + "import failed: " + why);
}

struct ControlFree {
    void operator()(LDAPControl* c) const noexcept {
        if (c) ldap_control_free(c);
    }
};
struct ControlsFree {
    void operator()(LDAPControl** c) const noexcept {
        if (c) ldap_controls_free(c);
    }
};
struct BerMemFree {
    void operator()(char* p) const noexcept {
        if (p) ber_memfree(p);
    }
};

std::string ascii_lower(std::string s) {
    for (char& c : s) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return s;
}

// The DN written back in LDAPv3 form ("uid=a, ou=x" -> "uid=a,ou=x", escapes made canonical),
// in ASCII lower case; a value that does not parse as a DN only in lower case.
std::string dn_key(const std::string& dn) {
    char* out = nullptr;
    const int rc = ldap_dn_normalize(dn.c_str(), LDAP_DN_FORMAT_LDAPV3, &out, LDAP_DN_FORMAT_LDAPV3);
    LdapCharPtr owner(out);
    if (rc == LDAP_NO_MEMORY) throw std::bad_alloc();
    return ascii_lower(rc == LDAP_SUCCESS && out ? std::string(out) : dn);
}

// One search read to its end with simple paged results.
struct PagedSearch {
    const char* what;  // "user search", "group search": names the step in reasons
    std::string base;
    int scope;
    std::string filter;
    std::vector<char*> attributes;  // NULL-terminated
};

// Runs `search` page after page on `connection`, handing every entry to `on_entry(LDAPMessage*)`
// (which returns a final failure to stop, or nullopt). nullopt when every page was read.
template <class OnEntry>
std::optional<ImportOutcome> run_paged(const DirectorySettings& s, Connection& connection, const PagedSearch& search,
                                       std::size_t& pages, OnEntry&& on_entry) {
    LDAP* const ld = connection.get();
    const std::string step = std::string(search.what) + " " + search.filter + " under " + log_quoted(search.base);
    std::unique_ptr<char, BerMemFree> cookie_owner;
    berval cookie{};
    // Every page but the last carries at least one entry: more pages than entries allowed means
    // a server that keeps handing out cookies.
    const std::size_t max_pages = s.import_max_users + 1;
    for (std::size_t page = 1;; ++page) {
        if (page > max_pages) {
            return server_failure<ImportResult>(LDAP_OTHER, step + ": more than " + std::to_string(max_pages) +
                                                                " pages (the server keeps returning a cookie)");
        }
        const std::string at_page = step + " page " + std::to_string(page);
        LDAPControl* raw_control = nullptr;
        int rc = ldap_create_page_control(ld, s.import_page_size, page == 1 ? nullptr : &cookie, 1, &raw_control);
        std::unique_ptr<LDAPControl, ControlFree> control(raw_control);
        if (rc == LDAP_NO_MEMORY) throw std::bad_alloc();
        if (rc != LDAP_SUCCESS) {
            return final_failure(s, at_page + ": cannot make the paged-results control: " + ldap_err2string(rc));
        }
        LDAPControl* server_controls[] = {control.get(), nullptr};
        timeval tv = to_timeval(s.operation_timeout_ms);
        LDAPMessage* res = nullptr;
        rc = ldap_search_ext_s(ld, search.base.c_str(), search.scope, search.filter.c_str(),
                               const_cast<char**>(search.attributes.data()), 0, server_controls, nullptr, &tv,
                               LDAP_NO_LIMIT, &res);
        LdapMessagePtr result(res);
        ++pages;
        if (rc == LDAP_NO_MEMORY) throw std::bad_alloc();
        // Size or time limit, paging refused, an unknown cookie, no answer: all of them leave the
        // list incomplete.
        if (rc != LDAP_SUCCESS) return server_failure<ImportResult>(rc, at_page + " failed: " + describe(ld, rc));
        connection.connected();

        for (LDAPMessage* e = ldap_first_entry(ld, res); e; e = ldap_next_entry(ld, e)) {
            if (auto stop = on_entry(e)) return stop;
        }

        int code = LDAP_SUCCESS;
        LDAPControl** raw_controls = nullptr;
        rc = ldap_parse_result(ld, res, &code, nullptr, nullptr, nullptr, &raw_controls, 0);
        std::unique_ptr<LDAPControl*, ControlsFree> controls(raw_controls);
        if (rc == LDAP_NO_MEMORY) throw std::bad_alloc();
        if (rc != LDAP_SUCCESS)
            return server_failure<ImportResult>(rc, at_page + ": unreadable result: " + describe(ld, rc));
        LDAPControl* response = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, controls.get(), nullptr);
        if (!response) {
            return server_failure<ImportResult>(LDAP_PROTOCOL_ERROR,
                                                at_page + " came without a paged-results control (cookie lost)");
        }
        ber_int_t estimate = 0;
        berval next{};
        rc = ldap_parse_pageresponse_control(ld, response, &estimate, &next);
        cookie_owner.reset(next.bv_val);
        if (rc == LDAP_NO_MEMORY) throw std::bad_alloc();
        if (rc != LDAP_SUCCESS) {
            return server_failure<ImportResult>(rc,
                                                at_page + ": unreadable paged-results control: " + ldap_err2string(rc));
        }
        if (next.bv_len == 0) return std::nullopt;  // the last page
        cookie = next;
    }
}

std::vector<char*> attribute_list(std::initializer_list<const std::string*> names) {
    std::vector<char*> out;
    for (const std::string* name : names) {
        if (name->empty()) continue;
        bool seen = false;
        for (const char* a : out) seen = seen || iequals(a, *name);
        if (!seen) out.push_back(const_cast<char*>(name->c_str()));
    }
    if (out.empty()) out.push_back(const_cast<char*>("1.1"));  // the DN only (RFC 4511 4.5.1.8)
    out.push_back(nullptr);
    return out;
}

class Import {
public:
    explicit Import(const DirectorySettings& s)
        : s_(s),
          by_user_value_(!s.group_base.empty() && placeholders_of(s.group_filter).user &&
                         !placeholders_of(s.group_filter).dn) {}

    ImportOutcome try_server(const TlsSlot& tls, const std::string& url) const {
        return on_server<ImportResult>(
            s_, tls, url, [&](Connection& connection) { return run(connection, url); },
            [](std::string reason) { return final_failure(std::move(reason)); });
    }

private:
    ImportOutcome run(Connection& connection, const std::string& url) const {
        LDAP* const ld = connection.get();
        std::size_t pages = 0;
        std::vector<DirectoryUser> users;
        std::size_t entries = 0, skipped = 0;
        const std::string too_many = "more than " + std::to_string(s_.import_max_users) + " ";

        PagedSearch user_search{"user search", s_.base_dn, ldap_scope(s_.scope),
                                s_.import_filter.empty() ? "(" + s_.email_attribute + "=*)" : s_.import_filter,
                                attribute_list({&s_.user_attribute, &s_.email_attribute, &s_.name_attribute,
                                                s_.group_base.empty() ? &s_.group_attribute : &kNone})};
        auto failure =
            run_paged(s_, connection, user_search, pages, [&](LDAPMessage* e) -> std::optional<ImportOutcome> {
                if (++entries > s_.import_max_users) {
                    return final_failure(s_, too_many + "entries match " + user_search.filter + " under " +
                                                 log_quoted(s_.base_dn) + " on " + url + " (import_max_users)");
                }
                auto email = first_value(ld, e, s_.email_attribute);
                if (!email || email->empty()) {
                    ++skipped;
                    return std::nullopt;
                }
                LdapCharPtr dn(ldap_get_dn(ld, e));
                if (!dn) {
                    return server_failure<ImportResult>(LDAP_DECODING_ERROR, "user search: an entry without a DN");
                }
                DirectoryUser u;
                u.dn = dn.get();
                u.user = first_value(ld, e, s_.user_attribute).value_or(*email);
                u.email = std::move(*email);
                u.display_name = first_value(ld, e, s_.name_attribute).value_or(std::string());
                if (s_.group_base.empty() && !s_.group_attribute.empty()) {
                    GroupList groups;
                    BerValuesPtr values(ldap_get_values_len(ld, e, s_.group_attribute.c_str()));
                    for (berval** v = values.get(); v && *v; ++v) groups.add(group_name_from_value(**v));
                    u.groups = groups.take();
                }
                users.push_back(std::move(u));
                return std::nullopt;
            });
        if (failure) return fail_after(std::move(*failure), pages);

        if (!s_.group_base.empty()) {
            // Member key -> the groups that list it, in the order the server returned them.
            std::unordered_map<std::string, std::vector<std::size_t>> groups_of;
            std::vector<std::string> group_names;
            PagedSearch group_search{"group search", s_.group_base, LDAP_SCOPE_SUBTREE,
                                     "(" + s_.group_member_attribute + "=*)",
                                     attribute_list({&s_.group_name_attribute, &s_.group_member_attribute})};
            failure =
                run_paged(s_, connection, group_search, pages, [&](LDAPMessage* e) -> std::optional<ImportOutcome> {
                    if (group_names.size() >= s_.import_max_users) {
                        return final_failure(s_, too_many + "groups match " + group_search.filter + " under " +
                                                     log_quoted(s_.group_base) + " on " + url + " (import_max_users)");
                    }
                    std::string name = first_value(ld, e, s_.group_name_attribute).value_or(std::string());
                    if (name.empty()) {
                        LdapCharPtr group_dn(ldap_get_dn(ld, e));
                        if (!group_dn) return std::nullopt;
                        berval bv{};
                        bv.bv_val = group_dn.get();
                        bv.bv_len = std::char_traits<char>::length(group_dn.get());
                        name = group_name_from_value(bv);
                    }
                    const std::size_t index = group_names.size();
                    group_names.push_back(std::move(name));
                    BerValuesPtr members(ldap_get_values_len(ld, e, s_.group_member_attribute.c_str()));
                    for (berval** v = members.get(); v && *v; ++v) {
                        std::string member((*v)->bv_val, (*v)->bv_len);
                        groups_of[by_user_value_ ? std::move(member) : dn_key(member)].push_back(index);
                    }
                    return std::nullopt;
                });
            if (failure) return fail_after(std::move(*failure), pages);
            for (DirectoryUser& u : users) {
                const auto found = groups_of.find(by_user_value_ ? u.user : dn_key(u.dn));
                if (found == groups_of.end()) continue;
                GroupList groups;
                for (const std::size_t index : found->second) groups.add(group_names[index]);
                u.groups = groups.take();
            }
        }

        ImportOutcome ok;
        ok.result.ok = true;
        ok.result.pages = pages;
        ok.result.skipped = skipped;
        ok.result.server_url = url;
        ok.result.reason = log_prefix(s_) + "imported " + std::to_string(users.size()) + " users (" +
                           std::to_string(skipped) + " entries without " + s_.email_attribute + " skipped) in " +
                           std::to_string(pages) + " pages from " + url;
        ok.result.users = std::move(users);
        return ok;
    }

    static ImportOutcome fail_after(ImportOutcome failure, std::size_t pages) {
        failure.result.pages = pages;
        return failure;
    }

    static inline const std::string kNone;
    const DirectorySettings& s_;
    const bool by_user_value_;  // groups list user values (memberUid), not DNs
};

ImportResult import_impl(const DirectorySettings& s, std::atomic<std::size_t>& preferred, const TlsSlot& tls) {
    ImportResult failed;
    const std::string prefix = log_prefix(s);
    if (s.urls.empty()) {
        failed.reason = prefix + "import failed: no url configured";
        return failed;
    }
    if (s.email_attribute.empty()) {
        failed.reason = prefix + "import failed: no email_attribute (users are keyed by e-mail)";
        return failed;
    }
    const SigpipeBlock no_sigpipe;
    const Import import(s);
    std::string failures;
    bool last_timed_out = false;
    std::size_t pages = 0;
    auto answer = first_answer<ImportResult>(
        s.urls, preferred,
        [&](const std::string& url) {
            ImportOutcome outcome = import.try_server(tls, url);
            pages += outcome.result.pages;
            return outcome;
        },
        failures, last_timed_out);
    if (answer) {
        if (!answer->ok) answer->pages = pages;
        return std::move(*answer);
    }
    failed.pages = pages;
    failed.reason =
        prefix + "import failed: " + (s.urls.size() == 1 ? "server unavailable: " : "no server available: ") + failures;
    return failed;
}

}  // namespace

ImportResult Directory::import_users() const noexcept {
    try {
        return import_impl(settings_, preferred_, TlsSlot{tls_mutex_, tls_context_});
    } catch (const std::bad_alloc&) {
        ImportResult r;
        r.reason = "out of memory";
        return r;
    } catch (...) {
        ImportResult r;
        r.reason = "unexpected error";
        return r;
    }
}

}  // namespace sso::ldap
