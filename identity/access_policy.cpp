#include "identity/access_policy.hpp"

#include "identity/header_value.hpp"

namespace sso {
namespace {

bool iequal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

bool any_of(const StringList& list, const std::vector<std::string>& wanted, bool ignore_case) {
    bool hit = false;
    list.for_each([&](std::string_view have) noexcept {
        for (const auto& w : wanted) hit = hit || (ignore_case ? iequal(have, w) : have == w);
    });
    return hit;
}

bool holds(const AccessRule& rule, const SessionView& id) {
    switch (rule.kind) {
        case RuleKind::user:
            for (const auto& w : rule.values)
                if (iequal(id.user, w)) return true;
            return false;
        case RuleKind::group:
            return any_of(id.groups, rule.values, true);
        case RuleKind::attribute: {
            auto values = id.attribute(rule.attribute);
            return values && any_of(*values, rule.values, false);
        }
    }
    return false;
}

std::string describe(const AccessRule& rule) {
    std::string list;
    for (const auto& v : rule.values) list += (list.empty() ? "\"" : ", \"") + v + "\"";
    switch (rule.kind) {
        case RuleKind::user:
            return "user is not " + list;
        case RuleKind::group:
            return "not in group " + list;
        case RuleKind::attribute:
            return "attribute " + rule.attribute + " is not " + list;
    }
    return {};
}

}  // namespace

std::optional<AccessRule> parse_access_rule(const std::vector<std::string>& words, std::string& error) {
    AccessRule rule;
    std::size_t first_value = 1;
    if (words.empty()) {
        error = "expected user, group or attribute";
        return std::nullopt;
    }
    if (words[0] == "user") {
        rule.kind = RuleKind::user;
    } else if (words[0] == "group") {
        rule.kind = RuleKind::group;
    } else if (words[0] == "attribute") {
        rule.kind = RuleKind::attribute;
        if (words.size() < 2 || words[1].empty()) {
            error = "\"attribute\" needs an attribute name and at least one value";
            return std::nullopt;
        }
        rule.attribute = words[1];
        first_value = 2;
    } else {
        error = "unknown kind \"" + words[0] + "\" (user, group or attribute)";
        return std::nullopt;
    }
    for (std::size_t i = first_value; i < words.size(); ++i) {
        if (words[i].empty()) {
            error = "an empty value matches nobody";
            return std::nullopt;
        }
        rule.values.push_back(encode_header_value(words[i]));
    }
    if (rule.values.empty()) {
        error = "\"" + words[0] + "\" needs at least one value";
        return std::nullopt;
    }
    return rule;
}

std::optional<std::string> access_refusal(const std::vector<AccessRule>& rules, bool match_all,
                                          const SessionView& identity) {
    std::optional<std::string> first_failure;
    for (const auto& rule : rules) {
        const bool ok = holds(rule, identity);
        if (ok && !match_all) return std::nullopt;
        if (!ok && !first_failure) first_failure = describe(rule);
        if (!ok && match_all) return first_failure;
    }
    if (match_all || rules.empty()) return std::nullopt;
    return "none of the rules holds: " + *first_failure;
}

}  // namespace sso
