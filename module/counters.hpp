// Counters of sign-ins, refusals, access denials and logouts, shared by all workers in a small
// shared-memory zone of their own (kept across reloads), for sso_status and `sso_metrics`
// (Prometheus text format).
#pragma once

#include "module/ngx_includes.hpp"

#include <string>

namespace sso::ngx {

enum class Counter : unsigned {
    login_saml,
    login_ldap_form,
    login_ldap_basic,   // a Basic check the directory confirmed (cache hits are not sign-ins)
    refused_saml,       // a SAML Response refused at the ACS, replays aside
    refused_replay,     // an assertion presented a second time
    refused_ldap,       // wrong or empty credentials, or a name found twice
    directory_down,     // the directory unreachable or too slow (503/504)
    store_unavailable,  // the session store could not answer (503)
    access_denied,      // signed in, refused by sso_require (403)
    logout,
    count_
};

// ngx_shm_zone_t.init of the counters zone.
ngx_int_t init_counters_zone(ngx_shm_zone_t* zone, void* data) noexcept;

void count(ngx_http_request_t* r, Counter c) noexcept;

// The zone's values, as a JSON object text and as Prometheus exposition text.
struct CounterValues {
    ngx_atomic_uint_t v[static_cast<unsigned>(Counter::count_)] = {};
    ngx_atomic_uint_t operator[](Counter c) const noexcept { return v[static_cast<unsigned>(c)]; }
};
CounterValues read_counters(ngx_shm_zone_t* zone) noexcept;

ngx_int_t metrics_handler(ngx_http_request_t* r) noexcept;  // `sso_metrics`

}  // namespace sso::ngx
