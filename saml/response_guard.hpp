// Structural checks on a decoded SAML Response before any signature is verified. They close
// the classes of attack where a correct signature covers a different element than the one the
// SP reads: XML signature wrapping, several or nested assertions, duplicate IDs, References
// that do not point at their parent, unexpected transforms, DOCTYPE/entity tricks.
//
// An EncryptedAssertion is checked in two steps: check_response_structure() checks the Response
// around it and the encryption envelope (one EncryptedData, one EncryptedKey, algorithms we
// accept), then check_decrypted_assertion() applies the assertion rules to the plaintext.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "saml/handles.hpp"
#include "saml/result.hpp"

namespace sso {

struct ResponseGuardLimits {
    std::size_t max_depth = 24;
    std::size_t max_elements = 4096;
    bool allow_sha1 = false;
    bool require_assertion_signature = false;  // WantAssertionsSigned: a Response signature is not enough
    bool allow_rsa1_5 = false;                 // RSA PKCS#1 v1.5 key transport (Bleichenbacher oracle)
};

// A Response that passed the checks, parsed once. When its assertion is encrypted, the nodes to
// decrypt; they live in `doc`.
struct CheckedResponse {
    XmlDocPtr doc;
    xmlNode* encrypted_data = nullptr;  // xenc:EncryptedData of the one EncryptedAssertion
    xmlNode* encrypted_key = nullptr;   // its one xenc:EncryptedKey (inside KeyInfo or beside it)
    xmlNode* assertion = nullptr;       // the plaintext Assertion (null when it is encrypted)
    bool response_signed = false;
    bool encrypted() const noexcept { return encrypted_data != nullptr; }
};

// Parses and checks the Response. The error's reason says why it is refused.
Result<CheckedResponse> check_response(std::string_view xml, const ResponseGuardLimits& limits);

// nullopt when the document has the one shape we accept; otherwise the reason to refuse it.
std::optional<std::string> check_response_structure(std::string_view xml, const ResponseGuardLimits& limits);

// The plaintext of an EncryptedAssertion: exactly one Assertion and nothing else, held to the
// same rules as a plaintext one (signature placement, comments, IDs, and at least one signature
// between it and the Response). Returns the Assertion's ID.
// `assertion_signed`, when given, is set to whether the Assertion carries its own signature.
Result<std::string> check_decrypted_assertion(std::string_view plaintext, const ResponseGuardLimits& limits,
                                              bool response_signed, bool* assertion_signed = nullptr);

// Whether the ds:Signature child of `signed_element` uses an ECDSA SignatureMethod (which Lasso
// cannot verify; saml/signature_verifier.hpp does). False when it has none.
bool signed_with_ecdsa(const xmlNode* signed_element) noexcept;

}  // namespace sso
