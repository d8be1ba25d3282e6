#include "module/user_directory_zone.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "module/http_util.hpp"
#include "module/shm_store.hpp"

namespace sso::ngx {
namespace {

constexpr std::size_t kMaxSlots = 32;
constexpr std::size_t kNameMax = 64;
constexpr std::size_t kErrorMax = 400;

struct Slot {
    char name[kNameMax];  // empty: free
    u_char* snapshot;
    std::size_t snapshot_size;
    std::uint32_t users, no_email, duplicates;
    std::int64_t last_start, last_end, last_success, next_due;
    ImportOutcome outcome;
    char error[kErrorMax];
    ngx_pid_t running_pid;  // 0: no import running
    std::uint8_t sync_requested;
    std::uint64_t imports;
    std::uint64_t attempts;
};

struct Shared {
    Slot slots[kMaxSlots];
};

ngx_slab_pool_t* pool_of(ngx_shm_zone_t* zone) noexcept {
    return reinterpret_cast<ngx_slab_pool_t*>(zone->shm.addr);
}

class Locked {
public:
    explicit Locked(ngx_shm_zone_t* zone) noexcept : pool_(pool_of(zone)), sh_(static_cast<Shared*>(zone->data)) {
        ngx_shmtx_lock(&pool_->mutex);
    }
    ~Locked() { ngx_shmtx_unlock(&pool_->mutex); }
    Locked(const Locked&) = delete;
    Locked& operator=(const Locked&) = delete;

    Slot* find(std::string_view name) noexcept {
        if (name.empty() || name.size() >= kNameMax) return nullptr;
        for (Slot& s : sh_->slots)
            if (s.name[0] && name == s.name) return &s;
        return nullptr;
    }
    ngx_slab_pool_t* pool() noexcept { return pool_; }
    Shared* shared() noexcept { return sh_; }

private:
    ngx_slab_pool_t* pool_;
    Shared* sh_;
};

std::string_view snapshot_of(const Slot& s) noexcept {
    return {reinterpret_cast<const char*>(s.snapshot), s.snapshot_size};
}

// A process that died in the middle of an import (a crash, or an old worker that exited before
// its import came back) must not block the source for ever.
bool alive(ngx_pid_t pid) noexcept {
    return pid != 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

void set_error(Slot& s, std::string_view text) noexcept {
    const std::size_t n = std::min(text.size(), kErrorMax - 1);
    std::memcpy(s.error, text.data(), n);
    s.error[n] = '\0';
}

void clear_slot(ngx_slab_pool_t* pool, Slot& s) noexcept {
    if (s.snapshot) ngx_slab_free_locked(pool, s.snapshot);
    std::memset(&s, 0, sizeof s);
}

}  // namespace

ngx_int_t DirectoryZone::init_zone(ngx_shm_zone_t* zone, void* data) noexcept {
    const auto* names = static_cast<const std::vector<std::string>*>(zone->data);
    bool fresh = false;
    if (!zone_shared_block(zone, data, sizeof(Shared), fresh)) return NGX_ERROR;
    Locked shm(zone);
    // Slots of sources that left the configuration go; new sources get one.
    for (Slot& s : shm.shared()->slots) {
        if (!s.name[0]) continue;
        if (!names || std::find(names->begin(), names->end(), std::string_view(s.name)) == names->end())
            clear_slot(shm.pool(), s);
    }
    if (!names) return NGX_OK;
    for (const std::string& name : *names) {
        if (shm.find(name)) continue;
        Slot* free_slot = nullptr;
        for (Slot& s : shm.shared()->slots)
            if (!s.name[0]) {
                free_slot = &s;
                break;
            }
        if (!free_slot || name.size() >= kNameMax) return NGX_ERROR;  // sso_sources refuses both first
        std::memcpy(free_slot->name, name.data(), name.size());
    }
    if (fresh) pool_of(zone)->log_nomem = 0;  // "no room" is reported by the import itself
    return NGX_OK;
}

ngx_str_t DirectoryZone::copy_user(ngx_shm_zone_t* zone, std::string_view source, std::string_view email,
                                   ngx_pool_t* pool, bool& found) noexcept {
    found = false;
    Locked shm(zone);
    Slot* s = shm.find(source);
    if (!s || !s->snapshot) return {0, nullptr};
    auto record = find_in_snapshot(snapshot_of(*s), email);
    if (!record) return {0, nullptr};
    found = true;
    return pool_copy(pool, *record);
}

Presence DirectoryZone::presence(ngx_shm_zone_t* zone, std::string_view source, std::string_view email) noexcept {
    Locked shm(zone);
    Slot* s = shm.find(source);
    if (!s || !s->snapshot) return Presence::not_imported;
    return find_in_snapshot(snapshot_of(*s), email) ? Presence::present : Presence::absent;
}

std::optional<ImportState> DirectoryZone::state(ngx_shm_zone_t* zone, std::string_view source) noexcept {
    try {
        Locked shm(zone);
        Slot* s = shm.find(source);
        if (!s) return std::nullopt;
        ImportState st;
        st.imported = s->snapshot != nullptr;
        st.users = s->users;
        st.no_email = s->no_email;
        st.duplicates = s->duplicates;
        st.last_start = s->last_start;
        st.last_end = s->last_end;
        st.last_success = s->last_success;
        st.next_due = s->next_due;
        st.last_outcome = s->outcome;
        st.last_error = s->error;
        st.running = alive(s->running_pid);
        st.imports = s->imports;
        st.attempts = s->attempts;
        return st;
    } catch (...) {
        return std::nullopt;
    }
}

bool DirectoryZone::claim(ngx_shm_zone_t* zone, std::string_view source, std::int64_t now) noexcept {
    Locked shm(zone);
    Slot* s = shm.find(source);
    if (!s || alive(s->running_pid)) return false;
    if (!s->sync_requested && now < s->next_due) return false;
    s->running_pid = ngx_pid;
    s->sync_requested = 0;
    s->last_start = now;
    ++s->attempts;
    return true;
}

bool DirectoryZone::request_sync(ngx_shm_zone_t* zone, std::string_view source) noexcept {
    Locked shm(zone);
    Slot* s = shm.find(source);
    if (!s || alive(s->running_pid)) return false;
    s->sync_requested = 1;
    return true;
}

ImportOutcome DirectoryZone::publish(ngx_shm_zone_t* zone, std::string_view source, const Publish& p,
                                     std::string& message) noexcept {
    try {
        const std::size_t size = p.snapshot ? p.snapshot->bytes.size() : 0;
        u_char* copy = nullptr;
        std::size_t previous_users = 0;
        std::string refusal;
        {
            Locked shm(zone);
            Slot* s = shm.find(source);
            if (!s) return ImportOutcome::failed;
            previous_users = s->snapshot ? s->users : 0;
            if (!p.snapshot) {
                refusal = p.error;
            } else {
                const std::size_t now_users = p.snapshot->stats.users;
                // A filter that suddenly matches almost nobody is far more likely than half the
                // company leaving overnight: keep the users we have and say so.
                if (previous_users && now_users < previous_users &&
                    (previous_users - now_users) * 100 >
                        static_cast<std::size_t>(p.max_drop_percent) * previous_users) {
                    refusal = "import refused: it would remove " + std::to_string(previous_users - now_users) + " of " +
                              std::to_string(previous_users) +
                              " users, more than max_drop=" + std::to_string(p.max_drop_percent) + "%";
                } else {
                    copy = static_cast<u_char*>(ngx_slab_alloc_locked(shm.pool(), size));
                    if (!copy)
                        refusal = "import refused: the zone \"" + std::string(sv(zone->shm.name)) + "\" (" +
                                  std::to_string(zone->shm.size) + " bytes) has no room for a snapshot of " +
                                  std::to_string(size) + " bytes";
                }
            }
            if (!copy) {
                s->outcome = p.snapshot ? ImportOutcome::refused : ImportOutcome::failed;
                set_error(*s, refusal);
                s->last_end = p.now;
                s->next_due = p.next_due;
                s->running_pid = 0;
                message = refusal + (previous_users ? "; keeping the " + std::to_string(previous_users) +
                                                          " users of the last import"
                                                    : "; no users imported yet");
                return s->outcome;
            }
        }
        // Nobody sees the new block before the swap: copy it without holding the lock.
        std::memcpy(copy, p.snapshot->bytes.data(), size);
        Locked shm(zone);
        Slot* s = shm.find(source);
        if (!s) {  // the source left the configuration meanwhile
            ngx_slab_free_locked(shm.pool(), copy);
            return ImportOutcome::failed;
        }
        if (s->snapshot) ngx_slab_free_locked(shm.pool(), s->snapshot);
        s->snapshot = copy;
        s->snapshot_size = size;
        s->users = static_cast<std::uint32_t>(p.snapshot->stats.users);
        s->no_email = static_cast<std::uint32_t>(p.snapshot->stats.no_email);
        s->duplicates = static_cast<std::uint32_t>(p.snapshot->stats.duplicates);
        s->outcome = ImportOutcome::ok;
        s->error[0] = '\0';
        s->last_end = s->last_success = p.now;
        s->next_due = p.next_due;
        s->running_pid = 0;
        ++s->imports;
        message = std::to_string(s->users) + " users imported (previously " + std::to_string(previous_users) + "), " +
                  std::to_string(s->no_email) + " entries without a usable e-mail and " +
                  std::to_string(s->duplicates) + " sharing an e-mail left out, " + std::to_string(size) +
                  " bytes, in " + std::to_string(p.now - p.started) + " s";
        return ImportOutcome::ok;
    } catch (...) {
        // Out of memory for the messages: the import still ends, or the source would stay claimed.
        Locked shm(zone);
        if (Slot* s = shm.find(source)) {
            s->running_pid = 0;
            s->next_due = p.next_due;
        }
        return ImportOutcome::failed;
    }
}

}  // namespace sso::ngx
