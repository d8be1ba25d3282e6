#include "t/support/lasso_idp.hpp"

#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>

#include "saml/handles.hpp"
#include "saml/saml_time.hpp"

#include <lasso/xml/misc_text_node.h>
#include <lasso/xml/saml-2.0/saml2_attribute_statement.h>

namespace sso::testing {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void add_attribute(LassoSaml2AttributeStatement* statement, const char* name,
                   std::initializer_list<const char*> values) {
    auto* a = LASSO_SAML2_ATTRIBUTE(lasso_saml2_attribute_new());
    a->Name = g_strdup(name);
    for (const char* v : values) {
        auto* value = LASSO_SAML2_ATTRIBUTE_VALUE(lasso_saml2_attribute_value_new());
        auto* text = lasso_misc_text_node_new_with_string(v);
        text->text_child = TRUE;
        value->any = g_list_append(value->any, text);
        a->AttributeValue = g_list_append(a->AttributeValue, value);
    }
    statement->Attribute = g_list_append(statement->Attribute, a);
}

}  // namespace

TestKeys::TestKeys() : dir_(fs::temp_directory_path() / ("sso-test-keys-" + std::to_string(::getpid()))) {
    fs::create_directories(dir_);
    for (const char* who : {"sp", "idp", "other"}) {
        const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=" + std::string(who) +
                                " -keyout " + (dir_ / (std::string(who) + ".key")).string() + " -out " +
                                (dir_ / (std::string(who) + ".crt")).string() + " 2>/dev/null";
        if (std::system(cmd.c_str()) != 0) std::abort();  // no keys, no test: fail loudly
    }
    // An EC P-256 pair "ec", as IdPs that sign with ECDSA-SHA256 have.
    const std::string ec =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=ec"
        " -keyout " +
        (dir_ / "ec.key").string() + " -out " + (dir_ / "ec.crt").string() + " 2>/dev/null";
    if (std::system(ec.c_str()) != 0) std::abort();
}

TestKeys::~TestKeys() {
    fs::remove_all(dir_);
}

std::string TestKeys::key(const std::string& who) const {
    return slurp(dir_ / (who + ".key"));
}
std::string TestKeys::cert(const std::string& who) const {
    return slurp(dir_ / (who + ".crt"));
}

std::string pem_body(const std::string& pem) {
    std::string out;
    std::istringstream in(pem);
    for (std::string line; std::getline(in, line);)
        if (line.find("-----") == std::string::npos) out += line;
    return out;
}

std::string idp_metadata(const std::string& cert_pem) {
    return std::string(R"(<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" )"
                       R"(xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID=")") +
           kIdpEntityId +
           R"("><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">)"
           R"(<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>)" +
           pem_body(cert_pem) +
           R"(</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>)"
           R"(<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" )"
           R"(Location="https://idp.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>)";
}

SpSettings sp_settings(const TestKeys& keys) {
    SpSettings s;
    s.entity_id = "https://sp.example/sso/metadata";
    s.acs_url = "https://sp.example/sso/acs";
    s.key_pem = keys.key("sp");
    s.cert_pem = keys.cert("sp");
    s.idp_metadata_xml = idp_metadata(keys.cert("idp"));
    return s;
}

std::string idp_answer(const TestKeys& keys, ServiceProvider& sp, const AuthnRequestMessage& request,
                       const AnswerOptions& options) {
    // The IdP's metadata always carries the real IdP certificate; `signer` may differ.
    GObjectPtr<LassoServer> idp(lasso_server_new_from_buffers(idp_metadata(keys.cert("idp")).c_str(),
                                                              keys.key(options.signer).c_str(), nullptr,
                                                              keys.cert(options.signer).c_str()));
    if (!idp) return {};
    idp->signature_method = LASSO_SIGNATURE_METHOD_RSA_SHA256;
    const std::string& sp_metadata = options.encrypt_for.empty() ? sp.metadata_xml() : options.encrypt_for;
    if (lasso_server_add_provider_from_buffer(idp.get(), LASSO_PROVIDER_ROLE_SP, sp_metadata.c_str(), nullptr,
                                              nullptr) != 0)
        return {};
    if (options.encrypt) {
        LassoProvider* provider = lasso_server_get_provider(idp.get(), sp.entity_id().c_str());
        if (!provider) return {};
        lasso_provider_set_encryption_mode(provider, LASSO_ENCRYPTION_MODE_ASSERTION);
        lasso_provider_set_encryption_sym_key_type(provider, LASSO_ENCRYPTION_SYM_KEY_TYPE_AES_256);
        lasso_provider_set_key_encryption_method(
            provider, options.rsa1_5 ? LASSO_KEY_ENCRYPTION_METHOD_PKCS1 : LASSO_KEY_ENCRYPTION_METHOD_OAEP);
    }
    GObjectPtr<LassoLogin> login(lasso_login_new(idp.get()));
    std::string query = request.redirect_url.substr(request.redirect_url.find('?') + 1);
    // Verifies our AuthnRequest signature: the SP metadata says requests are signed.
    if (lasso_login_process_authn_request_msg(login.get(), query.data()) != 0 ||
        lasso_login_validate_request_msg(login.get(), TRUE, TRUE) != 0)
        return {};
    const std::int64_t now = std::time(nullptr);
    const std::string instant = format_saml_time(now), before = format_saml_time(now - 60),
                      after = format_saml_time(now + options.valid_for);
    if (lasso_login_build_assertion(login.get(), LASSO_SAML2_AUTHN_CONTEXT_PASSWORD, instant.c_str(), nullptr,
                                    before.c_str(), after.c_str()) != 0)
        return {};
    if (!options.name_id.empty()) {
        auto* assertion = LASSO_SAML2_ASSERTION(lasso_login_get_assertion(login.get()));
        LassoSaml2NameID* name_id = assertion->Subject ? assertion->Subject->NameID : nullptr;
        if (name_id) {
            g_free(name_id->content);
            name_id->content = g_strdup(options.name_id.c_str());
        }
        g_object_unref(assertion);
        if (!name_id) return {};
    }
    if (options.typical_attributes) {
        auto* assertion = LASSO_SAML2_ASSERTION(lasso_login_get_assertion(login.get()));
        auto* statement = LASSO_SAML2_ATTRIBUTE_STATEMENT(lasso_saml2_attribute_statement_new());
        add_attribute(statement, "mail", {"alice@example.org"});
        add_attribute(statement, "displayName", {"Alice Liddell"});
        add_attribute(statement, "groups", {"staff", "print-operators", "scan", "finance", "all-employees"});
        assertion->AttributeStatement = g_list_append(assertion->AttributeStatement, statement);
        g_object_unref(assertion);
    }
    if (lasso_login_build_authn_response_msg(login.get()) != 0) return {};
    return LASSO_PROFILE(login.get())->msg_body;
}

}  // namespace sso::testing
