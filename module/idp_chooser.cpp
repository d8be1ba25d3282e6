#include "module/idp_chooser.hpp"

#include "module/http_util.hpp"
#include "module/sso_conf.hpp"
#include "session/form.hpp"

namespace sso::ngx {

std::optional<std::vector<std::string>> query_values(ngx_http_request_t* r, std::string_view name) {
    std::vector<std::string> out;
    std::string_view args = sv(r->args);
    while (!args.empty()) {
        const std::size_t amp = args.find('&');
        const std::string_view pair = args.substr(0, amp);
        args = amp == std::string_view::npos ? std::string_view() : args.substr(amp + 1);
        const std::size_t eq = pair.find('=');
        if (pair.substr(0, eq) != name) continue;
        auto value = url_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
        if (!value) return std::nullopt;
        out.push_back(std::move(*value));
    }
    return out;
}

bool idp_allowed(const ngx_array_t* allowed, std::string_view entity_id) noexcept {
    if (!allowed) return true;
    const auto* names = static_cast<const ngx_str_t*>(allowed->elts);
    for (ngx_uint_t i = 0; i < allowed->nelts; ++i)
        if (sv(names[i]) == entity_id) return true;
    return false;
}

ngx_int_t send_idp_chooser(ngx_http_request_t* r, std::string_view return_to, const std::vector<IdpSummary>& idps) {
    std::vector<std::string> hrefs;
    hrefs.reserve(idps.size());
    for (const IdpSummary& idp : idps)
        hrefs.push_back("?idp=" + url_encode(idp.entity_id) + "&return_to=" + url_encode(return_to));
    std::vector<ChooserEntry> entries;
    for (std::size_t i = 0; i < idps.size(); ++i) entries.push_back({idps[i].display_name, hrefs[i]});
    Page page;
    page.title = "Choose how to sign in";
    page.site = site_name(r);
    page.reference = request_reference(r);
    page.return_to = return_to;
    // Someone whose organisation is not listed may have an account in the directory.
    const LocConf* lcf = loc_conf(r);
    const SrvConf* scf = srv_conf(r);
    if (lcf->ldap && scf->ldap_form_uri.len) page.login_uri = sv(scf->ldap_form_uri);
    return send_body(r, NGX_HTTP_OK, "text/html; charset=utf-8", idp_chooser_html(page, entries));
}

}  // namespace sso::ngx
