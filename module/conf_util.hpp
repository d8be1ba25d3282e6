// Helpers for directive handlers and merge functions.
#pragma once

#include "module/ngx_includes.hpp"

#include <new>
#include <string>
#include <utility>

#include "module/http_util.hpp"

namespace sso::ngx {

// C++ objects in configuration (or request) pools: constructed in pool memory, destroyed by
// the pool's cleanup.
template <class T, class... Args>
T* pool_new(ngx_pool_t* pool, Args&&... args) noexcept {
    ngx_pool_cleanup_t* cln = ngx_pool_cleanup_add(pool, sizeof(T));
    if (!cln) return nullptr;
    try {
        T* obj = new (cln->data) T(std::forward<Args>(args)...);
        cln->handler = [](void* p) { static_cast<T*>(p)->~T(); };
        return obj;
    } catch (...) {
        cln->handler = nullptr;
        return nullptr;
    }
}

inline std::string str(const ngx_str_t& s) {
    return std::string(sv(s));
}

// `s` in double quotes, for configuration messages. Built by appending: `"\"" + std::string`
// trips a GCC 12 -Wrestrict false positive at -O2.
inline std::string in_quotes(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    out += s;
    out += '"';
    return out;
}

// Logs `msg` as an emergency at the directive being parsed (nginx adds "in FILE:LINE").
inline char* conf_error(ngx_conf_t* cf, const std::string& msg) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%*s", msg.size(), msg.data());
    return static_cast<char*>(NGX_CONF_ERROR);
}

}  // namespace sso::ngx
