// SAML 2.0 Single Logout for one ServiceProvider: builds our LogoutRequests and
// LogoutResponses (signed: RSA-SHA256 over the query for HTTP-Redirect with our
// RedirectSigner, an enveloped XML signature for HTTP-POST) and checks the IdP's (signature by
// the IdP's metadata key, Issuer, Destination, time). Which session a message ends, and whether
// its ID was seen before, is the caller's business (the store); this class keeps no state
// beyond what it parsed at load.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "saml/result.hpp"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct _LassoServer LassoServer;
typedef struct _LassoKey LassoKey;
typedef struct _LassoSaml2NameID LassoSaml2NameID;

namespace sso {

struct SpSettings;
class RedirectSigner;

struct EvpPkeyFree {
    void operator()(EVP_PKEY* k) const noexcept;
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

enum class SloBinding { redirect, post };

// A message for the browser to carry to the IdP.
struct OutgoingLogout {
    SloBinding binding = SloBinding::redirect;
    std::string url;    // redirect: the whole signed URL; post: the form action
    std::string field;  // post: "SAMLRequest" or "SAMLResponse"
    std::string value;  // post: the signed message, base64
    std::string relay_state;
    std::string id;  // the message ID (a LogoutRequest's answer names it in InResponseTo)
};

// What a verified LogoutRequest from the IdP asks for.
struct IncomingLogoutRequest {
    std::string id;
    std::string name_id, name_id_format, name_qualifier, sp_name_qualifier;
    std::string session_index;  // empty when the request names none
    std::string relay_state;
    std::int64_t expires = 0;  // until when its ID must stay in the replay cache
};

// A verified LogoutResponse from the IdP.
struct IncomingLogoutResponse {
    std::string in_response_to;
    std::string status;  // the top-level StatusCode
    bool success = false;
};

// The session a LogoutRequest of ours ends: the NameID with its Format and qualifiers exactly
// as the assertion had them (empty: the assertion had none; then none is sent), because IdPs
// that match NameIDs strictly (SAML core 3.7.1) find their session by all four.
struct LogoutSubject {
    std::string_view name_id, name_id_format, session_index;
    std::string_view name_qualifier, sp_name_qualifier;
};

// SAML status codes (core 3.2.2.2) our LogoutResponses use.
namespace saml_status {
inline constexpr std::string_view kSuccess = "urn:oasis:names:tc:SAML:2.0:status:Success";
inline constexpr std::string_view kRequester = "urn:oasis:names:tc:SAML:2.0:status:Requester";
inline constexpr std::string_view kResponder = "urn:oasis:names:tc:SAML:2.0:status:Responder";
inline constexpr std::string_view kRequestDenied = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";
inline constexpr std::string_view kUnknownPrincipal = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal";
}  // namespace saml_status

// What became of an IdP's LogoutRequest, and so what our LogoutResponse says.
enum class LogoutOutcome {
    ended,       // its sessions ended: Success
    no_session,  // verified, but it names no session of ours: Responder / UnknownPrincipal
    refused,     // not verified (unsigned, bad signature, stale, misdirected): Requester / RequestDenied;
                 // nothing ended, and the IdP's logout chain can go on
};
struct LogoutStatus {
    std::string_view status, second;  // second: empty for none
};
LogoutStatus logout_status_for(LogoutOutcome outcome) noexcept;

// A logout message as it reads before any check: only to pick the IdP whose keys then verify
// it and, when that fails, to answer (a refusal) or to finish our own logout without trusting
// it. Nothing read here may decide anything else.
struct UnverifiedLogout {
    std::string issuer;
    std::string id;              // the message ID (a LogoutRequest's, to answer it)
    std::string in_response_to;  // a LogoutResponse's: which LogoutRequest of ours it answers
};
std::optional<UnverifiedLogout> peek_logout_message(SloBinding binding, std::string_view message, bool is_request,
                                                    std::size_t max_bytes);

// The SLO endpoint URL derived from the ACS URL: its last path segment replaced by "slo"
// (https://sp.example/sso/acs -> https://sp.example/sso/slo).
std::string slo_url_for(std::string_view acs_url);

// The key of the SLO index entry of a session: which server block (scope), which IdP, the
// NameID and the SessionIndex, hashed (SHA-256, hex) so the key has a fixed size.
std::string slo_index_key(std::string_view scope, std::string_view idp, std::string_view name_id,
                          std::string_view session_index);

// The key of the set of every session of one NameID from one IdP in one server block (the
// slo_subjects table), for a LogoutRequest that names no SessionIndex (SAML core 3.7.3.2):
// hashed like slo_index_key, under its own prefix so the two never collide.
std::string slo_subject_key(std::string_view scope, std::string_view idp, std::string_view name_id);

// The Issuer an IdP's logout message names, read before any check, only to pick the IdP whose
// keys then verify it (several IdPs); nullopt when the message cannot be read as one.
std::optional<std::string> logout_message_issuer(SloBinding binding, std::string_view message, bool is_request,
                                                 std::size_t max_bytes);

class LogoutService {
public:
    // `server` is the ServiceProvider's LassoServer (the IdP loaded as its only provider); a
    // reference is kept. Errors are configuration errors.
    // `idp_metadata_xml` is that IdP's own EntityDescriptor (one entity of an aggregate).
    // `signer` (our key, parsed once) is shared by every IdP's service and must outlive them.
    static Result<std::unique_ptr<LogoutService>> create(LassoServer* server, const SpSettings& settings,
                                                         const RedirectSigner& signer, const std::string& idp_entity_id,
                                                         const std::string& idp_metadata_xml);
    ~LogoutService();
    LogoutService(const LogoutService&) = delete;
    LogoutService& operator=(const LogoutService&) = delete;

    // The IdP publishes a SingleLogoutService we can use (HTTP-Redirect or HTTP-POST).
    bool idp_has_slo() const noexcept { return !redirect_location_.empty() || !post_location_.empty(); }
    const std::string& slo_url() const noexcept { return slo_url_; }
    const std::string& idp() const noexcept { return idp_entity_id_; }

    // A signed LogoutRequest for the session of `subject`, to the IdP's SLO endpoint
    // (HTTP-Redirect when offered, else HTTP-POST).
    Result<OutgoingLogout> build_request(const LogoutSubject& subject, std::int64_t now);

    // A signed LogoutResponse to the IdP's request `in_response_to`; `status` is a SAML status
    // URI and `second_status` an optional second-level code (logout_status_for).
    Result<OutgoingLogout> build_response(std::string_view in_response_to, std::string_view status,
                                          std::string_view second_status, std::string_view relay_state,
                                          std::int64_t now);

    // `message`: the raw query string (HTTP-Redirect, with the Signature the IdP made over it)
    // or the base64 form field (HTTP-POST, with an enveloped XML signature). Unsigned messages
    // are refused.
    Result<IncomingLogoutRequest> parse_request(SloBinding binding, std::string_view message,
                                                std::string_view relay_state, std::int64_t now);
    Result<IncomingLogoutResponse> parse_response(SloBinding binding, std::string_view message, std::int64_t now);

private:
    LogoutService() = default;
    Result<OutgoingLogout> send(void* node, const char* field, const std::string& location, std::string_view relay,
                                std::string id);
    std::optional<Error> verify_query(std::string_view query, const char* field) const;
    std::optional<Error> verify_into(void* node, SloBinding binding, std::string_view message, const char* field);
    std::optional<Error> check_envelope(LassoSaml2NameID* issuer, const char* version, const char* issue_instant,
                                        const char* destination, std::int64_t now) const;

    LassoServer* server_ = nullptr;           // referenced
    LassoKey* post_key_ = nullptr;            // signs HTTP-POST messages; null when the IdP offers Redirect
    const RedirectSigner* signer_ = nullptr;  // borrowed from the ServiceProvider
    std::vector<EvpPkeyPtr> idp_keys_;        // verify HTTP-Redirect query signatures
    std::string sp_entity_id_, idp_entity_id_, slo_url_;
    std::string redirect_location_, redirect_response_location_;
    std::string post_location_, post_response_location_;
    std::int64_t clock_skew_ = 60;
    bool allow_sha1_ = false;
    std::size_t max_bytes_ = 256 * 1024;
};

}  // namespace sso
