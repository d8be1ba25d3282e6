#include "saml/response_guard.hpp"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "saml/handles.hpp"

namespace sso {
namespace {

constexpr const char* kNsProtocol = "urn:oasis:names:tc:SAML:2.0:protocol";
constexpr const char* kNsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion";
constexpr const char* kNsDsig = "http://www.w3.org/2000/09/xmldsig#";

constexpr const char* kExcC14n = "http://www.w3.org/2001/10/xml-exc-c14n#";
constexpr const char* kEnveloped = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

bool is(const xmlNode* n, const char* ns, const char* name) noexcept {
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           std::strcmp(reinterpret_cast<const char*>(n->ns->href), ns) == 0 &&
           std::strcmp(reinterpret_cast<const char*>(n->name), name) == 0;
}

std::string attr(const xmlNode* n, const char* name) {
    XmlCharPtr v(xmlGetNoNsProp(n, reinterpret_cast<const xmlChar*>(name)));
    return v ? std::string(reinterpret_cast<const char*>(v.get())) : std::string();
}

bool has_attr(const xmlNode* n, const char* name) noexcept {
    return xmlHasNsProp(n, reinterpret_cast<const xmlChar*>(name), nullptr) != nullptr;
}

std::vector<const xmlNode*> element_children(const xmlNode* n) {
    std::vector<const xmlNode*> out;
    for (const xmlNode* c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE) out.push_back(c);
    return out;
}

const xmlNode* only_child(const xmlNode* n, const char* ns, const char* name, int& count) {
    const xmlNode* found = nullptr;
    count = 0;
    for (const xmlNode* c : element_children(n))
        if (is(c, ns, name)) {
            found = c;
            ++count;
        }
    return found;
}

bool is_strong_signature_method(const std::string& alg, bool allow_sha1) {
    static const std::set<std::string> strong = {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",   "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",   "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384", "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
    };
    return strong.count(alg) || (allow_sha1 && alg == "http://www.w3.org/2000/09/xmldsig#rsa-sha1");
}

bool is_strong_digest(const std::string& alg, bool allow_sha1) {
    static const std::set<std::string> strong = {
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2001/04/xmldsig-more#sha384",
        "http://www.w3.org/2001/04/xmlenc#sha512",
    };
    return strong.count(alg) || (allow_sha1 && alg == "http://www.w3.org/2000/09/xmldsig#sha1");
}

// A Signature must sign exactly its parent, with the transforms the SAML profile allows.
std::optional<std::string> check_signature(const xmlNode* sig, const xmlNode* parent, const ResponseGuardLimits& lim) {
    int count = 0;
    const xmlNode* signed_info = only_child(sig, kNsDsig, "SignedInfo", count);
    if (count != 1) return "signature without exactly one SignedInfo";
    const xmlNode* c14n = only_child(signed_info, kNsDsig, "CanonicalizationMethod", count);
    if (count != 1 || attr(c14n, "Algorithm") != kExcC14n) return "signature canonicalization is not exclusive c14n";
    const xmlNode* method = only_child(signed_info, kNsDsig, "SignatureMethod", count);
    if (count != 1 || !is_strong_signature_method(attr(method, "Algorithm"), lim.allow_sha1))
        return "signature method not allowed: " + (method ? attr(method, "Algorithm") : std::string("none"));
    const xmlNode* ref = only_child(signed_info, kNsDsig, "Reference", count);
    if (count != 1) return "signature must have exactly one Reference";
    const std::string id = attr(parent, "ID");
    if (id.empty() || attr(ref, "URI") != "#" + id) return "signature Reference does not point at its parent element";
    const xmlNode* transforms = only_child(ref, kNsDsig, "Transforms", count);
    if (count > 1) return "several Transforms elements";
    if (transforms) {
        for (const xmlNode* t : element_children(transforms)) {
            if (!is(t, kNsDsig, "Transform")) return "unexpected element in Transforms";
            const std::string alg = attr(t, "Algorithm");
            if (alg != kEnveloped && alg != kExcC14n) return "signature transform not allowed: " + alg;
        }
    }
    const xmlNode* digest = only_child(ref, kNsDsig, "DigestMethod", count);
    if (count != 1 || !is_strong_digest(attr(digest, "Algorithm"), lim.allow_sha1))
        return "digest method not allowed: " + (digest ? attr(digest, "Algorithm") : std::string("none"));
    for (const xmlNode* c : element_children(sig)) {
        if (is(c, kNsDsig, "Object")) return "signature carries an Object element";
        if (is(c, kNsDsig, "KeyInfo"))
            for (const xmlNode* k : element_children(c))
                if (is(k, kNsDsig, "RetrievalMethod")) return "signature KeyInfo uses RetrievalMethod";
    }
    return std::nullopt;
}

struct Walk {
    const ResponseGuardLimits& lim;
    std::set<std::string> ids;
    std::size_t elements = 0;
    int assertions = 0;
    int encrypted_assertions = 0;
    int signatures = 0;
    std::optional<std::string> error;

    void visit(const xmlNode* n, std::size_t depth, bool in_assertion = false) {
        for (; n && !error; n = n->next) {
            // Comments, CDATA and PIs split text nodes without changing the signed (c14n)
            // form: a reader that takes the first text node would see a truncated NameID.
            if (in_assertion &&
                (n->type == XML_COMMENT_NODE || n->type == XML_CDATA_SECTION_NODE || n->type == XML_PI_NODE)) {
                error = "comment, CDATA or processing instruction inside the assertion";
                return;
            }
            if (n->type == XML_ENTITY_REF_NODE || n->type == XML_DTD_NODE || n->type == XML_ENTITY_DECL) {
                error = "entity references are not allowed";
                return;
            }
            if (n->type != XML_ELEMENT_NODE) continue;
            if (++elements > lim.max_elements) {
                error = "too many XML elements";
                return;
            }
            if (depth > lim.max_depth) {
                error = "XML nested too deeply";
                return;
            }
            const bool is_assertion = is(n, kNsAssertion, "Assertion");
            if (is_assertion) ++assertions;
            if (is(n, kNsAssertion, "EncryptedAssertion")) ++encrypted_assertions;
            if (is(n, kNsDsig, "Signature")) ++signatures;
            for (const char* name : {"ID", "Id", "id"}) {
                if (!has_attr(n, name)) continue;
                if (!ids.insert(attr(n, name)).second) {
                    error = "duplicate XML ID " + attr(n, name);
                    return;
                }
            }
            visit(n->children, depth + 1, in_assertion || is_assertion);
        }
    }
};

}  // namespace

std::optional<std::string> check_response_structure(std::string_view xml, const ResponseGuardLimits& lim) {
    // Refuse DTDs before libxml2 sees them: no entity can then be declared or expanded.
    if (xml.find("<!DOCTYPE") != std::string_view::npos || xml.find("<!ENTITY") != std::string_view::npos)
        return "DOCTYPE or entity declarations are not allowed";
    if (xml.size() > static_cast<std::size_t>(INT32_MAX)) return "document too large";
    XmlDocPtr doc(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "response.xml", nullptr,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    if (!doc) return "response is not well-formed XML";
    if (doc->intSubset || doc->extSubset) return "DOCTYPE is not allowed";
    const xmlNode* root = xmlDocGetRootElement(doc.get());
    if (!is(root, kNsProtocol, "Response")) return "document is not a SAML 2.0 Response";

    // An IdP that refuses the login (user cancelled, no access) sends a Response with a
    // non-success status and usually no assertion: say that, not "no assertion".
    int count = 0;
    if (const xmlNode* status = only_child(root, kNsProtocol, "Status", count); status && count == 1) {
        const xmlNode* code = only_child(status, kNsProtocol, "StatusCode", count);
        const std::string value = code ? attr(code, "Value") : std::string();
        if (value != "urn:oasis:names:tc:SAML:2.0:status:Success") {
            int sub_count = 0;
            const xmlNode* sub = code ? only_child(code, kNsProtocol, "StatusCode", sub_count) : nullptr;
            return "IdP returned a non-success status: " + (value.empty() ? std::string("(none)") : value) +
                   (sub ? " / " + attr(sub, "Value") : std::string());
        }
    }

    Walk walk{lim, {}, 0, 0, 0, 0, std::nullopt};
    walk.visit(root, 1);
    if (walk.error) return walk.error;
    if (walk.encrypted_assertions) return "encrypted assertions are not enabled";
    if (walk.assertions != 1)
        return "response must contain exactly one assertion, found " + std::to_string(walk.assertions);

    // The one assertion must be a direct child of the Response: anywhere else it is wrapped.
    const xmlNode* assertion = only_child(root, kNsAssertion, "Assertion", count);
    if (count != 1) return "assertion is not a direct child of the Response";

    int response_sigs = 0, assertion_sigs = 0;
    const xmlNode* response_sig = only_child(root, kNsDsig, "Signature", response_sigs);
    const xmlNode* assertion_sig = only_child(assertion, kNsDsig, "Signature", assertion_sigs);
    if (response_sigs > 1 || assertion_sigs > 1) return "several signatures on one element";
    if (walk.signatures != response_sigs + assertion_sigs) return "signature found outside the Response and Assertion";
    if (walk.signatures == 0) return "neither the Response nor the Assertion is signed";
    if (lim.require_assertion_signature && !assertion_sig)
        return "the Assertion is not signed (sso_want_assertions_signed is on)";
    if (response_sig)
        if (auto e = check_signature(response_sig, root, lim)) return "Response " + *e;
    if (assertion_sig)
        if (auto e = check_signature(assertion_sig, assertion, lim)) return "Assertion " + *e;
    return std::nullopt;
}

}  // namespace sso
