// The SAML 2.0 Service Provider of one nginx server block. Built once per configuration load
// (keys, metadata and the LassoServer are parsed here, never per request); afterwards it only
// builds AuthnRequests and validates Responses. Not thread-safe for concurrent use of one
// instance, which nginx's single-threaded workers never do.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "saml/certificates.hpp"
#include "saml/result.hpp"

namespace sso {

class LogoutService;

struct SpSettings {
    std::string entity_id;  // the Issuer the IdP knows us by
    std::string acs_url;    // the Return URL (Assertion Consumer Service, HTTP-POST)
    std::string key_pem;    // SP private key (PEM contents)
    std::string cert_pem;   // SP certificate (PEM contents)
    // Decrypts EncryptedAssertions; both empty: the SP key and certificate do.
    std::string encryption_key_pem;
    std::string encryption_cert_pem;
    std::string idp_metadata_xml;  // IdP metadata (contents): one IdP, or an aggregate of several
    std::int64_t clock_skew = 60;  // seconds of tolerance on every time condition
    bool sign_requests = true;
    bool allow_sha1 = false;
    bool allow_unsolicited = false;               // IdP-initiated login: Responses without InResponseTo
    bool want_assertions_signed = false;          // the Assertion must carry its own signature
    bool require_encrypted_assertions = false;    // a plaintext Assertion is refused
    bool allow_rsa1_5 = false;                    // RSA PKCS#1 v1.5 key transport besides RSA-OAEP
    std::size_t max_response_bytes = 256 * 1024;  // decoded XML
};

struct SamlAttribute {
    std::string name;           // the Name (often a urn:oid)
    std::string friendly_name;  // may be empty
    std::vector<std::string> values;
};

// One IdP this SP trusts, as its metadata names it.
struct IdpSummary {
    std::string entity_id;
    std::string display_name;
};

struct AuthnRequestMessage {
    std::string redirect_url;  // the IdP's SSO URL with SAMLRequest, RelayState, SigAlg, Signature
    std::string request_id;    // the ID the Response must name in InResponseTo
    std::string idp;           // the entityID of the IdP it goes to
};

// What a Response proved, after every check passed.
struct ValidatedAssertion {
    std::string idp;  // the IdP's entityID (Issuer)
    std::string name_id, name_id_format, session_index;
    std::string name_qualifier, sp_name_qualifier;  // of the NameID, as given (empty: absent)
    std::string in_response_to;
    std::string assertion_id;
    std::int64_t issue_instant = 0;            // the Assertion's IssueInstant
    std::int64_t not_on_or_after = 0;          // when the assertion (and its replay-cache entry) expires
    std::int64_t session_not_on_or_after = 0;  // 0 when the IdP set no limit
    std::vector<SamlAttribute> attributes;
};

class ServiceProvider {
public:
    // The SP metadata alone: administrators give it to the IdP before they have the IdP's
    // metadata, so it must not need the IdP side. Checks that key and certificate match.
    static Result<std::string> sp_metadata(const SpSettings& settings);

    // Parses keys and metadata and builds the LassoServer. Errors name what is wrong.
    static Result<std::unique_ptr<ServiceProvider>> create(const SpSettings& settings);
    ~ServiceProvider();
    ServiceProvider(const ServiceProvider&) = delete;
    ServiceProvider& operator=(const ServiceProvider&) = delete;

    const std::string& entity_id() const noexcept { return settings_.entity_id; }
    // The IdPs of the metadata, in document order; never empty.
    const std::vector<IdpSummary>& idps() const noexcept { return idps_; }
    const std::string& idp_entity_id() const noexcept { return idps_.front().entity_id; }  // the first
    bool knows_idp(std::string_view entity_id) const noexcept;
    const std::string& metadata_xml() const noexcept { return metadata_xml_; }
    std::int64_t clock_skew() const noexcept { return settings_.clock_skew; }
    // Our certificates, then each IdP's (signing and encryption), with their expiry: read once here.
    const std::vector<CertificateExpiry>& certificates() const noexcept { return certificates_; }

    // To `idp` (an entityID of idps()), or to the first IdP when it is empty. With `request_id`
    // empty, a random ID; otherwise that one (an xs:ID the caller made, session/login_request.hpp).
    Result<AuthnRequestMessage> build_authn_request(std::string_view relay_state, std::string_view idp = {},
                                                    std::string_view request_id = {});

    // saml_response is the base64 SAMLResponse form field as posted to the ACS.
    Result<ValidatedAssertion> consume_response(std::string_view saml_response, std::int64_t now);

    // Single Logout with one IdP of the metadata (saml/logout.hpp); null for an unknown entityID.
    LogoutService* logout(std::string_view idp) noexcept;
    bool any_idp_has_slo() const noexcept;

private:
    struct Lasso;
    ServiceProvider(SpSettings settings, std::string metadata, std::vector<IdpSummary> idps,
                    std::unique_ptr<Lasso> lasso);

    SpSettings settings_;
    std::string metadata_xml_;
    std::vector<IdpSummary> idps_;
    std::unique_ptr<Lasso> lasso_;
    std::vector<std::unique_ptr<LogoutService>> logouts_;  // one per IdP, in the order of idps_
    std::vector<CertificateExpiry> certificates_;
};

}  // namespace sso
