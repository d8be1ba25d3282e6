// What one SAML login costs the SP: consume_response on a Response that a Lasso IdP (in this
// process) signed, RSA-2048 / SHA-256 with typical attributes. Replay and pending-request
// checks live in the module, so the same Response can be validated again and again.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "saml/handles.hpp"

#include <lasso/xml/misc_text_node.h>
#include <lasso/xml/saml-2.0/saml2_attribute_statement.h>
#include "saml/saml_time.hpp"
#include "saml/service_provider.hpp"

namespace {

namespace fs = std::filesystem;
using namespace sso;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string pem_body(const std::string& pem) {
    std::string out;
    std::istringstream in(pem);
    for (std::string line; std::getline(in, line);)
        if (line.find("-----") == std::string::npos) out += line;
    return out;
}

struct Fixture {
    fs::path dir = fs::temp_directory_path() / ("sso-login-bench-" + std::to_string(::getpid()));
    std::unique_ptr<ServiceProvider> sp;
    std::string response;

    Fixture() {
        fs::create_directories(dir);
        for (const char* who : {"sp", "idp"}) {
            const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=" + std::string(who) +
                                    " -keyout " + (dir / (std::string(who) + ".key")).string() + " -out " +
                                    (dir / (std::string(who) + ".crt")).string() + " 2>/dev/null";
            if (std::system(cmd.c_str()) != 0) std::abort();
        }
        const std::string idp_md =
            R"(<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example/md">)"
            R"(<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">)"
            R"(<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>)" +
            pem_body(slurp(dir / "idp.crt")) +
            R"(</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>)"
            R"(<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/>)"
            R"(</md:IDPSSODescriptor></md:EntityDescriptor>)";
        SpSettings s;
        s.entity_id = "https://sp.example/sso/metadata";
        s.acs_url = "https://sp.example/sso/acs";
        s.key_pem = slurp(dir / "sp.key");
        s.cert_pem = slurp(dir / "sp.crt");
        s.idp_metadata_xml = idp_md;
        auto created = ServiceProvider::create(s);
        if (!created) std::abort();
        sp = std::move(created.value());

        GObjectPtr<LassoServer> idp(lasso_server_new_from_buffers(idp_md.c_str(), slurp(dir / "idp.key").c_str(),
                                                                  nullptr, slurp(dir / "idp.crt").c_str()));
        idp->signature_method = LASSO_SIGNATURE_METHOD_RSA_SHA256;
        lasso_server_add_provider_from_buffer(idp.get(), LASSO_PROVIDER_ROLE_SP, sp->metadata_xml().c_str(), nullptr,
                                              nullptr);
        auto request = sp->build_authn_request("bench");
        GObjectPtr<LassoLogin> login(lasso_login_new(idp.get()));
        std::string query = request->redirect_url.substr(request->redirect_url.find('?') + 1);
        lasso_login_process_authn_request_msg(login.get(), query.data());
        lasso_login_validate_request_msg(login.get(), TRUE, TRUE);
        const std::int64_t now = std::time(nullptr);
        const std::string instant = format_saml_time(now), before = format_saml_time(now - 60),
                          after = format_saml_time(now + 3600);
        lasso_login_build_assertion(login.get(), LASSO_SAML2_AUTHN_CONTEXT_PASSWORD, instant.c_str(), nullptr,
                                    before.c_str(), after.c_str());
        // typical attributes: mail, displayName, five groups
        auto* assertion = LASSO_SAML2_ASSERTION(lasso_login_get_assertion(login.get()));
        auto* statement = LASSO_SAML2_ATTRIBUTE_STATEMENT(lasso_saml2_attribute_statement_new());
        auto add = [&](const char* name, std::initializer_list<const char*> values) {
            auto* a = LASSO_SAML2_ATTRIBUTE(lasso_saml2_attribute_new());
            a->Name = g_strdup(name);
            for (const char* v : values) {
                auto* value = LASSO_SAML2_ATTRIBUTE_VALUE(lasso_saml2_attribute_value_new());
                value->any = g_list_append(value->any, lasso_misc_text_node_new_with_string(v));
                LASSO_MISC_TEXT_NODE(value->any->data)->text_child = TRUE;
                a->AttributeValue = g_list_append(a->AttributeValue, value);
            }
            statement->Attribute = g_list_append(statement->Attribute, a);
        };
        add("mail", {"alice@example.org"});
        add("displayName", {"Alice Liddell"});
        add("groups", {"staff", "print-operators", "scan", "finance", "all-employees"});
        assertion->AttributeStatement = g_list_append(assertion->AttributeStatement, statement);
        if (lasso_login_build_authn_response_msg(login.get()) != 0) std::abort();
        response = LASSO_PROFILE(login.get())->msg_body;
        g_object_unref(assertion);
        if (!sp->consume_response(response, now)) std::abort();
    }
    ~Fixture() { fs::remove_all(dir); }
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
