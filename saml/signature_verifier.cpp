#include "saml/signature_verifier.hpp"

#include <xmlsec/crypto.h>
#include <xmlsec/keys.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmltree.h>

#include <cstring>
#include <memory>

#include "saml/base64.hpp"
#include "saml/handles.hpp"
#include "saml/key_descriptors.hpp"

namespace sso {
namespace {

struct DSigCtxDestroy {
    void operator()(xmlSecDSigCtx* c) const noexcept { xmlSecDSigCtxDestroy(c); }
};
using DSigCtxPtr = std::unique_ptr<xmlSecDSigCtx, DSigCtxDestroy>;

struct KeyDestroy {
    void operator()(xmlSecKey* k) const noexcept { xmlSecKeyDestroy(k); }
};
using KeyPtr = std::unique_ptr<xmlSecKey, KeyDestroy>;

// The signing certificates (a KeyDescriptor without use is for both).
void collect(const xmlNode* n, std::vector<std::string>& out) {
    std::vector<MetadataCertificate> certs;
    collect_metadata_certificates(n, certs);
    for (MetadataCertificate& c : certs)
        if (c.use.empty() || c.use == "signing") out.push_back(std::move(c.base64));
}

// A context that accepts only what the response guard accepts; xmlsec refuses anything else.
DSigCtxPtr constrained_context() {
    DSigCtxPtr ctx(xmlSecDSigCtxCreate(nullptr));
    if (!ctx) return ctx;
    ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
    for (xmlSecTransformId id : {xmlSecTransformExclC14NId, xmlSecTransformRsaSha1Id, xmlSecTransformRsaSha256Id,
                                 xmlSecTransformRsaSha384Id, xmlSecTransformRsaSha512Id, xmlSecTransformEcdsaSha256Id,
                                 xmlSecTransformEcdsaSha384Id, xmlSecTransformEcdsaSha512Id})
        if (xmlSecDSigCtxEnableSignatureTransform(ctx.get(), id) < 0) return nullptr;
    for (xmlSecTransformId id : {xmlSecTransformEnvelopedId, xmlSecTransformExclC14NId, xmlSecTransformSha1Id,
                                 xmlSecTransformSha256Id, xmlSecTransformSha384Id, xmlSecTransformSha512Id})
        if (xmlSecDSigCtxEnableReferenceTransform(ctx.get(), id) < 0) return nullptr;
    return ctx;
}

}  // namespace

std::vector<std::string> signing_certificates(const std::string& entity_xml) {
    std::vector<std::string> out;
    XmlDocPtr doc(xmlReadMemory(entity_xml.data(), static_cast<int>(entity_xml.size()), "idp-metadata.xml", nullptr,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    if (doc) collect(xmlDocGetRootElement(doc.get()), out);
    return out;
}

SignatureStatus verify_enveloped_signature(xmlDoc* doc, xmlNode* signed_element,
                                           const std::vector<std::string>& certificates) {
    xmlNode* signature = xmlSecFindChild(signed_element, xmlSecNodeSignature, xmlSecDSigNs);
    if (!signature) return SignatureStatus::unusable;
    // The Reference names the element by its ID; a document parsed without a DTD has no IDs.
    xmlAttr* id = xmlHasNsProp(signed_element, reinterpret_cast<const xmlChar*>("ID"), nullptr);
    if (!id) return SignatureStatus::unusable;
    XmlCharPtr id_value(xmlNodeListGetString(doc, id->children, 1));
    if (!id_value) return SignatureStatus::unusable;
    if (!xmlGetID(doc, id_value.get())) xmlAddID(nullptr, doc, id_value.get(), id);

    SignatureStatus status = SignatureStatus::unusable;
    for (const std::string& cert_b64 : certificates) {
        auto der = base64_decode_strict(cert_b64, 64 * 1024);
        if (!der) continue;
        KeyPtr key(xmlSecCryptoAppKeyLoadMemory(reinterpret_cast<const xmlSecByte*>(der->data()),
                                                static_cast<xmlSecSize>(der->size()), xmlSecKeyDataFormatCertDer,
                                                nullptr, nullptr, nullptr));
        if (!key) continue;
        DSigCtxPtr ctx = constrained_context();
        if (!ctx) return SignatureStatus::unusable;
        ctx->signKey = key.release();  // the context owns it now
        // An error here is a key that cannot check this signature (an EC key, an RSA signature).
        if (xmlSecDSigCtxVerify(ctx.get(), signature) < 0) {
            status = SignatureStatus::signature_invalid;
            continue;
        }
        if (ctx->status == xmlSecDSigStatusSucceeded) return SignatureStatus::valid;
        // xmlsec checks the references first and stops at one that does not match.
        bool digest_ok = xmlSecPtrListGetSize(&ctx->signedInfoReferences) > 0;
        for (xmlSecSize i = 0; i < xmlSecPtrListGetSize(&ctx->signedInfoReferences); ++i) {
            auto* ref = static_cast<xmlSecDSigReferenceCtx*>(xmlSecPtrListGetItem(&ctx->signedInfoReferences, i));
            if (!ref || ref->status != xmlSecDSigStatusSucceeded) digest_ok = false;
        }
        // The digest does not depend on the key: one mismatch settles it.
        if (!digest_ok) return SignatureStatus::digest_mismatch;
        status = SignatureStatus::signature_invalid;
    }
    return status;
}

}  // namespace sso
