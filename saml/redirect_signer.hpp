// Signs HTTP-Redirect binding messages (SAML Bindings 3.4.4.1) with a key parsed once.
// Lasso would re-read the PEM key, and rebuild its RSA blinding, for every signature: 60% of
// the cost of an AuthnRequest. The signed bytes are exactly "SAMLRequest=…[&RelayState=…]
// &SigAlg=…" as they appear in the URL.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "saml/result.hpp"

typedef struct evp_pkey_st EVP_PKEY;

namespace sso {

class RedirectSigner {
public:
    // RSA keys only (RSA-SHA256); anything else is a configuration error the caller reports.
    static Result<std::unique_ptr<RedirectSigner>> from_pem(const std::string& key_pem);
    ~RedirectSigner();

    // `url` is the unsigned redirect URL whose query ends with the SAMLRequest (or
    // SAMLResponse)/RelayState parameters; returns it with SigAlg and Signature appended.
    Result<std::string> sign(std::string_view url) const;

private:
    explicit RedirectSigner(EVP_PKEY* key) : key_(key) {}
    EVP_PKEY* key_;
};

}  // namespace sso
