// What one SAML login costs the SP: consume_response on a Response that a Lasso IdP (in this
// process) signed, RSA-2048 / SHA-256 with typical attributes. Replay and pending-request
// checks live in the module, so the same Response can be validated again and again.
#include <benchmark/benchmark.h>

#include <ctime>
#include <memory>

#include "saml/service_provider.hpp"
#include "t/support/lasso_idp.hpp"

namespace {

using namespace sso;

struct Fixture {
    testing::TestKeys keys;
    std::unique_ptr<ServiceProvider> sp;
    std::string response;

    Fixture() {
        auto created = ServiceProvider::create(testing::sp_settings(keys));
        if (!created) std::abort();
        sp = std::move(created.value());
        auto request = sp->build_authn_request("bench");
        if (!request) std::abort();
        testing::AnswerOptions options;
        options.valid_for = 3600;
        options.typical_attributes = true;
        response = testing::idp_answer(keys, *sp, request.value(), options);
        if (response.empty() || !sp->consume_response(response, std::time(nullptr))) std::abort();
    }
};

Fixture& fixture() {
    static Fixture f;
    return f;
}

void BM_ConsumeResponse(benchmark::State& state) {
    Fixture& f = fixture();
    const std::int64_t now = std::time(nullptr);
    for (auto _ : state) {
        auto r = f.sp->consume_response(f.response, now);
        if (!r) state.SkipWithError(r.error().reason.c_str());
        benchmark::DoNotOptimize(r);
    }
    state.counters["logins/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["response_bytes"] = static_cast<double>(f.response.size() * 3 / 4);
}
BENCHMARK(BM_ConsumeResponse)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_BuildAuthnRequest(benchmark::State& state) {
    Fixture& f = fixture();
    for (auto _ : state) benchmark::DoNotOptimize(f.sp->build_authn_request("bench"));
}
BENCHMARK(BM_BuildAuthnRequest)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
