// `sso_require` and `sso_require_match`: which signed-in users may pass a location.
#include "module/counters.hpp"
#include "module/access_rules.hpp"

#include <string>
#include <vector>

#include "module/conf_util.hpp"
#include "module/flows.hpp"
#include "module/http_util.hpp"

namespace sso::ngx {

char* set_require(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept {
    auto* lcf = static_cast<LocConf*>(conf);
    auto* args = static_cast<ngx_str_t*>(cf->args->elts);
    try {
        std::vector<std::string> words;
        for (ngx_uint_t i = 1; i < cf->args->nelts; ++i) words.push_back(str(args[i]));
        std::string error;
        auto rule = parse_access_rule(words, error);
        if (!rule) return conf_error(cf, "\"sso_require\": " + error);
        if (lcf->require == NGX_CONF_UNSET_PTR) {
            lcf->require = pool_new<AccessRules>(cf->pool);
            if (!lcf->require) return static_cast<char*>(NGX_CONF_ERROR);
        }
        lcf->require->rules.push_back(std::move(*rule));
        return NGX_CONF_OK;
    } catch (...) {
        return static_cast<char*>(NGX_CONF_ERROR);
    }
}

bool access_allowed(ngx_http_request_t* r, RequestCtx* ctx) noexcept {
    const LocConf* lcf = loc_conf(r);
    if (!lcf->require || lcf->require->rules.empty()) return true;
    const Identity& id = ctx->identity;
    SessionView view;
    view.user = sv(id.user);
    view.groups.encoded = sv(id.group_list);
    view.groups.count = id.group_count;
    view.attributes = sv(id.attributes);
    view.attribute_count = id.attribute_count;
    try {
        auto refusal = access_refusal(lcf->require->rules, lcf->require_match == require_all, view);
        if (!refusal) return true;
        count(r, Counter::access_denied);
        decide_page(r, ctx, NGX_HTTP_FORBIDDEN, NGX_LOG_WARN,
                    "access denied for \"" + std::string(view.user) + "\" by sso_require: " + *refusal, "Access denied",
                    "You are signed in, but this page is not open to your account.", PageForward::switch_account);
    } catch (...) {
        ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    return false;
}

}  // namespace sso::ngx
