// The one place nginx's C headers enter C++: they must have C linkage, or the .so links but
// dlopen fails on mangled names (the symbols live in the nginx executable).
#pragma once

extern "C" {
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_thread_pool.h>

extern ngx_module_t ngx_http_sso_module;
}
