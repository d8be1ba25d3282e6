/* The one C file nginx's own build compiles for this module (./configure
 * --add-dynamic-module): the module itself is C++ and arrives as a static archive built
 * by CMake (see ../config and ../config.make). Referencing the module object here pulls it
 * out of that archive. */
#include <ngx_config.h>
#include <ngx_core.h>

extern ngx_module_t ngx_http_sso_module;

ngx_module_t *ngx_http_sso_module_anchor = &ngx_http_sso_module;
