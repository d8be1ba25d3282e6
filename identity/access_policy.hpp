// Access rules of a location (`sso_require`): who, once signed in, may pass.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "session/session_record.hpp"

namespace sso {

enum class RuleKind { user, group, attribute };

// One `sso_require` line: the identity must have one of `values` as its user name, among its
// groups, or among the values of `attribute`. Values are kept in the header-safe form in which
// sessions store them (identity/header_value.hpp), so they compare as stored.
struct AccessRule {
    RuleKind kind = RuleKind::group;
    std::string attribute;  // RuleKind::attribute only
    std::vector<std::string> values;
};

// A rule from configuration words: "user" V..., "group" V..., "attribute" NAME V...; nullopt
// with `error` set when they do not make one.
std::optional<AccessRule> parse_access_rule(const std::vector<std::string>& words, std::string& error);

// nullopt when `identity` may pass: every rule holds (match_all) or at least one does;
// otherwise the reason, for the log ("not in group \"editors\""). User names and groups
// compare ASCII-case-insensitively (directories treat them so); attribute values exactly.
std::optional<std::string> access_refusal(const std::vector<AccessRule>& rules, bool match_all,
                                          const SessionView& identity);

}  // namespace sso
