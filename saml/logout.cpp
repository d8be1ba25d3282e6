#include "saml/logout.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cctype>

#include <initializer_list>
#include <optional>

#include "saml/base64.hpp"
#include "saml/handles.hpp"
#include "saml/redirect_signer.hpp"
#include "saml/saml_time.hpp"
#include "saml/service_provider.hpp"
#include "session/form.hpp"
#include "session/session_id.hpp"

namespace sso {
namespace {

constexpr const char* kRedirect = "SingleLogoutService HTTP-Redirect";
constexpr const char* kPost = "SingleLogoutService HTTP-POST";
constexpr std::int64_t kMaxMessageAge = 300;  // seconds a LogoutRequest/Response stays acceptable

std::string str(const char* s) {
    return s ? std::string(s) : std::string();
}

std::string metadata_one(LassoProvider* idp, const char* key) {
    GCharPtr value(lasso_provider_get_metadata_one_for_role(idp, LASSO_PROVIDER_ROLE_IDP, key));
    return str(value.get());
}

Error invalid(std::string reason) {
    return fail(SamlError::invalid_response, std::move(reason));
}

std::optional<std::string> new_message_id() {
    auto token = new_random_token(20);
    if (!token) return std::nullopt;
    return "_" + *token;
}

LassoSaml2NameID* issuer_node(const std::string& entity_id) {
    return LASSO_SAML2_NAME_ID(lasso_saml2_name_id_new_with_string(const_cast<char*>(entity_id.c_str())));
}

std::size_t param_count(std::string_view query, std::string_view name) {
    std::size_t n = 0;
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        if (pair.size() > name.size() && pair.substr(0, name.size()) == name && pair[name.size()] == '=') ++n;
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return n;
}

struct MdCtxFree {
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

// The value of one query parameter, still URL-encoded; nullopt when absent.
std::optional<std::string_view> query_param(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        if (pair.size() > name.size() && pair.substr(0, name.size()) == name && pair[name.size()] == '=')
            return pair.substr(name.size() + 1);
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

// Lasso's verification codes in an administrator's words.
std::string signature_reason(int rc) {
    switch (rc) {
        case LASSO_DS_ERROR_SIGNATURE_NOT_FOUND:
            return "message is not signed";
        case LASSO_DS_ERROR_SIGNATURE_VERIFICATION_FAILED:
        case LASSO_DS_ERROR_INVALID_SIGNATURE:
        case LASSO_PROFILE_ERROR_CANNOT_VERIFY_SIGNATURE:
            return "signature does not verify with the IdP metadata certificate";
        default:
            return std::string("signature not accepted: ") + lasso_strerror(rc) + " (" + std::to_string(rc) + ")";
    }
}

bool named(const xmlNode* n, const char* ns, const char* name) {
    return n->type == XML_ELEMENT_NODE && n->ns && xmlStrEqual(n->ns->href, reinterpret_cast<const xmlChar*>(ns)) &&
           xmlStrEqual(n->name, reinterpret_cast<const xmlChar*>(name));
}

// Lasso appends the enveloped signature as the last child; the SAML schema wants it right
// after the Issuer (and Lasso's own parser, among others, insists). The enveloped-signature
// transform leaves it out of the digest, so moving it keeps it valid.
void move_signature_after_issuer(xmlNode* root) {
    xmlNode* issuer = nullptr;
    xmlNode* signature = nullptr;
    for (xmlNode* c = root->children; c; c = c->next) {
        if (!issuer && named(c, "urn:oasis:names:tc:SAML:2.0:assertion", "Issuer")) issuer = c;
        if (named(c, "http://www.w3.org/2000/09/xmldsig#", "Signature")) signature = c;
    }
    if (!issuer || !signature) return;
    xmlUnlinkNode(signature);
    xmlAddNextSibling(issuer, signature);
}

}  // namespace

void EvpPkeyFree::operator()(EVP_PKEY* k) const noexcept {
    EVP_PKEY_free(k);
}

// The IdP's signing keys from its metadata (KeyDescriptors of the IDPSSODescriptor with
// use="signing" or no use), for the query signatures of the HTTP-Redirect binding.
static std::vector<EvpPkeyPtr> idp_signing_keys(const std::string& xml) {
    std::vector<EvpPkeyPtr> keys;
    XmlDocPtr doc(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "idp-metadata.xml", nullptr,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    xmlNode* root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
    constexpr const char* md = "urn:oasis:names:tc:SAML:2.0:metadata";
    constexpr const char* ds = "http://www.w3.org/2000/09/xmldsig#";
    for (xmlNode* role = root ? root->children : nullptr; role; role = role->next) {
        if (!named(role, md, "IDPSSODescriptor")) continue;
        for (xmlNode* kd = role->children; kd; kd = kd->next) {
            if (!named(kd, md, "KeyDescriptor")) continue;
            XmlCharPtr use(xmlGetNoNsProp(kd, reinterpret_cast<const xmlChar*>("use")));
            if (use && !xmlStrEqual(use.get(), reinterpret_cast<const xmlChar*>("signing"))) continue;
            for (xmlNode* ki = kd->children; ki; ki = ki->next)
                for (xmlNode* data = named(ki, ds, "KeyInfo") ? ki->children : nullptr; data; data = data->next)
                    for (xmlNode* c = named(data, ds, "X509Data") ? data->children : nullptr; c; c = c->next) {
                        if (!named(c, ds, "X509Certificate")) continue;
                        XmlCharPtr text(xmlNodeGetContent(c));
                        std::string b64;
                        for (const char* p = text ? reinterpret_cast<const char*>(text.get()) : ""; *p; ++p)
                            if (!std::isspace(static_cast<unsigned char>(*p))) b64 += *p;
                        auto der = base64_decode_strict(b64, 64 * 1024);
                        if (!der) continue;
                        const auto* p = reinterpret_cast<const unsigned char*>(der->data());
                        X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der->size()));
                        if (!cert) continue;
                        if (EVP_PKEY* key = X509_get_pubkey(cert)) keys.emplace_back(key);
                        X509_free(cert);
                    }
        }
    }
    return keys;
}

std::string slo_url_for(std::string_view acs_url) {
    const std::size_t slash = acs_url.rfind('/');
    if (slash == std::string_view::npos) return std::string(acs_url) + "/slo";
    return std::string(acs_url.substr(0, slash + 1)) + "slo";
}

// SHA-256 (hex) of the length-prefixed parts, after `prefix`.
static std::string hashed_key(std::string_view prefix, std::initializer_list<std::string_view> parts) {
    std::string input;
    for (const std::string_view part : parts) {
        input += std::to_string(part.size());
        input += ':';
        input += part;
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha256(), nullptr);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out(prefix);
    for (unsigned int i = 0; i < len; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

std::string slo_index_key(std::string_view scope, std::string_view idp, std::string_view name_id,
                          std::string_view session_index) {
    return hashed_key("slo:", {scope, idp, name_id, session_index});
}

std::string slo_subject_key(std::string_view scope, std::string_view idp, std::string_view name_id) {
    return hashed_key("sub:", {scope, idp, name_id});
}

LogoutStatus logout_status_for(LogoutOutcome outcome) noexcept {
    switch (outcome) {
        case LogoutOutcome::ended:
            return {saml_status::kSuccess, {}};
        case LogoutOutcome::no_session:
            return {saml_status::kResponder, saml_status::kUnknownPrincipal};
        case LogoutOutcome::refused:
            break;
    }
    return {saml_status::kRequester, saml_status::kRequestDenied};
}

LogoutService::~LogoutService() {
    if (post_key_) g_object_unref(post_key_);
    if (server_) g_object_unref(server_);
}

Result<std::unique_ptr<LogoutService>> LogoutService::create(LassoServer* server, const SpSettings& settings,
                                                             const RedirectSigner& signer,
                                                             const std::string& idp_entity_id,
                                                             const std::string& idp_metadata_xml) {
    std::unique_ptr<LogoutService> slo(new LogoutService());
    slo->server_ = LASSO_SERVER(g_object_ref(server));
    slo->sp_entity_id_ = settings.entity_id;
    slo->idp_entity_id_ = idp_entity_id;
    slo->slo_url_ = slo_url_for(settings.acs_url);
    slo->clock_skew_ = settings.clock_skew;
    slo->allow_sha1_ = settings.allow_sha1;
    slo->max_bytes_ = settings.max_response_bytes;
    LassoProvider* idp = lasso_server_get_provider(server, idp_entity_id.c_str());
    if (!idp) return fail(SamlError::config, "the IdP is not loaded", "idp_metadata");
    slo->redirect_location_ = metadata_one(idp, kRedirect);
    slo->redirect_response_location_ = metadata_one(idp, "SingleLogoutService HTTP-Redirect ResponseLocation");
    slo->post_location_ = metadata_one(idp, kPost);
    slo->post_response_location_ = metadata_one(idp, "SingleLogoutService HTTP-POST ResponseLocation");
    // Without a certificate in the metadata (a bare ds:KeyValue), Redirect logout messages
    // cannot be verified and are refused; logins are not affected.
    slo->idp_keys_ = idp_signing_keys(idp_metadata_xml);
    // Logout messages are always signed: IdPs refuse unsigned ones (it would let any page log
    // a user out), whatever sso_sign_requests says about AuthnRequests.
    slo->signer_ = &signer;
    if (slo->redirect_location_.empty() && !slo->post_location_.empty()) {
        // HTTP-POST needs an XML signature: a Lasso key of its own, not the LassoServer's.
        // No certificate: Lasso would load it through a BIO it never frees, once per load; the
        // IdP verifies with our metadata certificate, not a KeyInfo in the message.
        slo->post_key_ = lasso_key_new_for_signature_from_memory(settings.key_pem.data(), settings.key_pem.size(),
                                                                 nullptr, LASSO_SIGNATURE_METHOD_RSA_SHA256, nullptr);
        if (!slo->post_key_) return fail(SamlError::config, "Lasso cannot use the SP key for XML signatures", "key");
    }
    return slo;
}

Result<OutgoingLogout> LogoutService::send(void* node_ptr, const char* field, const std::string& location,
                                           std::string_view relay, std::string id) {
    auto* node = LASSO_NODE(node_ptr);
    OutgoingLogout out;
    out.id = std::move(id);
    out.relay_state = std::string(relay);
    out.field = field;
    if (!redirect_location_.empty()) {
        GCharPtr url(lasso_node_export_to_saml2_query(node, field, location.c_str(), nullptr));
        if (!url) return fail(SamlError::internal, "cannot encode the logout message");
        std::string unsigned_url = url.get();
        if (!relay.empty()) unsigned_url += "&RelayState=" + url_encode(relay);
        auto signed_url = signer_->sign(unsigned_url);
        if (!signed_url) return signed_url.error();
        out.binding = SloBinding::redirect;
        out.url = std::move(*signed_url);
        return out;
    }
    XmlDocPtr doc(xmlNewDoc(reinterpret_cast<const xmlChar*>("1.0")));
    xmlNode* root = lasso_node_get_xmlNode(node, FALSE);
    if (!doc || !root) return fail(SamlError::internal, "cannot serialise the logout message");
    xmlDocSetRootElement(doc.get(), root);
    if (!lasso_key_saml2_xml_sign(post_key_, out.id.c_str(), root))
        return fail(SamlError::internal, "cannot sign the logout message");
    move_signature_after_issuer(root);
    xmlChar* buf = nullptr;
    int size = 0;
    xmlDocDumpMemoryEnc(doc.get(), &buf, &size, "UTF-8");
    XmlCharPtr owned(buf);
    if (!buf) return fail(SamlError::internal, "cannot serialise the logout message");
    out.binding = SloBinding::post;
    out.url = location;
    out.value = base64_encode({reinterpret_cast<const char*>(buf), static_cast<std::size_t>(size)});
    return out;
}

Result<OutgoingLogout> LogoutService::build_request(const LogoutSubject& subject, std::int64_t now) {
    if (!idp_has_slo()) return fail(SamlError::internal, "the IdP publishes no SingleLogoutService");
    auto id = new_message_id();
    if (!id) return fail(SamlError::internal, "no random bytes for the LogoutRequest ID");
    GObjectPtr<LassoSamlp2LogoutRequest> request(LASSO_SAMLP2_LOGOUT_REQUEST(lasso_samlp2_logout_request_new()));
    auto* abstract = LASSO_SAMLP2_REQUEST_ABSTRACT(request.get());
    const std::string& location = redirect_location_.empty() ? post_location_ : redirect_location_;
    const std::string instant = format_saml_time(now), until = format_saml_time(now + kMaxMessageAge);
    abstract->ID = g_strdup(id->c_str());
    abstract->Version = g_strdup("2.0");
    abstract->IssueInstant = g_strdup(instant.c_str());
    abstract->Destination = g_strdup(location.c_str());
    abstract->Issuer = issuer_node(sp_entity_id_);
    const std::string name_id(subject.name_id);
    auto* nid = LASSO_SAML2_NAME_ID(lasso_saml2_name_id_new_with_string(const_cast<char*>(name_id.c_str())));
    if (!subject.name_id_format.empty())
        nid->Format = g_strndup(subject.name_id_format.data(), subject.name_id_format.size());
    if (!subject.name_qualifier.empty())
        nid->NameQualifier = g_strndup(subject.name_qualifier.data(), subject.name_qualifier.size());
    if (!subject.sp_name_qualifier.empty())
        nid->SPNameQualifier = g_strndup(subject.sp_name_qualifier.data(), subject.sp_name_qualifier.size());
    request->NameID = nid;
    if (!subject.session_index.empty())
        request->SessionIndex = g_strndup(subject.session_index.data(), subject.session_index.size());
    request->NotOnOrAfter = g_strdup(until.c_str());
    return send(request.get(), "SAMLRequest", location, {}, std::move(*id));
}

Result<OutgoingLogout> LogoutService::build_response(std::string_view in_response_to, std::string_view status,
                                                     std::string_view second_status, std::string_view relay_state,
                                                     std::int64_t now) {
    if (!idp_has_slo()) return fail(SamlError::internal, "the IdP publishes no SingleLogoutService");
    auto id = new_message_id();
    if (!id) return fail(SamlError::internal, "no random bytes for the LogoutResponse ID");
    GObjectPtr<LassoSamlp2LogoutResponse> response(LASSO_SAMLP2_LOGOUT_RESPONSE(lasso_samlp2_logout_response_new()));
    auto* sr = LASSO_SAMLP2_STATUS_RESPONSE(response.get());
    std::string location;
    if (!redirect_location_.empty())
        location = redirect_response_location_.empty() ? redirect_location_ : redirect_response_location_;
    else
        location = post_response_location_.empty() ? post_location_ : post_response_location_;
    const std::string instant = format_saml_time(now);
    sr->ID = g_strdup(id->c_str());
    sr->Version = g_strdup("2.0");
    sr->IssueInstant = g_strdup(instant.c_str());
    sr->Destination = g_strdup(location.c_str());
    sr->InResponseTo = g_strndup(in_response_to.data(), in_response_to.size());
    sr->Issuer = issuer_node(sp_entity_id_);
    auto* st = LASSO_SAMLP2_STATUS(lasso_samlp2_status_new());
    st->StatusCode = LASSO_SAMLP2_STATUS_CODE(lasso_samlp2_status_code_new());
    st->StatusCode->Value = g_strndup(status.data(), status.size());
    if (!second_status.empty()) {
        st->StatusCode->StatusCode = LASSO_SAMLP2_STATUS_CODE(lasso_samlp2_status_code_new());
        st->StatusCode->StatusCode->Value = g_strndup(second_status.data(), second_status.size());
    }
    sr->Status = st;
    return send(response.get(), "SAMLResponse", location, relay_state, std::move(*id));
}

// The HTTP-Redirect signature (SAML bindings 3.4.4.1) over the parameters exactly as they
// appear in the query: "SAMLRequest=…[&RelayState=…]&SigAlg=…", verified with the IdP's
// metadata keys. Done here, not by Lasso, whose query verification loses memory per call.
std::optional<Error> LogoutService::verify_query(std::string_view query, const char* field) const {
    for (const char* name : {field, "RelayState", "SigAlg", "Signature"})
        if (param_count(query, name) > 1) return fail(SamlError::bad_request, std::string(name) + " given twice");
    auto value = query_param(query, field);
    auto relay = query_param(query, "RelayState");
    auto sig_alg = query_param(query, "SigAlg");
    auto signature = query_param(query, "Signature");
    if (!value) return fail(SamlError::bad_request, std::string("no ") + field + " in the query");
    if (!signature) return invalid("message is not signed");
    auto alg = sig_alg ? url_decode(*sig_alg, false) : std::nullopt;
    if (!alg) return invalid("signed query has no SigAlg");
    const EVP_MD* md = nullptr;
    if (*alg == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256") {
        md = EVP_sha256();
    } else if (*alg == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384") {
        md = EVP_sha384();
    } else if (*alg == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512") {
        md = EVP_sha512();
    } else if (*alg == "http://www.w3.org/2000/09/xmldsig#rsa-sha1") {
        if (!allow_sha1_) return invalid("SHA-1 signature (" + *alg + ") refused");
        md = EVP_sha1();
    } else {
        return invalid("unsupported SigAlg " + *alg);
    }
    std::string signed_part = std::string(field) + "=" + std::string(*value);
    if (relay) signed_part += "&RelayState=" + std::string(*relay);
    signed_part += "&SigAlg=" + std::string(*sig_alg);
    auto sig_b64 = url_decode(*signature, false);
    auto sig = sig_b64 ? base64_decode_strict(*sig_b64, 2048) : std::nullopt;
    if (!sig) return invalid("Signature is not valid base64");
    for (const EvpPkeyPtr& key : idp_keys_) {
        std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
        if (ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.get()) == 1 &&
            EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                             reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1)
            return std::nullopt;
    }
    ERR_clear_error();
    return invalid("signature does not verify with the IdP metadata certificate");
}

// Checks the signature of `message` and reads it into `node`.
std::optional<Error> LogoutService::verify_into(void* node_ptr, SloBinding binding, std::string_view message,
                                                const char* field) {
    LassoProvider* idp = lasso_server_get_provider(server_, idp_entity_id_.c_str());
    if (!idp) return fail(SamlError::internal, "the IdP is not loaded");
    if (message.size() > max_bytes_ / 3 * 4 + 4096) return fail(SamlError::bad_request, "logout message too large");
    const std::string msg(message);
    LassoMessageFormat format = LASSO_MESSAGE_FORMAT_ERROR;
    if (binding == SloBinding::redirect) {
        if (!query_param(message, field))
            return fail(SamlError::bad_request, std::string("no ") + field + " in the query");
        if (auto e = verify_query(message, field)) return e;
        format = LASSO_MESSAGE_FORMAT_QUERY;
    } else {
        auto xml = base64_decode_strict(message, max_bytes_);
        if (!xml) return fail(SamlError::bad_request, std::string(field) + " is not valid base64 or is too large");
        if (xml->find("<!DOCTYPE") != std::string::npos)
            return fail(SamlError::bad_request, "DOCTYPE in a logout message");
        if (xml->find("xmldsig#rsa-sha1\"") != std::string::npos && !allow_sha1_)
            return invalid("SHA-1 signature refused");
        const int rc = lasso_provider_verify_signature(idp, msg.c_str(), "ID", LASSO_MESSAGE_FORMAT_BASE64);
        if (rc != 0) return invalid(signature_reason(rc));
        format = LASSO_MESSAGE_FORMAT_BASE64;
    }
    if (lasso_node_init_from_message(LASSO_NODE(node_ptr), msg.c_str()) != format)
        return fail(SamlError::bad_request, std::string(field) + " is not a SAML logout message");
    return std::nullopt;
}

std::optional<UnverifiedLogout> peek_logout_message(SloBinding binding, std::string_view message, bool is_request,
                                                    std::size_t max_bytes) {
    if (message.size() > max_bytes / 3 * 4 + 4096) return std::nullopt;
    if (binding == SloBinding::post) {
        auto xml = base64_decode_strict(message, max_bytes);
        if (!xml || xml->find("<!DOCTYPE") != std::string::npos) return std::nullopt;
    }
    const std::string msg(message);
    GObjectPtr<LassoNode> node(is_request ? LASSO_NODE(lasso_samlp2_logout_request_new())
                                          : LASSO_NODE(lasso_samlp2_logout_response_new()));
    if (!node || lasso_node_init_from_message(node.get(), msg.c_str()) == LASSO_MESSAGE_FORMAT_ERROR)
        return std::nullopt;
    UnverifiedLogout out;
    LassoSaml2NameID* issuer;
    if (is_request) {
        auto* abstract = LASSO_SAMLP2_REQUEST_ABSTRACT(node.get());
        issuer = abstract->Issuer;
        out.id = str(abstract->ID);
    } else {
        auto* sr = LASSO_SAMLP2_STATUS_RESPONSE(node.get());
        issuer = sr->Issuer;
        out.id = str(sr->ID);
        out.in_response_to = str(sr->InResponseTo);
    }
    if (!issuer || !issuer->content) return std::nullopt;
    out.issuer = issuer->content;
    return out;
}

std::optional<std::string> logout_message_issuer(SloBinding binding, std::string_view message, bool is_request,
                                                 std::size_t max_bytes) {
    auto peeked = peek_logout_message(binding, message, is_request, max_bytes);
    if (!peeked) return std::nullopt;
    return std::move(peeked->issuer);
}

// Issuer, Destination, Version and IssueInstant, common to both directions.
std::optional<Error> LogoutService::check_envelope(LassoSaml2NameID* issuer, const char* version,
                                                   const char* issue_instant, const char* destination,
                                                   std::int64_t now) const {
    if (str(version) != "2.0") return invalid("not a SAML 2.0 message");
    if (!issuer || str(issuer->content) != idp_entity_id_)
        return invalid("Issuer " + (issuer ? str(issuer->content) : std::string("(none)")) +
                       " is not the configured IdP");
    // A signed message must name where it is going (SAML bindings 3.4.5.2, 3.5.5.2).
    if (str(destination) != slo_url_)
        return invalid("Destination " + (destination ? str(destination) : std::string("(none)")) +
                       " is not our SLO URL " + slo_url_);
    auto instant = issue_instant ? parse_saml_time(issue_instant) : std::nullopt;
    if (!instant) return invalid("IssueInstant is missing or not a valid time");
    if (*instant > now + clock_skew_)
        return invalid(std::string("IssueInstant ") + issue_instant + " is in the future");
    if (*instant < now - clock_skew_ - kMaxMessageAge)
        return invalid(std::string("IssueInstant ") + issue_instant + " is too old");
    return std::nullopt;
}

Result<IncomingLogoutRequest> LogoutService::parse_request(SloBinding binding, std::string_view message,
                                                           std::string_view relay_state, std::int64_t now) {
    GObjectPtr<LassoSamlp2LogoutRequest> request(LASSO_SAMLP2_LOGOUT_REQUEST(lasso_samlp2_logout_request_new()));
    if (auto e = verify_into(request.get(), binding, message, "SAMLRequest")) return *e;
    auto* abstract = LASSO_SAMLP2_REQUEST_ABSTRACT(request.get());
    if (auto e =
            check_envelope(abstract->Issuer, abstract->Version, abstract->IssueInstant, abstract->Destination, now))
        return *e;
    if (!abstract->ID || !*abstract->ID) return invalid("LogoutRequest has no ID");
    if (request->EncryptedID || request->BaseID) return invalid("LogoutRequest names the user by an unsupported ID");
    if (!request->NameID || !request->NameID->content || !*request->NameID->content)
        return invalid("LogoutRequest has no NameID");
    if (request->NotOnOrAfter) {
        auto until = parse_saml_time(request->NotOnOrAfter);
        if (!until) return invalid("LogoutRequest NotOnOrAfter is not a valid time");
        if (now - clock_skew_ >= *until)
            return invalid(std::string("LogoutRequest has expired (NotOnOrAfter ") + request->NotOnOrAfter + ")");
    }
    IncomingLogoutRequest out;
    GList* indexes = lasso_samlp2_logout_request_get_session_indexes(request.get());
    const guint count = g_list_length(indexes);
    if (count > 1) {
        g_list_free_full(indexes, g_free);
        return invalid("LogoutRequest names several SessionIndexes; one is supported");
    }
    if (count == 1) out.session_index = str(static_cast<const char*>(indexes->data));
    g_list_free_full(indexes, g_free);
    out.id = abstract->ID;
    out.name_id = request->NameID->content;
    out.name_id_format = str(request->NameID->Format);
    out.name_qualifier = str(request->NameID->NameQualifier);
    out.sp_name_qualifier = str(request->NameID->SPNameQualifier);
    out.relay_state = std::string(relay_state);
    out.expires = *parse_saml_time(abstract->IssueInstant) + kMaxMessageAge + 2 * clock_skew_;
    return out;
}

Result<IncomingLogoutResponse> LogoutService::parse_response(SloBinding binding, std::string_view message,
                                                             std::int64_t now) {
    GObjectPtr<LassoSamlp2LogoutResponse> response(LASSO_SAMLP2_LOGOUT_RESPONSE(lasso_samlp2_logout_response_new()));
    if (auto e = verify_into(response.get(), binding, message, "SAMLResponse")) return *e;
    auto* sr = LASSO_SAMLP2_STATUS_RESPONSE(response.get());
    if (auto e = check_envelope(sr->Issuer, sr->Version, sr->IssueInstant, sr->Destination, now)) return *e;
    if (!sr->InResponseTo || !*sr->InResponseTo) return invalid("LogoutResponse has no InResponseTo");
    if (!sr->Status || !sr->Status->StatusCode || !sr->Status->StatusCode->Value)
        return invalid("LogoutResponse has no StatusCode");
    IncomingLogoutResponse out;
    out.in_response_to = sr->InResponseTo;
    out.status = sr->Status->StatusCode->Value;
    out.success = out.status == LASSO_SAML2_STATUS_CODE_SUCCESS;
    return out;
}

}  // namespace sso
