/* The module table that nginx's configure writes as objs/<name>_modules.c for a dynamic
 * module; nginx's loader looks these three symbols up with dlsym. */
#include <ngx_config.h>
#include <ngx_core.h>

extern ngx_module_t ngx_http_sso_module;

ngx_module_t *ngx_modules[] = {
    &ngx_http_sso_module,
    NULL
};

char *ngx_module_names[] = {
    "ngx_http_sso_module",
    NULL
};

char *ngx_module_order[] = {
    NULL
};
