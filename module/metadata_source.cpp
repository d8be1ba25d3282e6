#include "module/metadata_source.hpp"

#include <ctime>

#include "module/sso_conf.hpp"
#include "saml/saml_time.hpp"

namespace sso::ngx {

// One refresh: the thread reads `config` and `current` and writes `result`, nothing else.
// Heap-allocated on its own: a worker that exits while a fetch is in flight leaves it to the
// thread rather than freeing memory the thread still writes.
struct MetadataSource::Job {
    ngx_thread_task_t task{};
    MetadataSource* source;
    UrlMetadataConfig config;
    std::string current;
    MetadataLoad result;
};

bool ServerRuntime::metadata_expired() const noexcept {
    return metadata && metadata->status().expired;
}

MetadataSource::MetadataSource(ServerRuntime* rt, MetadataStatus status, UrlMetadataConfig config, std::string current,
                               std::int64_t refresh, const IdpMetadataInfo& info) noexcept
    : rt_(rt),
      status_(std::move(status)),
      config_(std::move(config)),
      current_(std::move(current)),
      refresh_(refresh),
      info_(info) {}

MetadataSource::~MetadataSource() {
    if (timer_.timer_set) ngx_del_timer(&timer_);
    if (job_) job_->source = nullptr;  // still in a thread: leaked on purpose, see Job
}

void MetadataSource::start(ngx_cycle_t* cycle, ngx_thread_pool_t* pool) noexcept {
    const std::int64_t now = ngx_time();
    if (!is_url() && !status_.valid_until) return;  // a file without validUntil never changes
    pool_ = pool;
    timer_.handler = on_timer;
    timer_.data = this;
    timer_.log = cycle->log;
    timer_.cancelable = 1;  // a worker shutting down does not wait for the next refresh
    if (is_url())
        schedule(status_.next_refresh > now ? status_.next_refresh - now : 1);
    else
        schedule(*status_.valid_until - now);  // only to turn SAML off when the file expires
}

void MetadataSource::schedule(std::int64_t delay) noexcept {
    const std::int64_t now = ngx_time();
    // Wake up when the metadata expires too, to turn SAML off on time.
    if (status_.valid_until && !status_.expired && *status_.valid_until > now)
        delay = std::min(delay, *status_.valid_until - now);
    delay = std::max<std::int64_t>(1, delay);
    status_.next_refresh = now + delay;
    ngx_add_timer(&timer_, static_cast<ngx_msec_t>(delay) * 1000);
}

void MetadataSource::on_timer(ngx_event_t* ev) noexcept {
    auto* self = static_cast<MetadataSource*>(ev->data);
    if (ngx_exiting || ngx_terminate || ngx_quit) return;
    self->expire_if_due(ngx_time());
    if (self->is_url()) self->refresh();
}

void MetadataSource::expire_if_due(std::int64_t now) noexcept {
    if (status_.expired || !status_.valid_until || now < *status_.valid_until || !rt_->sp) return;
    rt_->sp.reset();
    status_.expired = true;
    ngx_log_error(NGX_LOG_ERR, timer_.log, 0,
                  "sso: IdP metadata of \"%s\" from \"%s\" expired (validUntil %s); SAML sign-in is off until "
                  "fresh metadata is loaded",
                  status_.entity_id.c_str(), status_.location.c_str(), format_saml_time(*status_.valid_until).c_str());
}

void MetadataSource::refresh() noexcept {
    if (job_) return;  // the previous fetch is still running; it reschedules when it ends
    Job* job = nullptr;
    try {
        job = new Job{{}, this, config_, current_, {}};
    } catch (...) {
        schedule(refresh_);
        return;
    }
    job->task.ctx = job;
    job->task.handler = run_job;
    job->task.event.handler = job_done;
    job->task.event.data = job;
    job->task.event.log = timer_.log;
    if (ngx_thread_task_post(pool_, &job->task) != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, timer_.log, 0,
                      "sso: IdP metadata refresh of \"%s\" not started: the thread pool queue is full",
                      config_.url.c_str());
        delete job;
        schedule(next_refresh_delay(refresh_, &info_, ngx_time(), true));
        return;
    }
    job_ = job;
}

void MetadataSource::run_job(void* data, ngx_log_t*) noexcept {
    auto* job = static_cast<Job*>(data);
    try {
        job->result = fetch_metadata(job->config, std::time(nullptr), job->current, true);
    } catch (const std::exception& e) {
        job->result = MetadataLoad::failed(std::string("refresh failed: ") + e.what());
    } catch (...) {
        job->result = MetadataLoad::failed("refresh failed");
    }
}

void MetadataSource::job_done(ngx_event_t* ev) noexcept {
    auto* job = static_cast<Job*>(ev->data);
    if (job->source) job->source->finish(*job);
    delete job;
}

void MetadataSource::finish(Job& job) noexcept {
    job_ = nullptr;
    const std::int64_t now = ngx_time();
    MetadataLoad& r = job.result;
    status_.last_fetch = now;
    if (!r.ok()) {
        status_.last_fetch_result = r.error;
        ngx_log_error(NGX_LOG_WARN, timer_.log, 0,
                      "sso: IdP metadata refresh failed: %s; keeping the copy loaded at %s", r.error.c_str(),
                      format_saml_time(status_.loaded_at).c_str());
        expire_if_due(now);
        schedule(next_refresh_delay(refresh_, &info_, now, true));
        return;
    }
    if (!r.warning.empty()) ngx_log_error(NGX_LOG_WARN, timer_.log, 0, "sso: IdP metadata: %s", r.warning.c_str());
    status_.last_success = now;
    status_.last_fetch_result = r.unchanged ? "unchanged" : "ok";
    // The document in use, new or not, is now the URL's: a copy from the cache is confirmed.
    status_.loaded_from = "url";
    status_.confirmed_at = now;
    info_ = r.info;
    status_.valid_until = info_.valid_until;
    if (!r.unchanged) {
        // The swap happens here, between events: no request holds the old one across events.
        rt_->sp = std::move(r.sp);
        current_ = std::move(r.xml);
        status_.entity_id = info_.entity_id;
        status_.loaded_at = now;
        status_.signature_verified = info_.signature_verified;
        ngx_log_error(NGX_LOG_NOTICE, timer_.log, 0, "sso: IdP metadata of \"%s\" refreshed from \"%s\"",
                      info_.entity_id.c_str(), config_.url.c_str());
    }
    if (status_.expired && rt_->sp) {
        status_.expired = false;
        ngx_log_error(NGX_LOG_NOTICE, timer_.log, 0, "sso: SAML sign-in is on again with fresh IdP metadata");
    }
    schedule(next_refresh_delay(refresh_, &info_, now, false));
}

}  // namespace sso::ngx
