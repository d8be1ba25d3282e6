#include "module/location_check.hpp"

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "module/conf_position.hpp"
#include "module/conf_util.hpp"
#include "module/sso_conf.hpp"
#include "saml/sp_urls.hpp"

namespace sso::ngx {
namespace {

using Clcf = ngx_http_core_loc_conf_t;

// A location's configuration of this module; the server block's own clcf has no loc_conf (its
// modules' configurations are the server context's, `server_conf`).
LocConf* sso_of(const Clcf* clcf, void** server_conf) noexcept {
    void** conf = clcf->loc_conf ? clcf->loc_conf : server_conf;
    return static_cast<LocConf*>(conf[ngx_http_sso_module.ctx_index]);
}

enum class Found { declined, ok, again, redirect };  // NGX_DECLINED, NGX_OK, NGX_AGAIN, NGX_DONE

// ngx_http_core_find_static_location (ngx_http_core_module.c) on a path instead of a request.
Found find_static(ngx_http_location_tree_node_t* node, std::string_view uri, Clcf*& loc) noexcept {
    auto* p = reinterpret_cast<u_char*>(const_cast<char*>(uri.data()));
    std::size_t len = uri.size();
    Found rv = Found::declined;
    while (node) {
        const std::size_t n = len <= node->len ? len : node->len;
        const ngx_int_t rc = ngx_filename_cmp(p, node->name, n);
        if (rc != 0) {
            node = rc < 0 ? node->left : node->right;
            continue;
        }
        if (len > node->len) {
            if (node->inclusive) {
                loc = node->inclusive;
                rv = Found::again;
                node = node->tree;
                p += n;
                len -= n;
                continue;
            }
            node = node->right;  // exact only
            continue;
        }
        if (len == node->len) {
            loc = node->exact ? node->exact : node->inclusive;
            return node->exact ? Found::ok : Found::again;
        }
        if (len + 1 == node->len && node->auto_redirect) {  // "/x" and location "/x/": a 301
            loc = node->exact ? node->exact : node->inclusive;
            rv = Found::redirect;
        }
        node = node->left;
    }
    return rv;
}

// ngx_http_core_find_location: exact, then the longest prefix and its nested locations, then
// the regular expressions in the order written unless the prefix has "^~". `loc` is where the
// path lands (left alone when nothing matches); only Found::redirect matters besides.
Found find_location(Clcf* parent, std::string_view uri, Clcf*& loc) noexcept {
    bool noregex = false;
    Found rc = find_static(parent->static_locations, uri, loc);
    if (rc == Found::again) {
        noregex = loc->noregex;
        rc = find_location(loc, uri, loc);
    }
    if (rc == Found::ok || rc == Found::redirect) return rc;
#if (NGX_PCRE)
    if (!noregex && parent->regex_locations) {
        for (Clcf** re = parent->regex_locations; *re; ++re) {
            ngx_str_t s{uri.size(), reinterpret_cast<u_char*>(const_cast<char*>(uri.data()))};
            if (ngx_regex_exec((*re)->regex->regex, &s, nullptr, 0) < 0) continue;
            loc = *re;
            find_location(loc, uri, loc);
            return Found::ok;
        }
    }
#endif
    return rc;
}

void collect(Clcf* clcf, std::vector<Clcf*>& out);

void collect_tree(ngx_http_location_tree_node_t* node, std::vector<Clcf*>& out) {
    if (!node) return;
    collect_tree(node->left, out);
    for (Clcf* c : {node->exact, node->inclusive}) {
        if (!c) continue;
        out.push_back(c);
        collect(c, out);
    }
    collect_tree(node->tree, out);
    collect_tree(node->right, out);
}

// The locations nested in `clcf` (static ones in path order, then regular expressions).
void collect(Clcf* clcf, std::vector<Clcf*>& out) {
    collect_tree(clcf->static_locations, out);
#if (NGX_PCRE)
    for (Clcf** re = clcf->regex_locations; re && *re; ++re) {
        out.push_back(*re);
        collect(*re, out);
    }
#endif
}

bool is_regex(const Clcf* c) noexcept {
#if (NGX_PCRE)
    return c->regex != nullptr;
#else
    return false;
#endif
}

std::string describe(const Clcf* c, const Clcf* root) {
    if (c == root) return "no location (the server block itself)";
    const char* kind = is_regex(c) ? "~ " : c->exact_match ? "= " : c->noregex ? "^~ " : "";
    return std::string("location ") + kind + in_quotes(sv(c->name));
}

std::string server_label(const ngx_http_core_srv_conf_t* cscf) {
    if (cscf->server_name.len) return "server " + in_quotes(sv(cscf->server_name));
    if (!cscf->file_name) return "a server without server_name";
    return "the server at " + std::string(reinterpret_cast<const char*>(cscf->file_name)) + ":" +
           std::to_string(cscf->line);
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
    std::string out;
    for (const std::string& p : parts) {
        if (!out.empty()) out += sep;
        out += p;
    }
    return out;
}

// The ACS path of an sso_endpoint location, as set_endpoint derives the others (regex: none).
std::string acs_path_of(const Clcf* c) {
    if (is_regex(c)) return {};
    const std::string name(sv(c->name));
    if (c->exact_match) return last_path_segment(name) == "acs" ? name : std::string();
    return name + (name.ends_with('/') ? "" : "/") + "acs";
}

char* check_acs_url(ngx_conf_t* cf, const ngx_http_core_srv_conf_t* cscf, SrvConf* scf, Clcf* root,
                    const std::vector<Clcf*>& endpoints) {
    const std::string_view acs = sv(scf->acs_url);
    const auto url = split_http_url(acs);
    if (!url) return NGX_CONF_OK;  // refused when the directive was read
    Clcf* loc = root;
    const Found found = find_location(root, url->path, loc);
    const bool endpoint = found != Found::redirect && sso_of(loc, cscf->ctx->loc_conf)->endpoint == 1;
    if (endpoint && last_path_segment(url->path) == "acs") return NGX_CONF_OK;

    std::string why;
    if (found == Found::redirect)
        why = "reaches " + describe(loc, root) + " only through a 301 redirect, which turns the IdP's POST into a GET";
    else if (endpoint)
        why = "lands in the sso_endpoint " + describe(loc, root) +
              ", which answers the IdP's POST only at a path "
              "ending in \"/acs\"";
    else
        why = "lands in " + describe(loc, root) +
              ", which has no \"sso_endpoint\": the IdP's POST would never reach "
              "the Assertion Consumer Service";
    std::vector<std::string> fixes;
    for (Clcf* e : endpoints) {
        const std::string path = acs_path_of(e);
        Clcf* at = root;
        if (path.empty() || find_location(root, path, at) == Found::redirect || at != e) continue;
        fixes.push_back(in_quotes(std::string(url->origin) + path) + " (" + describe(e, root) + ")");
    }
    std::string fix = fixes.empty() ? "no prefix or exact sso_endpoint location of this server gives one; add e.g. "
                                      "\"location /sso/ { sso_endpoint; }\" and use its \"/sso/acs\""
                                    : "use " + join(fixes, " or ");
    return conf_error_at(cf, &scf->acs_url_at,
                         "\"sso_sp_acs_url\": the path " + in_quotes(url->path) + " of " + in_quotes(acs) + " in " +
                             server_label(cscf) + " " + why + "; " + fix);
}

char* check_server(ngx_conf_t* cf, ngx_http_core_srv_conf_t* cscf) {
    auto* scf = static_cast<SrvConf*>(cscf->ctx->srv_conf[ngx_http_sso_module.ctx_index]);
    auto* root = static_cast<Clcf*>(cscf->ctx->loc_conf[ngx_http_core_module.ctx_index]);
    if (!scf || !scf->rt) return NGX_CONF_OK;
    std::vector<Clcf*> all{root};
    collect(root, all);
    std::vector<Clcf*> endpoints, protected_;
    for (Clcf* c : all) {
        const LocConf* lcf = sso_of(c, cscf->ctx->loc_conf);
        if (lcf->endpoint == 1)
            endpoints.push_back(c);
        else if (lcf->enable == 1)
            protected_.push_back(c);
    }
    const bool saml_on = scf->rt->sp || scf->rt->metadata;
    const Clcf* saml_protected = nullptr;  // a location whose browsers sign in with SAML
    for (Clcf* c : protected_)
        if (!saml_protected && sso_of(c, cscf->ctx->loc_conf)->login != login_ldap) saml_protected = c;
    if (saml_on && endpoints.empty() && saml_protected) {
        const bool from_url = scf->idp_metadata_url.len != 0;
        return conf_error_at(cf, from_url ? &scf->idp_metadata_url_at : &scf->idp_metadata_at,
                             std::string(from_url ? "\"sso_idp_metadata_url\"" : "\"sso_idp_metadata\"") + ": " +
                                 server_label(cscf) + " signs in with SAML for " + describe(saml_protected, root) +
                                 " but has no location with \"sso_endpoint\", so there is no login URL and nowhere "
                                 "for the IdP to post its answer; add e.g. \"location /sso/ { sso_endpoint; }\" "
                                 "with \"sso_sp_acs_url\" at its \"/sso/acs\"");
    }
    if (scf->acs_url.len && !endpoints.empty())
        if (char* rc = check_acs_url(cf, cscf, scf, root, endpoints); rc != NGX_CONF_OK) return rc;
    if (saml_on) return NGX_CONF_OK;
    // SAML stays off until metadata arrives: legitimate, but say once which locations refuse.
    std::vector<std::string> refused;
    for (Clcf* c : protected_) {
        const LocConf* lcf = sso_of(c, cscf->ctx->loc_conf);
        if (lcf->login == login_saml || !lcf->ldap) refused.push_back(describe(c, root));
    }
    if (refused.empty()) return NGX_CONF_OK;
    ConfPos server_at{
        {cscf->file_name ? std::strlen(reinterpret_cast<const char*>(cscf->file_name)) : 0, cscf->file_name},
        cscf->file_name ? cscf->line : 0};
    conf_log_at(NGX_LOG_WARN, cf, scf->idp_metadata_at.line ? &scf->idp_metadata_at : &server_at,
                "sso: " + server_label(cscf) + " protects " + join(refused, ", ") +
                    " with \"sso on\" but has no IdP metadata (\"sso_idp_metadata none\"), and there browsers "
                    "sign in only with SAML (no \"sso_ldap\" or \"sso_internal_users\", or \"sso_login saml\"): "
                    "those requests are refused (403) until IdP metadata is configured");
    return NGX_CONF_OK;
}

}  // namespace

ngx_int_t check_server_locations(ngx_conf_t* cf) noexcept {
    auto* cmcf = static_cast<ngx_http_core_main_conf_t*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module));
    auto** servers = static_cast<ngx_http_core_srv_conf_t**>(cmcf->servers.elts);
    try {
        for (ngx_uint_t i = 0; i < cmcf->servers.nelts; ++i)
            if (check_server(cf, servers[i]) != NGX_CONF_OK) return NGX_ERROR;
    } catch (const std::exception& e) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "sso: %s", e.what());
        return NGX_ERROR;
    } catch (...) {
        return NGX_ERROR;
    }
    return NGX_OK;
}

}  // namespace sso::ngx
