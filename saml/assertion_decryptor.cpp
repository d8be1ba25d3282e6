#include "saml/assertion_decryptor.hpp"

#include <xmlsec/crypto.h>
#include <xmlsec/keys.h>
#include <xmlsec/xmlenc.h>

#include <openssl/crypto.h>

namespace sso {
namespace {

struct EncCtxDestroy {
    void operator()(xmlSecEncCtx* c) const noexcept { xmlSecEncCtxDestroy(c); }
};
using EncCtxPtr = std::unique_ptr<xmlSecEncCtx, EncCtxDestroy>;

struct KeyDestroy {
    void operator()(xmlSecKey* k) const noexcept { xmlSecKeyDestroy(k); }
};
using KeyPtr = std::unique_ptr<xmlSecKey, KeyDestroy>;

Error refuse(std::string reason) {
    return fail(SamlError::invalid_response, std::move(reason));
}

// A context that decrypts with `key` (which it takes over) in the given mode.
EncCtxPtr context(KeyPtr key, xmlEncCtxMode mode) {
    EncCtxPtr ctx(xmlSecEncCtxCreate(nullptr));
    if (!ctx) return ctx;
    ctx->encKey = key.release();
    ctx->mode = mode;
    return ctx;
}

}  // namespace

Result<std::unique_ptr<AssertionDecryptor>> AssertionDecryptor::from_pem(const std::string& key_pem) {
    KeyPtr key(xmlSecCryptoAppKeyLoadMemory(reinterpret_cast<const xmlSecByte*>(key_pem.data()),
                                            static_cast<xmlSecSize>(key_pem.size()), xmlSecKeyDataFormatPem, nullptr,
                                            nullptr, nullptr));
    if (!key || !xmlSecKeyIsValid(key.get()))
        return fail(SamlError::config, "encryption key is not an unencrypted PEM private key", "encryption_key");
    if (!xmlSecKeyDataCheckId(xmlSecKeyGetValue(key.get()), xmlSecKeyDataRsaId))
        return fail(SamlError::config, "encryption key must be an RSA key", "encryption_key");
    return std::unique_ptr<AssertionDecryptor>(new AssertionDecryptor(key.release()));
}

AssertionDecryptor::~AssertionDecryptor() {
    xmlSecKeyDestroy(key_);
}

Result<std::string> AssertionDecryptor::decrypt(xmlNode* encrypted_data, xmlNode* encrypted_key) const {
    // A context destroys its key: it gets a copy (a bare RSA key, cheap to duplicate).
    EncCtxPtr key_ctx = context(KeyPtr(xmlSecKeyDuplicate(key_)), xmlEncCtxModeEncryptedKey);
    if (!key_ctx || !key_ctx->encKey) return fail(SamlError::internal, "cannot set up xmlsec decryption");
    xmlSecBuffer* session = xmlSecEncCtxDecryptToBuffer(key_ctx.get(), encrypted_key);
    if (!session) return refuse("cannot decrypt the EncryptedKey with the SP encryption key");
    KeyPtr aes(xmlSecKeyReadBuffer(xmlSecKeyDataAesId, session));
    OPENSSL_cleanse(xmlSecBufferGetData(session), xmlSecBufferGetSize(session));
    if (!aes) return refuse("EncryptedKey does not hold an AES key");

    EncCtxPtr data_ctx = context(std::move(aes), xmlEncCtxModeEncryptedData);
    if (!data_ctx || !data_ctx->encKey) return fail(SamlError::internal, "cannot set up xmlsec decryption");
    xmlSecBuffer* plain = xmlSecEncCtxDecryptToBuffer(data_ctx.get(), encrypted_data);
    if (!plain) return refuse("cannot decrypt the EncryptedData (wrong key, damaged or tampered ciphertext)");
    return std::string(reinterpret_cast<const char*>(xmlSecBufferGetData(plain)), xmlSecBufferGetSize(plain));
}

}  // namespace sso
