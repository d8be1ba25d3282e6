#include "saml/metadata_keys.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstring>
#include <memory>
#include <vector>

#include "saml/base64.hpp"
#include "saml/handles.hpp"

namespace sso {
namespace {

constexpr const char* kNsDsig = "http://www.w3.org/2000/09/xmldsig#";
constexpr const char* kNsMd = "urn:oasis:names:tc:SAML:2.0:metadata";

const xmlChar* x(const char* s) {
    return reinterpret_cast<const xmlChar*>(s);
}

bool is(const xmlNode* n, const char* ns, const char* name) {
    return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           std::strcmp(reinterpret_cast<const char*>(n->ns->href), ns) == 0 &&
           std::strcmp(reinterpret_cast<const char*>(n->name), name) == 0;
}

struct X509Free {
    void operator()(X509* c) const noexcept { X509_free(c); }
};
struct BnFree {
    void operator()(BIGNUM* b) const noexcept { BN_free(b); }
};

std::string bn_base64(const BIGNUM* bn) {
    std::string bytes(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
    return base64_encode(bytes);
}

// The RSA modulus and exponent of a base64 DER certificate, or false when it is not RSA.
bool rsa_key_of(const std::string& cert_b64, std::string& modulus, std::string& exponent) {
    auto der = base64_decode_strict(cert_b64, 64 * 1024);
    if (!der) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(der->data());
    std::unique_ptr<X509, X509Free> cert(d2i_X509(nullptr, &p, static_cast<long>(der->size())));
    if (!cert) return false;
    EVP_PKEY* key = X509_get0_pubkey(cert.get());
    if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) return false;
    BIGNUM* n = nullptr;
    BIGNUM* e = nullptr;
    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) != 1) return false;
    std::unique_ptr<BIGNUM, BnFree> owned_n(n);
    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) != 1) return false;
    std::unique_ptr<BIGNUM, BnFree> owned_e(e);
    modulus = bn_base64(n);
    exponent = bn_base64(e);
    return true;
}

void collect_key_infos(xmlNode* n, std::vector<xmlNode*>& out) {
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        if (is(n, kNsMd, "KeyDescriptor")) {
            for (xmlNode* c = n->children; c; c = c->next)
                if (is(c, kNsDsig, "KeyInfo")) out.push_back(c);
            continue;
        }
        collect_key_infos(n->children, out);
    }
}

}  // namespace

Result<std::string> metadata_with_bare_signing_keys(const std::string& xml) {
    XmlDocPtr doc(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "idp-metadata.xml", nullptr,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    if (!doc) return fail(SamlError::config, "IdP metadata is not well-formed XML", "idp_metadata");
    std::vector<xmlNode*> key_infos;
    collect_key_infos(xmlDocGetRootElement(doc.get()), key_infos);
    for (xmlNode* key_info : key_infos) {
        for (xmlNode* data = key_info->children; data;) {
            xmlNode* next = data->next;
            if (is(data, kNsDsig, "X509Data")) {
                for (xmlNode* c = data->children; c; c = c->next) {
                    if (!is(c, kNsDsig, "X509Certificate")) continue;
                    XmlCharPtr text(xmlNodeGetContent(c));
                    std::string modulus, exponent;
                    if (!text || !rsa_key_of(reinterpret_cast<const char*>(text.get()), modulus, exponent)) continue;
                    xmlNs* ds = xmlSearchNsByHref(doc.get(), key_info, x(kNsDsig));
                    xmlNode* value = xmlNewNode(ds, x("KeyValue"));
                    xmlNode* rsa = xmlNewChild(value, ds, x("RSAKeyValue"), nullptr);
                    xmlNewTextChild(rsa, ds, x("Modulus"), x(modulus.c_str()));
                    xmlNewTextChild(rsa, ds, x("Exponent"), x(exponent.c_str()));
                    xmlReplaceNode(data, value);
                    xmlFreeNode(data);
                    break;  // one key per KeyInfo
                }
            }
            data = next;
        }
    }
    xmlChar* buf = nullptr;
    int size = 0;
    xmlDocDumpMemoryEnc(doc.get(), &buf, &size, "UTF-8");
    XmlCharPtr owned(buf);
    if (!buf) return fail(SamlError::internal, "cannot serialise the IdP metadata");
    return std::string(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(size));
}

}  // namespace sso
