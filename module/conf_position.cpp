#include "module/conf_position.hpp"

#include <cstddef>

namespace sso::ngx {
namespace {

struct Located {
    std::string_view directive;
    std::size_t value;  // the ngx_str_t the directive sets (data null: not set)
    std::size_t at;     // its ConfPos
};

constexpr Located kLocated[] = {
    {"sso_sp_entity_id", offsetof(SrvConf, entity_id), offsetof(SrvConf, entity_id_at)},
    {"sso_sp_acs_url", offsetof(SrvConf, acs_url), offsetof(SrvConf, acs_url_at)},
    {"sso_sp_key", offsetof(SrvConf, key_file), offsetof(SrvConf, key_at)},
    {"sso_sp_certificate", offsetof(SrvConf, cert_file), offsetof(SrvConf, cert_at)},
    {"sso_idp_metadata", offsetof(SrvConf, idp_metadata_file), offsetof(SrvConf, idp_metadata_at)},
    {"sso_idp_metadata_url", offsetof(SrvConf, idp_metadata_url), offsetof(SrvConf, idp_metadata_url_at)},
    {"sso_sp_encryption_key", offsetof(SrvConf, encryption_key_file), offsetof(SrvConf, encryption_key_at)},
    {"sso_sp_encryption_certificate", offsetof(SrvConf, encryption_cert_file), offsetof(SrvConf, encryption_cert_at)},
};

template <class T>
T* member(SrvConf* c, std::size_t offset) noexcept {
    return reinterpret_cast<T*>(reinterpret_cast<char*>(c) + offset);
}

}  // namespace

ConfPos* position_of(SrvConf* c, std::string_view directive) noexcept {
    for (const Located& l : kLocated)
        if (l.directive == directive) return member<ConfPos>(c, l.at);
    return nullptr;
}

void record_position(ngx_conf_t* cf, SrvConf* c, std::string_view directive) noexcept {
    if (ConfPos* at = position_of(c, directive)) {
        at->file = cf->conf_file->file.name;
        at->line = cf->conf_file->line;
    }
}

void merge_positions(const SrvConf* prev, SrvConf* c) noexcept {
    auto* parent = const_cast<SrvConf*>(prev);
    for (const Located& l : kLocated)
        if (!member<ngx_str_t>(c, l.value)->data) *member<ConfPos>(c, l.at) = *member<ConfPos>(parent, l.at);
}

void conf_log_at(ngx_uint_t level, ngx_conf_t* cf, const ConfPos* at, const std::string& msg) noexcept {
    if (at && at->line) {
        ngx_log_error(level, cf->log, 0, "%*s in %V:%ui", msg.size(), msg.data(), &at->file, at->line);
    } else {
        ngx_conf_log_error(level, cf, 0, "%*s", msg.size(), msg.data());
    }
}

char* conf_error_at(ngx_conf_t* cf, const ConfPos* at, const std::string& msg) noexcept {
    conf_log_at(NGX_LOG_EMERG, cf, at, msg);
    return static_cast<char*>(NGX_CONF_ERROR);
}

}  // namespace sso::ngx
