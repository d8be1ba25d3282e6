#include "module/certificate_watch.hpp"

#include <string>

#include "module/metadata_source.hpp"
#include "module/sso_conf.hpp"
#include "saml/certificates.hpp"

namespace sso::ngx {
namespace {

constexpr ngx_msec_t kDaily = 86400 * 1000;

ngx_event_t watch_event;  // one per worker process; a reload starts new processes

void check_certificates(ngx_event_t* ev) noexcept {
    if (ngx_exiting || ngx_terminate || ngx_quit) return;
    const auto* mcf = static_cast<const MainConf*>(ev->data);
    const std::int64_t now = ngx_time();
    auto* const* list = static_cast<MetadataSource* const*>(mcf->metadata_sources->elts);
    for (ngx_uint_t i = 0; i < mcf->metadata_sources->nelts; ++i) {
        // The certificates of the metadata in use now: a refresh may have brought new ones.
        const ServiceProvider* sp = list[i]->runtime()->sp.get();
        if (!sp) continue;
        for (const CertificateExpiry& c : sp->certificates()) {
            try {
                const std::string warning = certificate_expiry_warning(c, now);
                if (warning.empty()) continue;
                ngx_log_error(NGX_LOG_WARN, ev->log, 0, "sso: %s; server \"%s\"", warning.c_str(),
                              sp->entity_id().c_str());
            } catch (...) {
                ngx_log_error(NGX_LOG_WARN, ev->log, 0, "sso: certificate expiry check: out of memory");
            }
        }
    }
    ngx_add_timer(ev, kDaily);
}

}  // namespace

void start_certificate_watch(ngx_cycle_t* cycle, const MainConf* mcf) noexcept {
    if (ngx_worker != 0 || !mcf || !mcf->metadata_sources) return;
    watch_event.handler = check_certificates;
    watch_event.data = const_cast<MainConf*>(mcf);
    watch_event.log = cycle->log;
    watch_event.cancelable = 1;  // a worker shutting down does not wait for it
    check_certificates(&watch_event);
}

}  // namespace sso::ngx
