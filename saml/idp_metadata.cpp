#include "saml/idp_metadata.hpp"

#include <xmlsec/crypto.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmltree.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <cstring>
#include <memory>
#include <vector>

#include "saml/handles.hpp"
#include "saml/lasso_log.hpp"
#include "saml/saml_time.hpp"

namespace sso {
namespace {

constexpr const char* kMd = "urn:oasis:names:tc:SAML:2.0:metadata";
constexpr const char* kDs = "http://www.w3.org/2000/09/xmldsig#";

// Algorithms a metadata signature may use. SHA-1 ones only when the administrator allows them.
constexpr std::array kSignatureMethods = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",   "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",   "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384", "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
};
constexpr std::array kDigestMethods = {
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
};
constexpr const char* kRsaSha1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
constexpr const char* kSha1 = "http://www.w3.org/2000/09/xmldsig#sha1";
constexpr std::array kCanonicalizations = {
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
};
constexpr const char* kEnveloped = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

struct DSigCtxFree {
    void operator()(xmlSecDSigCtx* c) const noexcept {
        if (c) xmlSecDSigCtxDestroy(c);
    }
};
struct KeyFree {
    void operator()(xmlSecKey* k) const noexcept {
        if (k) xmlSecKeyDestroy(k);
    }
};

Error bad(std::string reason) {
    return fail(SamlError::config, std::move(reason), "idp_metadata");
}

bool is(const xmlNode* n, const char* ns, const char* name) {
    return n && n->type == XML_ELEMENT_NODE && n->ns &&
           std::strcmp(reinterpret_cast<const char*>(n->ns->href), ns) == 0 &&
           std::strcmp(reinterpret_cast<const char*>(n->name), name) == 0;
}

std::vector<xmlNode*> children(xmlNode* parent, const char* ns, const char* name) {
    std::vector<xmlNode*> out;
    for (xmlNode* c = parent ? parent->children : nullptr; c; c = c->next)
        if (is(c, ns, name)) out.push_back(c);
    return out;
}

std::string attribute(const xmlNode* n, const char* name) {
    XmlCharPtr v(xmlGetNoNsProp(n, reinterpret_cast<const xmlChar*>(name)));
    return v ? std::string(reinterpret_cast<const char*>(v.get())) : std::string();
}

template <std::size_t N>
bool listed(const std::array<const char*, N>& list, const std::string& uri) {
    for (const char* known : list)
        if (uri == known) return true;
    return false;
}

// The shape a metadata signature must have before any cryptography: one Reference to the
// whole document, enveloped with a canonicalization, algorithms we accept. Anything else is a
// signature over something other than what we are about to trust.
std::optional<std::string> signature_shape_error(xmlNode* signature, const std::string& root_id, bool allow_sha1) {
    auto signed_info = children(signature, kDs, "SignedInfo");
    if (signed_info.size() != 1) return "the metadata signature has no single SignedInfo";
    auto c14n = children(signed_info[0], kDs, "CanonicalizationMethod");
    if (c14n.size() != 1 || !listed(kCanonicalizations, attribute(c14n[0], "Algorithm")))
        return "the metadata signature uses an unsupported canonicalization";
    auto method = children(signed_info[0], kDs, "SignatureMethod");
    const std::string algorithm = method.size() == 1 ? attribute(method[0], "Algorithm") : std::string();
    if (algorithm == kRsaSha1 && !allow_sha1)
        return std::string("the metadata is signed with RSA-SHA1, which is refused unless sso_allow_sha1 is on");
    if (!listed(kSignatureMethods, algorithm) && algorithm != kRsaSha1)
        return "the metadata signature algorithm \"" + algorithm + "\" is not supported";
    auto references = children(signed_info[0], kDs, "Reference");
    if (references.size() != 1) return "the metadata signature must have exactly one Reference";
    const std::string uri = attribute(references[0], "URI");
    if (!(uri.empty() || (!root_id.empty() && uri == "#" + root_id)))
        return "the metadata signature does not cover the whole document (Reference URI \"" + uri + "\")";
    bool enveloped = false;
    for (xmlNode* transforms : children(references[0], kDs, "Transforms")) {
        for (xmlNode* t : children(transforms, kDs, "Transform")) {
            const std::string a = attribute(t, "Algorithm");
            if (a == kEnveloped)
                enveloped = true;
            else if (!listed(kCanonicalizations, a))
                return "the metadata signature uses the transform \"" + a + "\", which is not allowed";
        }
    }
    if (!enveloped) return std::string("the metadata signature is not an enveloped signature");
    auto digest = children(references[0], kDs, "DigestMethod");
    const std::string digest_algorithm = digest.size() == 1 ? attribute(digest[0], "Algorithm") : std::string();
    if (digest_algorithm == kSha1 && !allow_sha1)
        return std::string("the metadata signature uses a SHA-1 digest, which is refused unless sso_allow_sha1 is on");
    if (!listed(kDigestMethods, digest_algorithm) && digest_algorithm != kSha1)
        return "the metadata digest algorithm \"" + digest_algorithm + "\" is not supported";
    return std::nullopt;
}

std::optional<std::string> verify_signature(xmlDoc* doc, xmlNode* root, const MetadataTrust& trust) {
    auto signatures = children(root, kDs, "Signature");
    if (signatures.empty()) return "the metadata is not signed, but sso_idp_metadata_certificate requires a signature";
    if (signatures.size() > 1) return "the metadata has more than one signature on its root element";
    const std::string root_id = attribute(root, "ID");
    if (auto e = signature_shape_error(signatures[0], root_id, trust.allow_sha1)) return e;
    if (!root_id.empty()) {
        // Only the root's ID is registered, so "#id" can name nothing else in the document.
        xmlAttr* id_attr = xmlHasNsProp(root, reinterpret_cast<const xmlChar*>("ID"), nullptr);
        if (!id_attr || !xmlAddID(nullptr, doc, reinterpret_cast<const xmlChar*>(root_id.c_str()), id_attr))
            return "the metadata root ID \"" + root_id + "\" cannot be used as a signature reference";
    }
    std::unique_ptr<xmlSecKey, KeyFree> key(xmlSecCryptoAppKeyLoadMemory(
        reinterpret_cast<const xmlSecByte*>(trust.certificate_pem.data()),
        static_cast<xmlSecSize>(trust.certificate_pem.size()), xmlSecKeyDataFormatCertPem, nullptr, nullptr, nullptr));
    if (!key) return std::string("the metadata signing certificate is not a PEM X.509 certificate");
    std::unique_ptr<xmlSecDSigCtx, DSigCtxFree> ctx(xmlSecDSigCtxCreate(nullptr));
    if (!ctx) return std::string("cannot create an XML signature context");
    // The key is the configured one, never one from the document's KeyInfo; references stay
    // inside the document.
    ctx->signKey = key.release();
    ctx->enabledReferenceUris =
        static_cast<xmlSecTransformUriType>(xmlSecTransformUriTypeEmpty | xmlSecTransformUriTypeSameDocument);
    if (xmlSecDSigCtxVerify(ctx.get(), signatures[0]) < 0)
        return std::string("the metadata signature cannot be processed");
    if (ctx->status != xmlSecDSigStatusSucceeded)
        return std::string("the metadata signature does not verify with sso_idp_metadata_certificate");
    return std::nullopt;
}

}  // namespace

Result<IdpMetadataInfo> check_idp_metadata(std::string_view xml, std::int64_t now, const MetadataTrust& trust) {
    if (!lasso_ready()) return fail(SamlError::internal, "lasso_init() failed");
    if (xml.empty()) return bad("IdP metadata is empty");
    XmlDocPtr doc(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "idp-metadata.xml", nullptr,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    if (!doc) return bad("IdP metadata is not well-formed XML");
    if (doc->intSubset) return bad("IdP metadata must not have a DOCTYPE");
    xmlNode* root = xmlDocGetRootElement(doc.get());
    const bool entity = is(root, kMd, "EntityDescriptor");
    if (!entity && !is(root, kMd, "EntitiesDescriptor"))
        return bad("IdP metadata root is not a SAML 2.0 md:EntityDescriptor or md:EntitiesDescriptor");

    IdpMetadataInfo info;
    if (entity) info.entity_id = attribute(root, "entityID");
    if (const std::string valid_until = attribute(root, "validUntil"); !valid_until.empty()) {
        info.valid_until = parse_saml_time(valid_until);
        if (!info.valid_until) return bad("IdP metadata validUntil \"" + valid_until + "\" is not a valid time");
        if (now >= *info.valid_until) return bad("IdP metadata has expired (validUntil " + valid_until + ")");
    }
    if (const std::string duration = attribute(root, "cacheDuration"); !duration.empty()) {
        info.cache_duration = parse_xs_duration(duration);
        if (!info.cache_duration) return bad("IdP metadata cacheDuration \"" + duration + "\" is not a valid duration");
    }
    if (!trust.certificate_pem.empty()) {
        if (auto e = verify_signature(doc.get(), root, trust)) return bad(*e);
        info.signature_verified = true;
    }
    return info;
}

std::optional<std::int64_t> parse_xs_duration(std::string_view s) noexcept {
    if (s.size() < 3 || s[0] != 'P') return std::nullopt;
    std::int64_t total = 0;
    bool in_time = false, any = false;
    int last_rank = -1;  // designators must come in order, each at most once: Y M D T H M S
    std::size_t i = 1;
    while (i < s.size()) {
        if (s[i] == 'T') {
            if (in_time || i + 1 == s.size()) return std::nullopt;
            in_time = true;
            ++i;
            continue;
        }
        std::int64_t n = 0;
        std::size_t digits = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            if (n > 1'000'000'000) return std::nullopt;  // more than thirty years of anything
            n = n * 10 + (s[i] - '0');
            ++i, ++digits;
        }
        if (i < s.size() && s[i] == '.' && in_time) {  // fractions only on seconds; dropped
            ++i;
            while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
            if (i >= s.size() || s[i] != 'S') return std::nullopt;
        }
        if (!digits || i >= s.size()) return std::nullopt;
        std::int64_t unit = 0;
        int rank = 0;
        switch (s[i]) {
            case 'Y':
                unit = in_time ? 0 : 365 * 86400, rank = 0;
                break;
            case 'M':
                unit = in_time ? 60 : 30 * 86400, rank = in_time ? 4 : 1;
                break;
            case 'D':
                unit = in_time ? 0 : 86400, rank = 2;
                break;
            case 'H':
                unit = in_time ? 3600 : 0, rank = 3;
                break;
            case 'S':
                unit = in_time ? 1 : 0, rank = 5;
                break;
            default:
                return std::nullopt;
        }
        if (!unit || rank <= last_rank) return std::nullopt;
        last_rank = rank;
        total += n * unit;
        any = true;
        ++i;
    }
    return any ? std::optional<std::int64_t>(total) : std::nullopt;
}

std::string certificate_subject(std::string_view pem) {
    std::unique_ptr<BIO, decltype(&BIO_free)> in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
    if (!in) return {};
    std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr),
                                                     &X509_free);
    if (!cert) return {};
    std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), &BIO_free);
    if (!out || X509_NAME_print_ex(out.get(), X509_get_subject_name(cert.get()), 0, XN_FLAG_RFC2253) < 0) return {};
    char* data = nullptr;
    const long len = BIO_get_mem_data(out.get(), &data);
    return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

}  // namespace sso
