// Debian's Lasso is built with its debug traces on: parsing one Response formats ~230 of
// them (vsnprintf, localtime, strftime, g_log) that nothing ever prints, ~17% of a login.
// We define lasso_log ourselves; Lasso calls it through the PLT, so this definition wins
// (for nginx, because our module precedes liblasso in its lookup scope). Debug traces are
// dropped before any formatting; every other level reaches GLib as Lasso would send it.
#pragma once

namespace sso {

// Called once at start-up; it only makes sure the linker keeps our lasso_log.
void keep_lasso_log_quiet() noexcept;

// lasso_init() (which also sets up libxml2 and xmlsec) exactly once, from any thread.
bool lasso_ready();

}  // namespace sso
