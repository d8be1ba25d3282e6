// Verifies one enveloped XML signature ourselves, with xmlsec and the IdP's signing
// certificates from its metadata. Lasso verifies RSA signatures; it cannot verify ECDSA (it
// enables only RSA, DSA and HMAC transforms), and when it refuses a signature it does not say
// whether the signed content changed (a digest that does not match) or the signature value
// does not verify with the key. This says which.
//
// The shape of the signature (one Reference to its parent, exclusive c14n, allowed
// algorithms) is the response guard's rule; it must have run on the document first.
#pragma once

#include <string>
#include <vector>

#include "saml/lasso_includes.hpp"

namespace sso {

enum class SignatureStatus {
    valid,
    digest_mismatch,    // the Reference's digest does not match: the content changed after signing
    signature_invalid,  // the digest matches; the SignatureValue does not verify with any certificate
    unusable,           // no usable certificate, or xmlsec could not process the signature
};

// The base64 DER certificates of the signing KeyDescriptors (use="signing" or no use) of an
// IdP's EntityDescriptor.
std::vector<std::string> signing_certificates(const std::string& entity_xml);

// Verifies the ds:Signature child of `signed_element` (in `doc`, whose IDs it registers) with
// each certificate in turn.
SignatureStatus verify_enveloped_signature(xmlDoc* doc, xmlNode* signed_element,
                                           const std::vector<std::string>& certificates);

}  // namespace sso
