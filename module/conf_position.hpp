// Where the server-level directives whose values are checked after parsing were written, so
// that nginx -t names the directive's own line rather than the end of the block.
#pragma once

#include "module/ngx_includes.hpp"

#include <string>
#include <string_view>

#include "module/sso_conf.hpp"

namespace sso::ngx {

// The slot that keeps where `directive` was written (null: a directive whose place is not kept).
ConfPos* position_of(SrvConf* c, std::string_view directive) noexcept;

// Records the line being parsed as where `directive` is.
void record_position(ngx_conf_t* cf, SrvConf* c, std::string_view directive) noexcept;

// A server that does not set a directive inherits its place with its value: call before the
// values are merged.
void merge_positions(const SrvConf* prev, SrvConf* c) noexcept;

// Logs `msg` at `level`, "in FILE:LINE" of `at`, or of the line being parsed when `at` is
// null or was never recorded.
void conf_log_at(ngx_uint_t level, ngx_conf_t* cf, const ConfPos* at, const std::string& msg) noexcept;

// conf_log_at as an emergency, for returning from merge and check functions.
char* conf_error_at(ngx_conf_t* cf, const ConfPos* at, const std::string& msg) noexcept;

}  // namespace sso::ngx
