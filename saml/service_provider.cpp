#include "saml/service_provider.hpp"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <xmlsec/xmltree.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>

#include "saml/assertion_decryptor.hpp"
#include "saml/base64.hpp"
#include "saml/handles.hpp"
#include "saml/idp_entities.hpp"
#include "saml/lasso_log.hpp"
#include "saml/logout.hpp"
#include "saml/metadata_keys.hpp"
#include "saml/redirect_signer.hpp"
#include "saml/response_guard.hpp"
#include "saml/saml_time.hpp"
#include "saml/signature_verifier.hpp"
#include "saml/sp_metadata.hpp"
#include "saml/text.hpp"

namespace sso {

struct ServiceProvider::Lasso {
    GObjectPtr<LassoServer> server;
    std::unique_ptr<RedirectSigner> signer;  // null when requests go unsigned
    // Signs logout messages (always signed) when AuthnRequests go unsigned; else `signer` does.
    std::unique_ptr<RedirectSigner> logout_signer;
    std::unique_ptr<AssertionDecryptor> decryptor;
    // Each IdP's signing certificates (base64 DER), for our own verification (signature_verifier.hpp).
    std::map<std::string, std::vector<std::string>, std::less<>> signing_certificates;
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
// Errors name `key_subject` or `cert_subject` (the signing pair, or the encryption pair).
Result<std::string> check_key_pair(const std::string& key_pem, const std::string& cert_pem,
                                   const char* key_subject = "key", const char* cert_subject = "certificate") {
    std::unique_ptr<BIO, BioFree> cbio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
    std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(cbio.get(), nullptr, nullptr, nullptr));
    if (!cert) return fail(SamlError::config, "certificate is not a PEM X.509 certificate", cert_subject);
    std::unique_ptr<BIO, BioFree> kbio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
    std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr));
    if (!key) return fail(SamlError::config, "private key is not an unencrypted PEM private key", key_subject);
    if (X509_check_private_key(cert.get(), key.get()) != 1)
        return fail(SamlError::config, "private key does not match the certificate", key_subject);
    const int len = i2d_X509(cert.get(), nullptr);
    if (len <= 0) return fail(SamlError::config, "cannot encode the certificate");
    std::string der(static_cast<std::size_t>(len), '\0');
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    i2d_X509(cert.get(), &p);
    return base64_encode(der);
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

bool is_signature_error(int rc) {
    return rc == LASSO_DS_ERROR_SIGNATURE_VERIFICATION_FAILED || rc == LASSO_DS_ERROR_INVALID_SIGNATURE ||
           rc == LASSO_PROFILE_ERROR_CANNOT_VERIFY_SIGNATURE;
}

// The IdP whose key must have signed: the Response's Issuer, else the Assertion's (Lasso's choice).
std::string issuer_of(const xmlNode* response, const xmlNode* assertion) {
    for (const xmlNode* parent : {response, assertion}) {
        for (const xmlNode* c = parent ? parent->children : nullptr; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE || xmlStrcmp(c->name, reinterpret_cast<const xmlChar*>("Issuer")) != 0)
                continue;
            XmlCharPtr text(xmlNodeGetContent(c));
            if (text) return reinterpret_cast<const char*>(text.get());
        }
    }
    return {};
}

// The reason for a signature of `what` ("Response", "Assertion") that is not valid.
std::string signature_reason(SignatureStatus status, const char* what) {
    switch (status) {
        case SignatureStatus::digest_mismatch:
            return std::string("digest of the signed ") + what +
                   " does not match: the content was changed after signing";
        case SignatureStatus::valid:
        case SignatureStatus::signature_invalid:
        case SignatureStatus::unusable:
            break;
    }
    return "signature does not verify with the IdP metadata certificate";
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

ServiceProvider::ServiceProvider(SpSettings settings, std::string metadata, std::vector<IdpSummary> idps,
                                 std::unique_ptr<Lasso> lasso)
    : settings_(std::move(settings)),
      metadata_xml_(std::move(metadata)),
      idps_(std::move(idps)),
      lasso_(std::move(lasso)) {}

LogoutService* ServiceProvider::logout(std::string_view idp) noexcept {
    for (std::size_t i = 0; i < idps_.size(); ++i)
        if (idps_[i].entity_id == idp) return logouts_[i].get();
    return nullptr;
}

bool ServiceProvider::any_idp_has_slo() const noexcept {
    for (const auto& logout : logouts_)
        if (logout->idp_has_slo()) return true;
    return false;
}

bool ServiceProvider::knows_idp(std::string_view entity_id) const noexcept {
    for (const IdpSummary& idp : idps_)
        if (idp.entity_id == entity_id) return true;
    return false;
}

ServiceProvider::~ServiceProvider() = default;

Result<std::string> ServiceProvider::sp_metadata(const SpSettings& s) {
    if (s.entity_id.empty()) return fail(SamlError::config, "the SP entityID is not set", "entity_id");
    if (s.acs_url.empty()) return fail(SamlError::config, "the Assertion Consumer Service URL is not set", "acs_url");
    auto cert_b64 = check_key_pair(s.key_pem, s.cert_pem);
    if (!cert_b64) return cert_b64.error();
    // Assertions are encrypted to the separate encryption certificate when there is one, else
    // to the SP certificate; either way SP metadata publishes it with use="encryption".
    if (s.encryption_key_pem.empty() != s.encryption_cert_pem.empty())
        return fail(SamlError::config, "the encryption key and certificate go together: set both or neither",
                    s.encryption_key_pem.empty() ? "encryption_key" : "encryption_certificate");
    std::string enc_cert_b64 = cert_b64.value();
    if (!s.encryption_key_pem.empty()) {
        auto enc =
            check_key_pair(s.encryption_key_pem, s.encryption_cert_pem, "encryption_key", "encryption_certificate");
        if (!enc) return enc.error();
        enc_cert_b64 = std::move(enc.value());
    }
    const std::string slo_url = slo_url_for(s.acs_url);
    return build_sp_metadata({s.entity_id, s.acs_url, slo_url, cert_b64.value(), s.sign_requests,
                              s.want_assertions_signed, enc_cert_b64, s.allow_rsa1_5});
}

Result<std::unique_ptr<ServiceProvider>> ServiceProvider::create(const SpSettings& s) {
    if (!lasso_ready()) return fail(SamlError::internal, "lasso_init() failed");
    auto metadata = sp_metadata(s);
    if (!metadata) return metadata.error();
    auto entities = idp_entities_of(s.idp_metadata_xml);
    if (!entities) return entities.error();

    auto lasso = std::make_unique<Lasso>();
    if (s.sign_requests) {
        auto signer = RedirectSigner::from_pem(s.key_pem);
        if (!signer) return signer.error();
        lasso->signer = std::move(*signer);
    }
    // No signing key for Lasso: it would re-read it from PEM for every AuthnRequest although
    // we sign those ourselves, and verifying Responses needs only the IdP's key.
    lasso->server.reset(lasso_server_new_from_buffers(metadata->c_str(), nullptr, nullptr, nullptr));
    if (!lasso->server) return fail(SamlError::config, "Lasso could not load the SP metadata");
    // Encrypted assertions: we decrypt once to check the plaintext (AssertionDecryptor), Lasso
    // decrypts again to read it. Both keys are parsed here, once.
    const bool separate = !s.encryption_key_pem.empty();
    const std::string& enc_key = separate ? s.encryption_key_pem : s.key_pem;
    auto decryptor = AssertionDecryptor::from_pem(enc_key);
    if (!decryptor) {
        Error e = decryptor.error();
        if (!separate) e.subject = "key";
        return e;
    }
    lasso->decryptor = std::move(*decryptor);
    if (lasso_server_set_encryption_private_key_with_password(lasso->server.get(), enc_key.c_str(), nullptr) != 0)
        return fail(SamlError::config, "Lasso could not load the encryption key", separate ? "encryption_key" : "key");
    // Lasso defaults to RSA-SHA1.
    lasso->server->signature_method = LASSO_SIGNATURE_METHOD_RSA_SHA256;
    std::vector<IdpSummary> idps;
    for (IdpEntity& entity : entities.value()) {
        auto idp_metadata = metadata_with_bare_signing_keys(entity.xml);
        if (!idp_metadata) return idp_metadata.error();
        const int rc = lasso_server_add_provider_from_buffer(lasso->server.get(), LASSO_PROVIDER_ROLE_IDP,
                                                             idp_metadata->c_str(), nullptr, nullptr);
        if (rc != 0)
            return fail(SamlError::config,
                        "Lasso could not load the metadata of \"" + entity.entity_id + "\": " + lasso_strerror(rc),
                        "idp_metadata");
        idps.push_back({entity.entity_id, entity.display_name});
        lasso->signing_certificates[entity.entity_id] = signing_certificates(entity.xml);
    }

    // Single Logout with each IdP (its SLO endpoints and signing keys, from its metadata).
    // Our key is parsed once for all of them: OpenSSL 3 takes milliseconds to decode a PEM key,
    // which an aggregate of hundreds of IdPs would pay for each.
    if (!lasso->signer) {
        auto signer = RedirectSigner::from_pem(s.key_pem);
        if (!signer) return signer.error();
        lasso->logout_signer = std::move(*signer);
    }
    const RedirectSigner& slo_signer = lasso->signer ? *lasso->signer : *lasso->logout_signer;
    std::vector<std::unique_ptr<LogoutService>> logouts;
    for (const IdpEntity& entity : entities.value()) {
        auto logout = LogoutService::create(lasso->server.get(), s, slo_signer, entity.entity_id, entity.xml);
        if (!logout) return logout.error();
        logouts.push_back(std::move(*logout));
    }
    std::unique_ptr<ServiceProvider> sp(
        new ServiceProvider(s, std::move(metadata.value()), std::move(idps), std::move(lasso)));
    sp->logouts_ = std::move(logouts);
    const bool separate_encryption = !s.encryption_cert_pem.empty();
    if (auto c = pem_certificate_expiry(s.cert_pem)) {
        c->use = separate_encryption ? "signing" : "both";
        sp->certificates_.push_back(std::move(*c));
    }
    if (auto c = separate_encryption ? pem_certificate_expiry(s.encryption_cert_pem) : std::nullopt) {
        c->use = "encryption";
        sp->certificates_.push_back(std::move(*c));
    }
    for (const IdpEntity& entity : entities.value())
        for (CertificateExpiry& c : idp_certificates(entity.entity_id, entity.xml))
            sp->certificates_.push_back(std::move(c));
    // Build one request to each IdP now, so metadata without a usable SSO endpoint fails at nginx -t.
    for (const IdpSummary& idp : sp->idps()) {
        auto probe = sp->build_authn_request("config-check", idp.entity_id);
        if (!probe)
            return fail(SamlError::config,
                        "cannot build an AuthnRequest for \"" + idp.entity_id + "\": " + probe.error().reason,
                        "idp_metadata");
    }
    return sp;
}

Result<AuthnRequestMessage> ServiceProvider::build_authn_request(std::string_view relay_state, std::string_view idp,
                                                                 std::string_view request_id) {
    const std::string idp_id(idp.empty() ? std::string_view(idp_entity_id()) : idp);
    if (!knows_idp(idp_id)) return fail(SamlError::bad_request, "no IdP \"" + idp_id + "\" in the metadata");
    GObjectPtr<LassoLogin> login(lasso_login_new(lasso_->server.get()));
    if (!login) return fail(SamlError::internal, "lasso_login_new failed");
    LassoProfile* profile = LASSO_PROFILE(login.get());
    // Lasso builds the unsigned message; the signature is ours (see redirect_signer.hpp). The
    // hint must be set before init, where Lasso would otherwise load a signing key.
    lasso_profile_set_signature_hint(profile, LASSO_PROFILE_SIGNATURE_HINT_FORBID);
    int rc = lasso_login_init_authn_request(login.get(), const_cast<char*>(idp_id.c_str()), LASSO_HTTP_METHOD_REDIRECT);
    if (rc != 0) return fail(SamlError::internal, std::string("lasso_login_init_authn_request: ") + lasso_strerror(rc));
    auto* request = LASSO_SAMLP2_AUTHN_REQUEST(profile->request);
    // Lasso draws IDs from GLib's g_random_int, seeded once in nginx's master before the
    // workers fork: every worker would issue the same sequence. The ID keys the pending
    // request, so it comes from OpenSSL's CSPRNG instead (an xs:ID starts with a letter or _).
    auto id = request_id.empty() ? random_id() : std::optional<std::string>(std::string(request_id));
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
    return AuthnRequestMessage{std::move(url), str(LASSO_SAMLP2_REQUEST_ABSTRACT(request)->ID), idp_id};
}

Result<ValidatedAssertion> ServiceProvider::consume_response(std::string_view saml_response, std::int64_t now) {
    // base64 inflates by 4/3; anything longer than that cannot decode to an acceptable size.
    if (saml_response.empty()) return fail(SamlError::bad_request, "no SAMLResponse in the request");
    if (saml_response.size() > settings_.max_response_bytes / 3 * 4 + 4096)
        return fail(SamlError::bad_request, "SAMLResponse too large");
    auto xml = base64_decode_strict(saml_response, settings_.max_response_bytes);
    if (!xml) return fail(SamlError::bad_request, "SAMLResponse is not valid base64 or is too large");
    ResponseGuardLimits limits{24, 4096, settings_.allow_sha1, settings_.want_assertions_signed,
                               settings_.allow_rsa1_5};
    auto checked = check_response(*xml, limits);
    if (!checked) return checked.error();
    // With an EncryptedAssertion, the plaintext gets every check a plaintext assertion gets
    // before Lasso reads it; Lasso must then read that same assertion (its ID, below).
    std::string decrypted_id;
    bool decrypted_signed = false;
    if (checked->encrypted()) {
        auto plaintext = lasso_->decryptor->decrypt(checked->encrypted_data, checked->encrypted_key);
        if (!plaintext) return plaintext.error();
        auto id = check_decrypted_assertion(*plaintext, limits, checked->response_signed, &decrypted_signed);
        if (!id) return id.error();
        decrypted_id = std::move(id.value());
    } else if (settings_.require_encrypted_assertions) {
        return invalid("the assertion is not encrypted (sso_require_encrypted_assertions is on)");
    }

    // The signatures in the document, each with the IdP's certificates from its metadata.
    xmlNode* root = xmlDocGetRootElement(checked->doc.get());
    const auto certs = lasso_->signing_certificates.find(issuer_of(root, checked->assertion));
    auto verify_ours = [&]() -> std::optional<std::string> {
        if (certs == lasso_->signing_certificates.end()) return "response issued by an unknown IdP";
        const std::pair<xmlNode*, const char*> signed_elements[] = {
            {checked->response_signed ? root : nullptr, "Response"}, {checked->assertion, "Assertion"}};
        for (auto [element, what] : signed_elements) {
            if (!element || !xmlSecFindChild(element, xmlSecNodeSignature, xmlSecDSigNs)) continue;
            const SignatureStatus status = verify_enveloped_signature(checked->doc.get(), element, certs->second);
            if (status != SignatureStatus::valid) return signature_reason(status, what);
        }
        return std::nullopt;
    };
    // Lasso verifies RSA signatures but cannot verify ECDSA. With an ECDSA signature we verify
    // all of them, and Lasso reads the document we checked without its signatures (it refuses
    // an ECDSA-signed Response even when told to ignore signatures).
    const bool ecdsa = signed_with_ecdsa(root) || signed_with_ecdsa(checked->assertion);
    std::string msg;
    if (ecdsa) {
        if (decrypted_signed)
            return invalid("an ECDSA-signed Response with a signature inside its encrypted assertion is not supported");
        if (auto e = verify_ours()) return invalid(*e);
        for (xmlNode* element : {root, checked->assertion}) {
            if (xmlNode* sig = element ? xmlSecFindChild(element, xmlSecNodeSignature, xmlSecDSigNs) : nullptr) {
                xmlUnlinkNode(sig);
                xmlFreeNode(sig);
            }
        }
        xmlChar* buf = nullptr;
        int size = 0;
        xmlDocDumpMemoryEnc(checked->doc.get(), &buf, &size, "UTF-8");
        XmlCharPtr owned(buf);
        if (!buf) return fail(SamlError::internal, "cannot serialise the verified Response");
        msg = base64_encode(std::string_view(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(size)));
    } else {
        msg = saml_response;
    }

    GObjectPtr<LassoLogin> login(lasso_login_new(lasso_->server.get()));
    if (!login) return fail(SamlError::internal, "lasso_login_new failed");
    LassoProfile* profile = LASSO_PROFILE(login.get());
    // MAYBE: verify every signature that is present. FORCE would demand one on the Response
    // *and* refuse assertion-only signing (Okta, ADFS); check_response_structure has already
    // required at least one well-formed signature on the Response or the Assertion.
    lasso_profile_set_signature_verify_hint(
        profile, ecdsa ? LASSO_PROFILE_SIGNATURE_VERIFY_HINT_IGNORE : LASSO_PROFILE_SIGNATURE_VERIFY_HINT_MAYBE);
    const int rc = lasso_login_process_authn_response_msg(login.get(), const_cast<char*>(msg.c_str()));
    if (rc != 0) {
        // Lasso does not say whether the signed content changed or the key differs: we check.
        if (is_signature_error(rc) && !ecdsa)
            if (auto e = verify_ours()) return invalid(*e);
        return invalid(lasso_reason(rc));
    }

    auto* response = LASSO_IS_SAMLP2_RESPONSE(profile->response) ? LASSO_SAMLP2_RESPONSE(profile->response) : nullptr;
    if (!response) return invalid("not a SAML 2.0 Response");
    auto* status_response = LASSO_SAMLP2_STATUS_RESPONSE(response);
    if (!status_response->Status || !status_response->Status->StatusCode ||
        str(status_response->Status->StatusCode->Value) != kStatusSuccess)
        return invalid("IdP returned a non-success status");
    if (status_response->Destination && str(status_response->Destination) != settings_.acs_url)
        return invalid("Response Destination " + str(status_response->Destination) + " is not our ACS URL");
    // Lasso verified the signatures with the key of the IdP the Issuer names; the Issuers must
    // agree and name an IdP of the metadata.
    if (status_response->Issuer && !knows_idp(str(status_response->Issuer->content)))
        return invalid("Response Issuer " + str(status_response->Issuer->content) + " is not an IdP of the metadata");
    // Empty for an unsolicited (IdP-initiated) Response; the caller then has no pending request
    // to take and relies on the replay cache alone.
    const std::string in_response_to = str(status_response->InResponseTo);
    if (in_response_to.empty() && !settings_.allow_unsolicited)
        return invalid("unsolicited Response (no InResponseTo); IdP-initiated login is off");

    // Lasso appends the assertion it decrypted to Assertion and keeps the EncryptedAssertion.
    if (g_list_length(response->Assertion) != 1 ||
        g_list_length(response->EncryptedAssertion) != (checked->encrypted() ? 1u : 0u))
        return invalid("Response must carry exactly one assertion");
    auto* assertion = LASSO_SAML2_ASSERTION(response->Assertion->data);
    if (checked->encrypted() && str(assertion->ID) != decrypted_id)
        return invalid("Lasso read another assertion than the one decrypted and checked");
    const std::string issuer = assertion->Issuer ? str(assertion->Issuer->content) : std::string();
    if (!knows_idp(issuer))
        return invalid("Assertion Issuer " + (issuer.empty() ? std::string("(none)") : issuer) +
                       " is not an IdP of the metadata");
    if (status_response->Issuer && str(status_response->Issuer->content) != issuer)
        return invalid("Assertion Issuer " + issuer + " differs from the Response Issuer " +
                       str(status_response->Issuer->content));
    if (!assertion->ID || !*assertion->ID) return invalid("assertion has no ID");
    const auto issue_instant = assertion->IssueInstant ? parse_saml_time(assertion->IssueInstant) : std::nullopt;
    if (!issue_instant) return invalid("assertion IssueInstant is missing or not a valid time");

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
    std::string name_id = node_text(LASSO_NODE(subject->NameID));
    if (is_blank(name_id)) return invalid("assertion NameID is only white space");
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
    out.idp = issuer;
    out.name_id = std::move(name_id);
    out.name_id_format = str(subject->NameID->Format);
    out.name_qualifier = str(subject->NameID->NameQualifier);
    out.sp_name_qualifier = str(subject->NameID->SPNameQualifier);
    out.in_response_to = in_response_to;
    out.assertion_id = assertion->ID;
    out.issue_instant = *issue_instant;
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
