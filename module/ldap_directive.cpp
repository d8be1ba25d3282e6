// `sso_ldap_directory NAME { ... }`: one directory, checked completely when the configuration
// loads so that nginx -t names the setting that is wrong.
#include "module/ldap_directive.hpp"

#include <string>

#include "module/conf_util.hpp"
#include "module/sso_conf.hpp"

namespace sso::ngx {
namespace {

struct BlockState {
    LdapDirectoryConf* conf;
    ldap::DirectorySettings settings;
    std::string realm;  // the block's name unless `realm` says otherwise
};

std::optional<bool> parse_flag(std::string_view v) {
    if (v == "on") return true;
    if (v == "off") return false;
    return std::nullopt;
}

// A time value ("5s", "500ms") in milliseconds.
std::optional<long> parse_msec(ngx_str_t v) {
    const ngx_int_t ms = ngx_parse_time(&v, 0);
    if (ms == NGX_ERROR) return std::nullopt;
    return static_cast<long>(ms);
}

// One line inside the block. nginx reports a returned message with the file and line.
char* directive_line(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept {
    auto* st = static_cast<BlockState*>(conf);
    try {
        auto* args = static_cast<ngx_str_t*>(cf->args->elts);
        const std::string_view key = sv(args[0]);
        const ngx_uint_t n = cf->args->nelts;
        const std::string where = "\"sso_ldap_directory " + st->conf->name + "\": ";
        auto wrong_args = [&] { return conf_error(cf, where + "wrong number of arguments to " + in_quotes(key)); };
        auto& s = st->settings;
        if (key == "url") {
            if (n < 2) return wrong_args();
            for (ngx_uint_t i = 1; i < n; ++i) s.urls.emplace_back(sv(args[i]));
            return NGX_CONF_OK;
        }
        if (n != 2) return wrong_args();
        const std::string value(sv(args[1]));
        auto bad_value = [&](std::string_view expected) {
            return conf_error(cf,
                              where + in_quotes(key) + ": " + in_quotes(value) + " is not " + std::string(expected));
        };
        if (key == "starttls" || key == "verify_certificate") {
            auto flag = parse_flag(value);
            if (!flag) return bad_value("on or off");
            (key == "starttls" ? s.starttls : s.verify_cert) = *flag;
        } else if (key == "ca_file") {
            ngx_str_t path = args[1];
            if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) return static_cast<char*>(NGX_CONF_ERROR);
            s.ca_file = str(path);
        } else if (key == "bind_dn") {
            s.bind_dn = value;
        } else if (key == "bind_password") {
            s.bind_password = value;
        } else if (key == "base_dn") {
            s.base_dn = value;
        } else if (key == "scope") {
            if (value == "base")
                s.scope = ldap::Scope::base;
            else if (value == "one")
                s.scope = ldap::Scope::one;
            else if (value == "sub")
                s.scope = ldap::Scope::sub;
            else
                return bad_value("base, one or sub");
        } else if (key == "user_filter") {
            s.user_filter = value;
        } else if (key == "user_attribute") {
            s.user_attribute = value;
        } else if (key == "email_attribute") {
            s.email_attribute = value;
        } else if (key == "name_attribute") {
            s.name_attribute = value;
        } else if (key == "group_attribute") {
            s.group_attribute = value == "none" ? "" : value;
        } else if (key == "group_base") {
            s.group_base = value;
        } else if (key == "group_filter") {
            s.group_filter = value;
        } else if (key == "group_name_attribute") {
            s.group_name_attribute = value;
        } else if (key == "group_member_attribute") {
            s.group_member_attribute = value;
        } else if (key == "import_filter") {
            s.import_filter = value;
        } else if (key == "import_page_size") {
            const ngx_int_t n = ngx_atoi(args[1].data, args[1].len);
            if (n < 1 || n > ldap::kMaxImportPageSize)
                return bad_value("a number between 1 and " + std::to_string(ldap::kMaxImportPageSize));
            s.import_page_size = static_cast<int>(n);
        } else if (key == "import_max_users") {
            const ngx_int_t n = ngx_atoi(args[1].data, args[1].len);
            if (n < 1) return bad_value("a positive number");
            s.import_max_users = static_cast<std::size_t>(n);
        } else if (key == "connect_timeout" || key == "timeout") {
            auto ms = parse_msec(args[1]);
            if (!ms || *ms <= 0 || *ms > 600000) return bad_value("a time between 1ms and 10m");
            (key == "timeout" ? s.operation_timeout_ms : s.connect_timeout_ms) = static_cast<int>(*ms);
        } else if (key == "cache_ttl" || key == "failure_cache_ttl") {
            const time_t t = ngx_parse_time(&args[1], 1);
            if (t == static_cast<time_t>(NGX_ERROR)) return bad_value("a time");
            if (key == "failure_cache_ttl" && t > kMaxFailureCacheTtl)
                return conf_error(cf, where +
                                          "\"failure_cache_ttl\" is at most 10s: a failed check must not "
                                          "outlive a password reset for long");
            (key == "cache_ttl" ? st->conf->cache_ttl : st->conf->failure_cache_ttl) = t;
        } else if (key == "realm") {
            if (value.find_first_of("\"\\\r\n") != std::string::npos)
                return bad_value("a realm without quotes, backslashes or line breaks");
            st->realm = value;
        } else {
            return conf_error(cf, where + "unknown setting " + in_quotes(key));
        }
        return NGX_CONF_OK;
    } catch (...) {
        return static_cast<char*>(NGX_CONF_ERROR);
    }
}

}  // namespace

char* ldap_directory_block(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept {
    auto* mcf = static_cast<MainConf*>(conf);
    auto* args = static_cast<ngx_str_t*>(cf->args->elts);
    try {
        const std::string name = str(args[1]);
        if (!mcf->ldap) {
            mcf->ldap = pool_new<LdapDirectories>(cf->pool);
            if (!mcf->ldap) return static_cast<char*>(NGX_CONF_ERROR);
        }
        if (name.empty() || name == "off" || mcf->ldap->find(name))
            return conf_error(cf, "\"sso_ldap_directory\": " + in_quotes(name) +
                                      (name == "off" || name.empty() ? " cannot name a directory" : " is duplicate"));
        mcf->ldap->list.push_back(std::make_unique<LdapDirectoryConf>());
        LdapDirectoryConf* d = mcf->ldap->list.back().get();
        d->name = name;

        BlockState st{d, {}, name};
        st.settings.name = name;
        ngx_conf_t saved = *cf;
        cf->handler = directive_line;
        cf->handler_conf = reinterpret_cast<char*>(&st);
        char* rv = ngx_conf_parse(cf, nullptr);
        *cf = saved;
        if (rv != NGX_CONF_OK) return rv;

        if (auto error = ldap::settings_error(st.settings))
            return conf_error(cf, "\"sso_ldap_directory " + name + "\": " + *error);
        d->directory = std::make_unique<ldap::Directory>(std::move(st.settings));
        d->set_realm(std::move(st.realm));
        return NGX_CONF_OK;
    } catch (...) {
        return static_cast<char*>(NGX_CONF_ERROR);
    }
}

}  // namespace sso::ngx
