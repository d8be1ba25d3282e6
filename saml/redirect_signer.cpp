#include "saml/redirect_signer.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "saml/base64.hpp"
#include "session/form.hpp"

namespace sso {
namespace {

constexpr std::string_view kRsaSha256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

struct BioFree {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

}  // namespace

Result<std::unique_ptr<RedirectSigner>> RedirectSigner::from_pem(const std::string& key_pem) {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
    EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
    if (!key) return fail(SamlError::config, "private key is not an unencrypted PEM private key", "key");
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        EVP_PKEY_free(key);
        return fail(SamlError::config, "signing AuthnRequests needs an RSA key", "key");
    }
    return std::unique_ptr<RedirectSigner>(new RedirectSigner(key));
}

RedirectSigner::~RedirectSigner() {
    EVP_PKEY_free(key_);
}

Result<std::string> RedirectSigner::sign(std::string_view url) const {
    std::size_t start = url.find("SAMLRequest=");
    if (start == std::string_view::npos) start = url.find("SAMLResponse=");
    if (start == std::string_view::npos || start == 0 || (url[start - 1] != '?' && url[start - 1] != '&'))
        return fail(SamlError::internal, "redirect URL has no SAMLRequest or SAMLResponse parameter");
    std::string out(url);
    out += "&SigAlg=" + url_encode(kRsaSha256);
    const std::string_view signed_part = std::string_view(out).substr(start);

    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    std::size_t len = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(signed_part.data()),
                       signed_part.size()) != 1)
        return fail(SamlError::internal, "cannot sign the redirect message");
    std::string signature(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len,
                       reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) != 1)
        return fail(SamlError::internal, "cannot sign the redirect message");
    signature.resize(len);
    out += "&Signature=" + url_encode(base64_encode(signature));
    return out;
}

}  // namespace sso
