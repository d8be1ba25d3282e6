#include "session/member_set.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

namespace sso {
namespace {

struct Member {
    std::int64_t expires;
    std::string_view name;
};

// The well-formed lines of `encoded`; others are skipped.
std::vector<Member> parse(std::string_view encoded) {
    std::vector<Member> out;
    for_each_member(encoded, [&](std::string_view line) {
        const std::size_t sp = line.find(' ');
        if (sp == std::string_view::npos || sp == 0) return;
        std::int64_t expires = 0;
        const auto [end, ec] = std::from_chars(line.data(), line.data() + sp, expires);
        const std::string_view name = line.substr(sp + 1);
        if (ec != std::errc() || end != line.data() + sp || !is_valid_set_member(name)) return;
        out.push_back({expires, name});
    });
    return out;
}

}  // namespace

bool is_valid_set_member(std::string_view member) noexcept {
    return !member.empty() && member.find_first_of(" \n") == std::string_view::npos;
}

std::string add_set_member(std::string_view encoded, std::string_view member, std::int64_t expires, std::int64_t now) {
    if (!is_valid_set_member(member)) return {};
    std::vector<Member> members;
    bool found = false;
    for (Member& m : parse(encoded)) {
        if (m.name == member) {
            m.expires = std::max(m.expires, expires);
            found = true;
        }
        if (now < m.expires) members.push_back(m);
    }
    if (!found && now < expires) members.push_back({expires, member});
    if (members.size() > kMaxSetMembers) {
        // keep the latest-expiring; among equals, the newest (added last)
        std::stable_sort(members.begin(), members.end(),
                         [](const Member& a, const Member& b) { return a.expires < b.expires; });
        members.erase(members.begin(), members.end() - kMaxSetMembers);
    }
    std::string out;
    for (const Member& m : members) {
        out += std::to_string(m.expires);
        out += ' ';
        out += m.name;
        out += '\n';
    }
    return out;
}

std::int64_t set_expiry(std::string_view encoded) noexcept {
    std::int64_t latest = 0;
    try {
        for (const Member& m : parse(encoded)) latest = std::max(latest, m.expires);
    } catch (...) {
        return 0;
    }
    return latest;
}

std::string live_set_members(std::string_view encoded, std::int64_t now) {
    std::string out;
    for (const Member& m : parse(encoded)) {
        if (now >= m.expires) continue;
        out += m.name;
        out += '\n';
    }
    return out;
}

}  // namespace sso
