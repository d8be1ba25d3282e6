#include "identity/users_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <new>
#include <system_error>

#include "identity/email.hpp"

namespace sso {

namespace {

constexpr std::size_t kQuoteMax = 64;  // how much of a value an error message repeats

constexpr bool is_blank(char c) noexcept {
    return c == ' ' || c == '\t';
}

constexpr bool is_control(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
}

// `s` in double quotes for a message, cut at kQuoteMax bytes. Lines with control characters
// are refused before anything of them is quoted, so the message stays one printable line.
std::string quoted_excerpt(std::string_view s) {
    std::string out = "\"";
    out.append(s.substr(0, kQuoteMax));
    out += s.size() > kQuoteMax ? "...\"" : "\"";
    return out;
}

bool is_attribute_name(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (const char c : s) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '-' || c == '.' || c == ':';
        if (!ok) return false;
    }
    return true;
}

struct LineError {
    std::string message;
};

// One key=value of a line, the value unescaped.
struct Field {
    std::string_view key;
    std::string value;
};

// Reads the field that starts at line[pos] (not blank); advances pos past it.
std::variant<Field, LineError> read_field(std::string_view line, std::size_t& pos) {
    const std::size_t start = pos;
    while (pos < line.size() && line[pos] != '=' && !is_blank(line[pos])) ++pos;
    if (pos == line.size() || line[pos] != '=') {
        return LineError{"field " + quoted_excerpt(line.substr(start, pos - start)) + " has no '='"};
    }
    Field f{line.substr(start, pos - start), {}};
    if (f.key.empty()) return LineError{"a field has no name before '='"};
    ++pos;  // '='
    if (pos < line.size() && line[pos] == '"') {
        ++pos;
        for (;;) {
            if (pos == line.size()) return LineError{"unterminated quote in the value of " + quoted_excerpt(f.key)};
            const char c = line[pos++];
            if (c == '"') break;
            if (c == '\t') return LineError{"a tab in the value of " + quoted_excerpt(f.key)};
            if (c == '\\') {
                if (pos == line.size()) return LineError{"unterminated quote in the value of " + quoted_excerpt(f.key)};
                const char e = line[pos++];
                if (e != '"' && e != '\\') {
                    return LineError{"unknown escape '\\" + std::string(1, e) + "' in the value of " +
                                     quoted_excerpt(f.key) + " (only \\\" and \\\\)"};
                }
                f.value += e;
            } else {
                f.value += c;
            }
            if (f.value.size() > kMaxUsersFileValue) break;  // reported below, no need to read on
        }
        if (f.value.size() <= kMaxUsersFileValue && pos < line.size() && !is_blank(line[pos])) {
            return LineError{"text right after the closing quote of " + quoted_excerpt(f.key)};
        }
    } else {
        const std::size_t vstart = pos;
        while (pos < line.size() && !is_blank(line[pos])) ++pos;
        f.value.assign(line.substr(vstart, pos - vstart));
        if (f.value.find('"') != std::string::npos) {
            return LineError{"a '\"' inside the bare value of " + quoted_excerpt(f.key) + " (quote the whole value)"};
        }
    }
    if (f.value.size() > kMaxUsersFileValue) {
        return LineError{"the value of " + quoted_excerpt(f.key) + " is longer than " +
                         std::to_string(kMaxUsersFileValue) + " bytes"};
    }
    if (f.value.empty()) return LineError{"empty value for " + quoted_excerpt(f.key)};
    return f;
}

// The fields of one account line (not blank, not a comment, no control characters but tab).
std::variant<InternalUser, LineError> parse_account(std::string_view line, bool& has_user) {
    InternalUser u;
    std::size_t pos = 0;
    while (pos < line.size() && is_blank(line[pos])) ++pos;
    const std::size_t estart = pos;
    while (pos < line.size() && !is_blank(line[pos])) ++pos;
    const auto written = line.substr(estart, pos - estart);
    auto email = normalize_email(written);
    if (!email) return LineError{"bad e-mail address " + quoted_excerpt(written) + " (a line starts with the e-mail)"};
    u.email = std::move(*email);

    bool seen_name = false, seen_groups = false;
    has_user = false;
    for (;;) {
        while (pos < line.size() && is_blank(line[pos])) ++pos;
        if (pos == line.size()) break;
        auto read = read_field(line, pos);
        if (auto* e = std::get_if<LineError>(&read)) return std::move(*e);
        auto& f = std::get<Field>(read);
        const auto once = [&](bool& seen) -> std::optional<LineError> {
            if (seen) return LineError{"duplicated field " + quoted_excerpt(f.key)};
            seen = true;
            return std::nullopt;
        };
        if (f.key == "user") {
            if (auto e = once(has_user)) return std::move(*e);
            if (f.value.find(':') != std::string::npos) {
                return LineError{"user name " + quoted_excerpt(f.value) +
                                 " contains ':' (HTTP Basic could not send it)"};
            }
            u.user = std::move(f.value);
        } else if (f.key == "name") {
            if (auto e = once(seen_name)) return std::move(*e);
            u.display_name = std::move(f.value);
        } else if (f.key == "groups") {
            if (auto e = once(seen_groups)) return std::move(*e);
            std::string_view rest = f.value;
            for (;;) {
                const auto comma = rest.find(',');
                const auto group = rest.substr(0, comma);
                if (group.empty()) return LineError{"empty group name in groups " + quoted_excerpt(f.value)};
                for (const auto& g : u.groups) {
                    if (g == group) return LineError{"group " + quoted_excerpt(group) + " listed twice"};
                }
                if (u.groups.size() == kMaxUsersFileGroups) {
                    return LineError{"more than " + std::to_string(kMaxUsersFileGroups) + " groups"};
                }
                u.groups.emplace_back(group);
                if (comma == std::string_view::npos) break;
                rest.remove_prefix(comma + 1);
            }
        } else if (f.key == "password") {
            if (u.password) return LineError{"duplicated field \"password\""};
            auto hash = PasswordHash::parse(f.value);
            if (!hash) return LineError{"password: " + hash.error().reason};
            u.password = std::move(*hash);
        } else if (f.key.starts_with("attr.")) {
            const auto name = f.key.substr(5);
            if (!is_attribute_name(name)) {
                return LineError{"bad attribute name " + quoted_excerpt(name) +
                                 " (letters, digits, '_', '-', '.', ':')"};
            }
            Attribute* attr = nullptr;
            for (auto& a : u.attributes) {
                if (a.name == name) attr = &a;
            }
            if (!attr) {
                if (u.attributes.size() == kMaxUsersFileAttributes) {
                    return LineError{"more than " + std::to_string(kMaxUsersFileAttributes) + " attributes"};
                }
                attr = &u.attributes.emplace_back(Attribute{std::string(name), {}});
            }
            if (attr->values.size() == kMaxUsersFileAttributeValues) {
                return LineError{"more than " + std::to_string(kMaxUsersFileAttributeValues) + " values of attribute " +
                                 quoted_excerpt(name)};
            }
            attr->values.push_back(std::move(f.value));
        } else {
            return LineError{"unknown field " + quoted_excerpt(f.key)};
        }
    }
    if (!has_user) u.user = u.email;
    return u;
}

std::string on_line(std::size_t line) {
    return " (line " + std::to_string(line) + ")";
}

}  // namespace

std::variant<UsersFile, UsersFileError> UsersFile::parse(std::string_view text) noexcept {
    try {
        if (text.size() > kMaxUsersFileBytes) {
            return UsersFileError{0, "larger than " + std::to_string(kMaxUsersFileBytes) + " bytes"};
        }
        if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 byte order mark

        UsersFile file;
        // Identity key of every login name: the normalised e-mail for names that are e-mails,
        // the name itself otherwise; an account's own e-mail is one of its keys.
        std::map<std::string, std::size_t, std::less<>> login_keys;
        std::size_t number = 0;
        while (!text.empty()) {
            ++number;
            const auto nl = text.find('\n');
            auto line = text.substr(0, nl);
            text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
            if (line.ends_with('\r')) line.remove_suffix(1);
            if (line.size() > kMaxUsersFileLine) {
                return UsersFileError{number, "line longer than " + std::to_string(kMaxUsersFileLine) + " bytes"};
            }
            for (std::size_t i = 0; i < line.size(); ++i) {
                if (is_control(line[i]) && line[i] != '\t') {
                    static constexpr char hex[] = "0123456789ABCDEF";
                    const auto c = static_cast<unsigned char>(line[i]);
                    return UsersFileError{number, std::string("control character 0x") + hex[c >> 4] + hex[c & 15] +
                                                      " at column " + std::to_string(i + 1)};
                }
            }
            const auto first = line.find_first_not_of(" \t");
            if (first == std::string_view::npos || line[first] == '#') continue;

            bool explicit_user = false;
            auto parsed = parse_account(line, explicit_user);
            if (auto* e = std::get_if<LineError>(&parsed)) return UsersFileError{number, std::move(e->message)};
            auto& u = std::get<InternalUser>(parsed);
            u.line = number;
            const std::size_t index = file.users_.size();
            const auto line_of = [&](std::size_t i) { return file.users_[i].line; };

            if (auto it = file.by_email_.find(u.email); it != file.by_email_.end()) {
                return UsersFileError{
                    number, "duplicate e-mail " + quoted_excerpt(u.email) + ", also" + on_line(line_of(it->second))};
            }
            if (auto it = login_keys.find(u.email); it != login_keys.end()) {
                return UsersFileError{number, "e-mail " + quoted_excerpt(u.email) + " is the user name of the account" +
                                                  on_line(line_of(it->second))};
            }
            std::string user_key = u.email;
            if (explicit_user) {
                user_key = normalize_email(u.user).value_or(u.user);
                if (auto it = file.by_email_.find(user_key); it != file.by_email_.end()) {
                    return UsersFileError{number, "user name " + quoted_excerpt(u.user) +
                                                      " is the e-mail of the account" + on_line(line_of(it->second))};
                }
                if (auto it = login_keys.find(user_key); it != login_keys.end()) {
                    return UsersFileError{number, "duplicate user name " + quoted_excerpt(u.user) + ", also" +
                                                      on_line(line_of(it->second))};
                }
            }
            file.by_email_.emplace(u.email, index);
            login_keys.emplace(u.email, index);
            login_keys.emplace(user_key, index);  // no-op when it is the e-mail
            file.by_user_.emplace(u.user, index);
            file.users_.push_back(std::move(u));
        }
        return file;
    } catch (const std::bad_alloc&) {
        return UsersFileError{0, "out of memory"};
    }
}

std::variant<UsersFile, UsersFileError> UsersFile::load(const std::string& path) noexcept {
    try {
        struct Fd {
            int fd;
            ~Fd() {
                if (fd >= 0) ::close(fd);
            }
        } f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};  // a FIFO must not block
        const auto os_error = [&](const char* what) {
            return UsersFileError{0, std::string(what) + " " + quoted_excerpt(path) + ": " +
                                         std::error_code(errno, std::generic_category()).message()};
        };
        if (f.fd < 0) return os_error("cannot open");
        struct stat st {};
        if (::fstat(f.fd, &st) != 0) return os_error("cannot stat");
        if (!S_ISREG(st.st_mode)) return UsersFileError{0, quoted_excerpt(path) + " is not a regular file"};
        const auto too_large = [&] {
            return UsersFileError{
                0, quoted_excerpt(path) + " is larger than " + std::to_string(kMaxUsersFileBytes) + " bytes"};
        };
        if (static_cast<std::uint64_t>(st.st_size) > kMaxUsersFileBytes) return too_large();
        std::string text(static_cast<std::size_t>(st.st_size), '\0');
        std::size_t have = 0;
        for (;;) {
            if (have == text.size()) {
                if (text.size() > kMaxUsersFileBytes) return too_large();  // grew while we read
                text.resize(text.size() + 4096);
            }
            const auto n = ::read(f.fd, text.data() + have, text.size() - have);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return os_error("cannot read");
            if (n == 0) break;
            have += static_cast<std::size_t>(n);
        }
        text.resize(have);
        return parse(text);
    } catch (const std::bad_alloc&) {
        return UsersFileError{0, "out of memory"};
    }
}

const InternalUser* UsersFile::by_email(std::string_view normalised) const noexcept {
    const auto it = by_email_.find(normalised);
    return it == by_email_.end() ? nullptr : &users_[it->second];
}

const InternalUser* UsersFile::by_login(std::string_view login) const noexcept {
    if (const auto it = by_user_.find(login); it != by_user_.end()) return &users_[it->second];
    const auto email = normalize_email(login);
    return email ? by_email(*email) : nullptr;
}

}  // namespace sso
