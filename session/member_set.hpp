// The sets of the slo_subjects table (the sessions of one NameID from one IdP) as the embedded
// store keeps one in a single value. Redis keeps them as a sorted set (score: expiry) under
// the same rules, in module/redis_store.cpp.
//
// Encoding: one line per member: its expiry (unix seconds, decimal), ' ', the member, '\n'.
// Members are session IDs: no space, no newline, never empty.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sso {

// A set holds at most this many members; beyond it, those that expire first are dropped (a
// user with more sessions than this at once is unlikely; losing one only loses its logout by
// a LogoutRequest without SessionIndex, not the session).
inline constexpr std::size_t kMaxSetMembers = 64;

bool is_valid_set_member(std::string_view member) noexcept;

// `encoded` with `member` in it until `expires` (a member already there takes the later
// expiry), without the members expired at `now` and without the soonest-expiring beyond
// kMaxSetMembers. Lines that are not well formed are dropped. Empty (no set) when `member` is
// not valid or nothing is left.
std::string add_set_member(std::string_view encoded, std::string_view member, std::int64_t expires, std::int64_t now);

// The latest expiry of a member: when the whole set may go. 0 for an empty set.
std::int64_t set_expiry(std::string_view encoded) noexcept;

// The members alive at `now`, each followed by '\n': what Store::take_members answers.
std::string live_set_members(std::string_view encoded, std::int64_t now);

// f(std::string_view member) for each member of a take_members answer ("a\nb\n").
template <class F>
void for_each_member(std::string_view list, F&& f) {
    while (!list.empty()) {
        const std::size_t nl = list.find('\n');
        const std::string_view member = list.substr(0, nl);
        if (!member.empty()) f(member);
        if (nl == std::string_view::npos) break;
        list.remove_prefix(nl + 1);
    }
}

}  // namespace sso
