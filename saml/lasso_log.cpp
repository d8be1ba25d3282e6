#include "saml/lasso_log.hpp"

#include <glib.h>

#include <cstdarg>
#include <mutex>

#include "saml/lasso_includes.hpp"

extern "C" __attribute__((visibility("default"))) void lasso_log(GLogLevelFlags level, const char* filename, int line,
                                                                 const char* function, const char* format, ...) {
    if ((level & G_LOG_LEVEL_MASK) == G_LOG_LEVEL_DEBUG) return;
    char text[1024];
    va_list args;
    va_start(args, format);
    g_vsnprintf(text, sizeof text, format, args);
    va_end(args);
    g_log("Lasso", level, "%s:%d:%s %s", filename ? filename : "", line, function ? function : "", text);
}

namespace sso {

void keep_lasso_log_quiet() noexcept {
    // The address escapes, so the object file (and lasso_log with it) stays in the link.
    static void (*volatile keep)(GLogLevelFlags, const char*, int, const char*, const char*, ...) = &lasso_log;
    (void)keep;
}

bool lasso_ready() {
    static std::once_flag once;
    static bool ok = false;
    std::call_once(once, [] {
        keep_lasso_log_quiet();
        ok = lasso_init() == 0;
    });
    return ok;
}

}  // namespace sso
