#include "saml/service_provider.hpp"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "saml/base64.hpp"
#include "saml/handles.hpp"
#include "saml/lasso_log.hpp"
#include "saml/logout.hpp"
#include "saml/metadata_keys.hpp"
#include "saml/redirect_signer.hpp"
#include "saml/response_guard.hpp"
#include "saml/saml_time.hpp"
#include "saml/sp_metadata.hpp"

namespace sso {

struct ServiceProvider::Lasso {
    GObjectPtr<LassoServer> server;
    std::unique_ptr<RedirectSigner> signer;  // null when requests go unsigned
};

namespace {

constexpr const char* kBearer = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
constexpr const char* kStatusSuccess = "urn:oasis:names:tc:SAML:2.0:status:Success";

struct BioFree {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct X509Free {
    void operator()(X509* c) const noexcept { X509_free(c); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};

std::string str(const char* s) {
    return s ? std::string(s) : std::string();
}

std::optional<std::string> random_id() {
    unsigned char bytes[20];
    if (RAND_bytes(bytes, sizeof bytes) != 1) return std::nullopt;
    static constexpr char hex[] = "0123456789abcdef";
    std::string id = "_";
    for (const unsigned char b : bytes) {
        id += hex[b >> 4];
        id += hex[b & 15];
    }
    return id;
}

// Lasso objects own their strings with g_malloc.
void replace_string(char*& field, const char* value) {
    g_free(field);
    field = g_strdup(value);
}

// Reads the certificate and key, checks they belong together, returns the cert's DER base64.
Result<std::string> check_key_pair(const std::string& key_pem, const std::string& cert_pem) {
    std::unique_ptr<BIO, BioFree> cbio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
    std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(cbio.get(), nullptr, nullptr, nullptr));
    if (!cert) return fail(SamlError::config, "certificate is not a PEM X.509 certificate", "certificate");
    std::unique_ptr<BIO, BioFree> kbio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
    std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr));
    if (!key) return fail(SamlError::config, "private key is not an unencrypted PEM private key", "key");
    if (X509_check_private_key(cert.get(), key.get()) != 1)
        return fail(SamlError::config, "private key does not match the certificate", "key");
    const int len = i2d_X509(cert.get(), nullptr);
    if (len <= 0) return fail(SamlError::config, "cannot encode the certificate");
    std::string der(static_cast<std::size_t>(len), '\0');
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    i2d_X509(cert.get(), &p);
    return base64_encode(der);
}

// The IdP metadata must be one EntityDescriptor with an IDPSSODescriptor; returns its entityID.
Result<std::string> idp_entity_id_of(const std::string& xml) {
    if (xml.find("<!DOCTYPE") != std::string::npos)
        return fail(SamlError::config, "IdP metadata must not have a DOCTYPE", "idp_metadata");
    XmlDocPtr doc(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "idp-metadata.xml", nullptr,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    if (!doc) return fail(SamlError::config, "IdP metadata is not well-formed XML", "idp_metadata");
    const xmlNode* root = xmlDocGetRootElement(doc.get());
    constexpr const char* md = "urn:oasis:names:tc:SAML:2.0:metadata";
    auto is = [md](const xmlNode* n, const char* name) {
        return n->type == XML_ELEMENT_NODE && n->ns &&
               std::strcmp(reinterpret_cast<const char*>(n->ns->href), md) == 0 &&
               std::strcmp(reinterpret_cast<const char*>(n->name), name) == 0;
    };
    if (!root || !is(root, "EntityDescriptor"))
        return fail(SamlError::config, "IdP metadata root is not a SAML 2.0 md:EntityDescriptor", "idp_metadata");
    bool idp = false;
    for (const xmlNode* c = root->children; c; c = c->next) idp = idp || is(c, "IDPSSODescriptor");
    if (!idp) return fail(SamlError::config, "IdP metadata has no IDPSSODescriptor", "idp_metadata");
    XmlCharPtr id(xmlGetNoNsProp(root, reinterpret_cast<const xmlChar*>("entityID")));
    if (!id || !*id) return fail(SamlError::config, "IdP metadata has no entityID", "idp_metadata");
    return std::string(reinterpret_cast<const char*>(id.get()));
}

// Text of a node as the signature covered it: every text descendant, in order.
std::string node_text(LassoNode* node) {
    xmlNode* xml = lasso_node_get_xmlNode(node, FALSE);
    if (!xml) return {};
    XmlCharPtr content(xmlNodeGetContent(xml));
    xmlFreeNode(xml);
    return content ? std::string(reinterpret_cast<const char*>(content.get())) : std::string();
}

template <class T, class F>
void each(GList* list, F f) {
    for (GList* it = list; it; it = it->next) f(static_cast<T*>(it->data));
}

Error invalid(std::string reason) {
    return fail(SamlError::invalid_response, std::move(reason));
}

// A time condition: nullopt when fine, or the reason it is not.
std::optional<std::string> check_window(const char* what, const char* not_before, const char* not_on_or_after,
                                        std::int64_t now, std::int64_t skew, bool require_end) {
    if (not_before) {
        auto t = parse_saml_time(not_before);
        if (!t) return std::string(what) + " NotBefore is not a valid time";
        if (now + skew < *t) return std::string(what) + " is not yet valid (NotBefore " + not_before + ")";
    }
    if (!not_on_or_after)
        return require_end ? std::optional<std::string>(std::string(what) + " has no NotOnOrAfter") : std::nullopt;
    auto t = parse_saml_time(not_on_or_after);
    if (!t) return std::string(what) + " NotOnOrAfter is not a valid time";
    if (now - skew >= *t) return std::string(what) + " has expired (NotOnOrAfter " + not_on_or_after + ")";
    return std::nullopt;
}

// Lasso's codes are precise but cryptic; the ones an administrator meets get our words.
std::string lasso_reason(int rc) {
    switch (rc) {
        case LASSO_DS_ERROR_SIGNATURE_VERIFICATION_FAILED:
        case LASSO_DS_ERROR_INVALID_SIGNATURE:
        case LASSO_PROFILE_ERROR_CANNOT_VERIFY_SIGNATURE:
            return "signature does not verify with the IdP metadata certificate";
        case LASSO_DS_ERROR_SIGNATURE_NOT_FOUND:
            return "message is not signed";
        case LASSO_PROFILE_ERROR_INVALID_PROTOCOLPROFILE:
        case LASSO_PROFILE_ERROR_INVALID_MSG:
            return "not a SAML response";
        case LASSO_SERVER_ERROR_PROVIDER_NOT_FOUND:
            return "response issued by an unknown IdP";
        case LASSO_LOGIN_ERROR_STATUS_NOT_SUCCESS:
            return "IdP returned a non-success status";
        default:
            return std::string("Lasso refused the response: ") + lasso_strerror(rc) + " (" + std::to_string(rc) + ")";
    }
}

}  // namespace

ServiceProvider::ServiceProvider(SpSettings settings, std::string metadata, std::string idp_entity_id,
                                 std::unique_ptr<Lasso> lasso)
    : settings_(std::move(settings)),
      metadata_xml_(std::move(metadata)),
      idp_entity_id_(std::move(idp_entity_id)),
      lasso_(std::move(lasso)) {}

ServiceProvider::~ServiceProvider() = default;

Result<std::string> ServiceProvider::sp_metadata(const SpSettings& s) {
    if (s.entity_id.empty()) return fail(SamlError::config, "the SP entityID is not set", "entity_id");
    if (s.acs_url.empty()) return fail(SamlError::config, "the Assertion Consumer Service URL is not set", "acs_url");
    auto cert_b64 = check_key_pair(s.key_pem, s.cert_pem);
    if (!cert_b64) return cert_b64.error();
    const std::string slo_url = slo_url_for(s.acs_url);
    return build_sp_metadata(
        {s.entity_id, s.acs_url, slo_url, cert_b64.value(), s.sign_requests, s.want_assertions_signed});
}

Result<std::unique_ptr<ServiceProvider>> ServiceProvider::create(const SpSettings& s) {
    if (!lasso_ready()) return fail(SamlError::internal, "lasso_init() failed");
    auto metadata = sp_metadata(s);
    if (!metadata) return metadata.error();
    auto idp = idp_entity_id_of(s.idp_metadata_xml);
    if (!idp) return idp.error();

    auto lasso = std::make_unique<Lasso>();
    if (s.sign_requests) {
        auto signer = RedirectSigner::from_pem(s.key_pem);
        if (!signer) return signer.error();
        lasso->signer = std::move(*signer);
    }
    // No private key for Lasso: it would re-read it from PEM for every AuthnRequest although
    // we sign those ourselves, and verifying Responses needs only the IdP's key. (Decrypting
    // encrypted assertions, when that is added, will give Lasso a key of its own.)
    lasso->server.reset(lasso_server_new_from_buffers(metadata->c_str(), nullptr, nullptr, nullptr));
    if (!lasso->server) return fail(SamlError::config, "Lasso could not load the SP metadata");
    // Lasso defaults to RSA-SHA1.
    lasso->server->signature_method = LASSO_SIGNATURE_METHOD_RSA_SHA256;
    auto idp_metadata = metadata_with_bare_signing_keys(s.idp_metadata_xml);
    if (!idp_metadata) return idp_metadata.error();
    const int rc = lasso_server_add_provider_from_buffer(lasso->server.get(), LASSO_PROVIDER_ROLE_IDP,
                                                         idp_metadata->c_str(), nullptr, nullptr);
    if (rc != 0)
        return fail(SamlError::config, std::string("Lasso could not load the IdP metadata: ") + lasso_strerror(rc),
                    "idp_metadata");

    auto logout = LogoutService::create(lasso->server.get(), s, idp.value());
    if (!logout) return logout.error();
    std::unique_ptr<ServiceProvider> sp(
        new ServiceProvider(s, std::move(metadata.value()), idp.value(), std::move(lasso)));
    sp->logout_ = std::move(*logout);
    // Build one request now, so a metadata without a usable SSO endpoint fails at nginx -t.
    auto probe = sp->build_authn_request("config-check");
    if (!probe)
        return fail(SamlError::config, "cannot build an AuthnRequest for this IdP: " + probe.error().reason,
                    "idp_metadata");
    return sp;
}

Result<AuthnRequestMessage> ServiceProvider::build_authn_request(std::string_view relay_state) {
    GObjectPtr<LassoLogin> login(lasso_login_new(lasso_->server.get()));
    if (!login) return fail(SamlError::internal, "lasso_login_new failed");
    LassoProfile* profile = LASSO_PROFILE(login.get());
    // Lasso builds the unsigned message; the signature is ours (see redirect_signer.hpp). The
    // hint must be set before init, where Lasso would otherwise load a signing key.
    lasso_profile_set_signature_hint(profile, LASSO_PROFILE_SIGNATURE_HINT_FORBID);
    int rc = lasso_login_init_authn_request(login.get(), const_cast<char*>(idp_entity_id_.c_str()),
                                            LASSO_HTTP_METHOD_REDIRECT);
    if (rc != 0) return fail(SamlError::internal, std::string("lasso_login_init_authn_request: ") + lasso_strerror(rc));
    auto* request = LASSO_SAMLP2_AUTHN_REQUEST(profile->request);
    // Lasso draws IDs from GLib's g_random_int, seeded once in nginx's master before the
    // workers fork: every worker would issue the same sequence. The ID keys the pending
    // request, so it comes from OpenSSL's CSPRNG instead (an xs:ID starts with a letter or _).
    auto id = random_id();
    if (!id) return fail(SamlError::internal, "no random bytes for the AuthnRequest ID");
    replace_string(LASSO_SAMLP2_REQUEST_ABSTRACT(request)->ID, id->c_str());
    replace_string(request->ProtocolBinding, LASSO_SAML2_METADATA_BINDING_POST);
    replace_string(request->AssertionConsumerServiceURL, settings_.acs_url.c_str());
    if (request->NameIDPolicy) {
        replace_string(request->NameIDPolicy->Format, LASSO_SAML2_NAME_IDENTIFIER_FORMAT_UNSPECIFIED);
        request->NameIDPolicy->AllowCreate = TRUE;
    }
    const std::string relay(relay_state);
    replace_string(profile->msg_relayState, relay.c_str());
    rc = lasso_login_build_authn_request_msg(login.get());
    if (rc != 0 || !profile->msg_url)
        return fail(SamlError::internal, std::string("lasso_login_build_authn_request_msg: ") + lasso_strerror(rc));
    std::string url = profile->msg_url;
    if (lasso_->signer) {
        auto signed_url = lasso_->signer->sign(url);
        if (!signed_url) return signed_url.error();
        url = std::move(*signed_url);
    }
    return AuthnRequestMessage{std::move(url), str(LASSO_SAMLP2_REQUEST_ABSTRACT(request)->ID)};
}

Result<ValidatedAssertion> ServiceProvider::consume_response(std::string_view saml_response, std::int64_t now) {
    // base64 inflates by 4/3; anything longer than that cannot decode to an acceptable size.
    if (saml_response.empty()) return fail(SamlError::bad_request, "no SAMLResponse in the request");
    if (saml_response.size() > settings_.max_response_bytes / 3 * 4 + 4096)
        return fail(SamlError::bad_request, "SAMLResponse too large");
    auto xml = base64_decode_strict(saml_response, settings_.max_response_bytes);
    if (!xml) return fail(SamlError::bad_request, "SAMLResponse is not valid base64 or is too large");
    if (auto e = check_response_structure(*xml, {24, 4096, settings_.allow_sha1, settings_.want_assertions_signed}))
        return fail(SamlError::invalid_response, *e);

    GObjectPtr<LassoLogin> login(lasso_login_new(lasso_->server.get()));
    if (!login) return fail(SamlError::internal, "lasso_login_new failed");
    LassoProfile* profile = LASSO_PROFILE(login.get());
    // MAYBE: verify every signature that is present. FORCE would demand one on the Response
    // *and* refuse assertion-only signing (Okta, ADFS); check_response_structure has already
    // required at least one well-formed signature on the Response or the Assertion.
    lasso_profile_set_signature_verify_hint(profile, LASSO_PROFILE_SIGNATURE_VERIFY_HINT_MAYBE);
    const std::string msg(saml_response);
    const int rc = lasso_login_process_authn_response_msg(login.get(), const_cast<char*>(msg.c_str()));
    if (rc != 0) return invalid(lasso_reason(rc));

    auto* response = LASSO_IS_SAMLP2_RESPONSE(profile->response) ? LASSO_SAMLP2_RESPONSE(profile->response) : nullptr;
    if (!response) return invalid("not a SAML 2.0 Response");
    auto* status_response = LASSO_SAMLP2_STATUS_RESPONSE(response);
    if (!status_response->Status || !status_response->Status->StatusCode ||
        str(status_response->Status->StatusCode->Value) != kStatusSuccess)
        return invalid("IdP returned a non-success status");
    if (status_response->Destination && str(status_response->Destination) != settings_.acs_url)
        return invalid("Response Destination " + str(status_response->Destination) + " is not our ACS URL");
    if (status_response->Issuer && str(status_response->Issuer->content) != idp_entity_id_)
        return invalid("Response Issuer " + str(status_response->Issuer->content) + " is not the configured IdP");
    // Empty for an unsolicited (IdP-initiated) Response; the caller then has no pending request
    // to take and relies on the replay cache alone.
    const std::string in_response_to = str(status_response->InResponseTo);
    if (in_response_to.empty() && !settings_.allow_unsolicited)
        return invalid("unsolicited Response (no InResponseTo); IdP-initiated login is off");

    if (g_list_length(response->Assertion) != 1 || response->EncryptedAssertion)
        return invalid("Response must carry exactly one assertion");
    auto* assertion = LASSO_SAML2_ASSERTION(response->Assertion->data);
    if (!assertion->Issuer || str(assertion->Issuer->content) != idp_entity_id_)
        return invalid("Assertion Issuer " +
                       (assertion->Issuer ? str(assertion->Issuer->content) : std::string("(none)")) +
                       " is not the configured IdP");
    if (!assertion->ID || !*assertion->ID) return invalid("assertion has no ID");

    const std::int64_t skew = settings_.clock_skew;
    auto* conditions = assertion->Conditions;
    if (!conditions) return invalid("assertion has no Conditions");
    if (auto e = check_window("assertion", conditions->NotBefore, conditions->NotOnOrAfter, now, skew, true))
        return invalid(*e);
    if (!conditions->AudienceRestriction) return invalid("assertion has no AudienceRestriction");
    // Every AudienceRestriction must name us (SAML core 2.5.1.4).
    bool audience_ok = true;
    each<LassoSaml2AudienceRestriction>(conditions->AudienceRestriction, [&](auto* ar) {
        audience_ok = audience_ok && ar && str(ar->Audience) == settings_.entity_id;
    });
    if (!audience_ok) return invalid("assertion Audience does not name this SP (" + settings_.entity_id + ")");

    auto* subject = assertion->Subject;
    if (!subject || !subject->NameID || !subject->NameID->content || !*subject->NameID->content)
        return invalid("assertion has no NameID");
    auto* confirmation = subject->SubjectConfirmation;
    if (!confirmation || str(confirmation->Method) != kBearer)
        return invalid("assertion has no bearer SubjectConfirmation");
    auto* scd = confirmation->SubjectConfirmationData;
    if (!scd) return invalid("bearer SubjectConfirmation has no SubjectConfirmationData");
    if (str(scd->Recipient) != settings_.acs_url)
        return invalid("SubjectConfirmationData Recipient " + str(scd->Recipient) + " is not our ACS URL");
    if (str(scd->InResponseTo) != in_response_to)
        return invalid("SubjectConfirmationData InResponseTo does not match the Response");
    if (auto e = check_window("SubjectConfirmationData", scd->NotBefore, scd->NotOnOrAfter, now, skew, true))
        return invalid(*e);
    if (!assertion->AuthnStatement) return invalid("assertion has no AuthnStatement");

    ValidatedAssertion out;
    out.idp = idp_entity_id_;
    out.name_id = node_text(LASSO_NODE(subject->NameID));
    out.name_id_format = str(subject->NameID->Format);
    out.in_response_to = in_response_to;
    out.assertion_id = assertion->ID;
    out.not_on_or_after =
        std::max(*parse_saml_time(conditions->NotOnOrAfter), *parse_saml_time(scd->NotOnOrAfter)) + skew;
    auto* authn = LASSO_SAML2_AUTHN_STATEMENT(assertion->AuthnStatement->data);
    out.session_index = str(authn->SessionIndex);
    if (authn->SessionNotOnOrAfter) {
        auto t = parse_saml_time(authn->SessionNotOnOrAfter);
        if (!t) return invalid("AuthnStatement SessionNotOnOrAfter is not a valid time");
        if (now - skew >= *t) return invalid("the IdP session has already ended (SessionNotOnOrAfter)");
        out.session_not_on_or_after = *t;
    }
    each<LassoSaml2AttributeStatement>(assertion->AttributeStatement, [&](auto* statement) {
        each<LassoSaml2Attribute>(statement->Attribute, [&](auto* a) {
            SamlAttribute attribute;
            attribute.name = str(a->Name);
            attribute.friendly_name = str(a->FriendlyName);
            each<LassoNode>(a->AttributeValue, [&](LassoNode* v) { attribute.values.push_back(node_text(v)); });
            out.attributes.push_back(std::move(attribute));
        });
    });
    return out;
}

}  // namespace sso
