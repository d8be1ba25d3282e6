#include "module/idp_chooser.hpp"

#include "module/http_util.hpp"
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
    std::string items;
    for (const IdpSummary& idp : idps) {
        const std::string href = "?idp=" + url_encode(idp.entity_id) + "&return_to=" + url_encode(return_to);
        items += "<li><a href=\"" + html_escape(href) + "\">" + html_escape(idp.display_name) + "</a></li>";
    }
    const std::string body =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Choose how to sign in</title>"
        "<style>body{font-family:sans-serif;max-width:40em;margin:4em auto;color:#222}h1{font-size:1.4em}"
        "li{margin:.6em 0}</style></head><body><h1>Choose how to sign in</h1><ul>" +
        items + "</ul></body></html>\n";
    return send_body(r, NGX_HTTP_OK, "text/html; charset=utf-8", body);
}

}  // namespace sso::ngx
