#include "saml/response_guard.hpp"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include <cctype>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "saml/handles.hpp"
#include "saml/sp_metadata.hpp"

namespace sso {
namespace {

constexpr const char* kNsProtocol = "urn:oasis:names:tc:SAML:2.0:protocol";
constexpr const char* kNsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion";
constexpr const char* kNsDsig = "http://www.w3.org/2000/09/xmldsig#";
constexpr const char* kNsXenc = "http://www.w3.org/2001/04/xmlenc#";
constexpr const char* kXencElement = "http://www.w3.org/2001/04/xmlenc#Element";

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

bool is_rsa_pss(const std::string& alg) {
    return alg.starts_with("http://www.w3.org/2007/05/xmldsig-more#") &&
           (alg.ends_with("-rsa-MGF1") || alg.ends_with("#rsa-pss"));
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
    // RSA-PSS (RFC 6931 #sha256-rsa-MGF1 and kin, XMLDSig 1.1 #rsa-pss) came with xmlsec 1.3;
    // Debian 12 has 1.2.37, which cannot verify it.
    if (count == 1 && is_rsa_pss(attr(method, "Algorithm")))
        return "signature method RSA-PSS (" + attr(method, "Algorithm") +
               ") cannot be verified with this xmlsec (1.2); have the IdP sign with RSA-SHA256 or ECDSA-SHA256";
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

    // in_assertion: inside an Assertion or EncryptedAssertion; in_plain: inside an Assertion.
    void visit(const xmlNode* n, std::size_t depth, bool in_assertion = false, bool in_plain = false) {
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
            const bool is_encrypted_assertion = is(n, kNsAssertion, "EncryptedAssertion");
            if (is_assertion) ++assertions;
            if (is_encrypted_assertion) ++encrypted_assertions;
            // What the SP reads must be what the guard saw: no second layer of encryption
            // (EncryptedID, EncryptedAttribute, an EncryptedAssertion in Advice) inside it.
            if (in_plain && (is(n, kNsXenc, "EncryptedData") || is_encrypted_assertion ||
                             is(n, kNsAssertion, "EncryptedID") || is(n, kNsAssertion, "EncryptedAttribute"))) {
                error = "encrypted content inside the assertion is not supported";
                return;
            }
            if (is(n, kNsDsig, "Signature")) ++signatures;
            for (const char* name : {"ID", "Id", "id"}) {
                if (!has_attr(n, name)) continue;
                if (!ids.insert(attr(n, name)).second) {
                    error = "duplicate XML ID " + attr(n, name);
                    return;
                }
            }
            visit(n->children, depth + 1, in_assertion || is_assertion || is_encrypted_assertion,
                  in_plain || is_assertion);
        }
    }
};

// The algorithms SP metadata advertises (sp_metadata.hpp) are the ones accepted.
bool is_allowed_data_encryption(const std::string& alg) {
    for (const char* allowed : kDataEncryptionAlgorithms)
        if (alg == allowed) return true;
    return false;
}

bool is_allowed_key_transport(const std::string& alg, bool allow_rsa1_5) {
    return alg == kKeyTransportOaep || (allow_rsa1_5 && alg == kKeyTransportRsa1_5);
}

// One EncryptionMethod and an inline CipherValue (a CipherReference would make the decryptor
// fetch a URI). Returns the algorithm, or sets `error`.
std::string cipher_parts(const xmlNode* n, const char* what, std::optional<std::string>& error) {
    int count = 0;
    const xmlNode* method = only_child(n, kNsXenc, "EncryptionMethod", count);
    if (count != 1) {
        error = std::string(what) + " must have exactly one EncryptionMethod";
        return {};
    }
    const xmlNode* cipher = only_child(n, kNsXenc, "CipherData", count);
    if (count != 1 || element_children(cipher).size() != 1 || !only_child(cipher, kNsXenc, "CipherValue", count)) {
        error = std::string(what) + " must carry exactly one inline CipherValue";
        return {};
    }
    return attr(method, "Algorithm");
}

// The envelope of an EncryptedAssertion: one EncryptedData of one element, one EncryptedKey
// (inside its KeyInfo or beside it), algorithms we accept. Nothing here is dereferenced.
std::optional<std::string> check_envelope(xmlNode* ea, const ResponseGuardLimits& lim, CheckedResponse& out) {
    int count = 0;
    std::vector<xmlNode*> keys;
    for (xmlNode* c = ea->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        if (is(c, kNsXenc, "EncryptedData")) {
            if (out.encrypted_data) return "EncryptedAssertion must have exactly one EncryptedData";
            out.encrypted_data = c;
        } else if (is(c, kNsXenc, "EncryptedKey")) {
            keys.push_back(c);
        } else {
            return "unexpected element in EncryptedAssertion";
        }
    }
    if (!out.encrypted_data) return "EncryptedAssertion has no EncryptedData";
    xmlNode* data = out.encrypted_data;
    if (has_attr(data, "Type") && attr(data, "Type") != kXencElement)
        return "EncryptedData Type must be " + std::string(kXencElement);
    std::optional<std::string> error;
    const std::string data_alg = cipher_parts(data, "EncryptedData", error);
    if (error) return error;
    if (!is_allowed_data_encryption(data_alg)) return "data encryption algorithm not allowed: " + data_alg;
    const xmlNode* key_info = only_child(data, kNsDsig, "KeyInfo", count);
    if (count > 1) return "EncryptedData has several KeyInfo elements";
    if (key_info) {
        for (xmlNode* k = key_info->children; k; k = k->next) {
            if (is(k, kNsXenc, "EncryptedKey")) keys.push_back(k);
            // A pointer to the EncryptedKey beside it; never followed (the key is given).
            if (is(k, kNsDsig, "RetrievalMethod") && !attr(k, "URI").starts_with("#"))
                return "EncryptedData KeyInfo uses a RetrievalMethod to another document";
        }
    }
    if (keys.size() != 1) return "EncryptedAssertion must have exactly one EncryptedKey";
    out.encrypted_key = keys.front();
    const std::string key_alg = cipher_parts(out.encrypted_key, "EncryptedKey", error);
    if (error) return error;
    if (!is_allowed_key_transport(key_alg, lim.allow_rsa1_5))
        return "key transport algorithm not allowed: " + key_alg +
               (key_alg == kKeyTransportRsa1_5 ? " (sso_allow_rsa1_5 is off)" : "");
    return std::nullopt;
}

// The signature rules for the one assertion, wherever it came from. `response_sig` is the
// Response's signature when it is in the same document; `response_signed` says whether there is one.
std::optional<std::string> check_assertion_signatures(const Walk& walk, const xmlNode* assertion,
                                                      const xmlNode* response_sig, int response_sigs,
                                                      bool response_signed, const ResponseGuardLimits& lim) {
    int assertion_sigs = 0;
    const xmlNode* assertion_sig = only_child(assertion, kNsDsig, "Signature", assertion_sigs);
    if (response_sigs > 1 || assertion_sigs > 1) return "several signatures on one element";
    if (walk.signatures != response_sigs + assertion_sigs) return "signature found outside the Response and Assertion";
    if (!response_signed && !assertion_sig) return "neither the Response nor the Assertion is signed";
    if (lim.require_assertion_signature && !assertion_sig)
        return "the Assertion is not signed (sso_want_assertions_signed is on)";
    if (response_sig)
        if (auto e = check_signature(response_sig, response_sig->parent, lim)) return "Response " + *e;
    if (assertion_sig)
        if (auto e = check_signature(assertion_sig, assertion, lim)) return "Assertion " + *e;
    return std::nullopt;
}

bool has_dtd_text(std::string_view xml) {
    return xml.find("<!DOCTYPE") != std::string_view::npos || xml.find("<!ENTITY") != std::string_view::npos;
}

Error refuse(std::string reason) {
    return fail(SamlError::invalid_response, std::move(reason));
}

// SAML 2.0 messages say Version="2.0" (SAML core 3.2.2, 2.3.3); Lasso reads any value.
std::optional<std::string> check_version(const xmlNode* n, const char* what) {
    const std::string version = attr(n, "Version");
    if (version == "2.0") return std::nullopt;
    return std::string(what) + " Version is " +
           (has_attr(n, "Version") ? "\"" + version + "\"" : std::string("missing")) + ", not 2.0";
}

// A UTF-16 or UTF-32 document (a byte-order mark, or NUL bytes around the first '<'). libxml2
// reads it, Lasso does not (it looks for a '<' with strchr): refuse it here, saying why.
bool is_wide_encoding(std::string_view xml) {
    if (xml.starts_with("\xFE\xFF") || xml.starts_with("\xFF\xFE")) return true;
    return xml.substr(0, 4).find('\0') != std::string_view::npos;
}

// Parses with libxml2's own depth limit (256 without XML_PARSE_HUGE). A document past it is
// reported as too deep, not as not well-formed: it may be well-formed.
Result<XmlDocPtr> parse_document(std::string_view xml, const char* url, const char* what) {
    if (xml.size() > static_cast<std::size_t>(INT32_MAX)) return refuse(std::string(what) + " too large");
    if (is_wide_encoding(xml))
        return refuse(std::string(what) + " is UTF-16 or UTF-32 encoded; only UTF-8 is accepted");
    std::unique_ptr<xmlParserCtxt, void (*)(xmlParserCtxtPtr)> ctxt(xmlNewParserCtxt(), xmlFreeParserCtxt);
    if (!ctxt) return fail(SamlError::internal, "cannot allocate an XML parser");
    XmlDocPtr doc(xmlCtxtReadMemory(ctxt.get(), xml.data(), static_cast<int>(xml.size()), url, nullptr,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    if (doc && ctxt->wellFormed) return doc;
    const xmlError* e = xmlCtxtGetLastError(ctxt.get());
    if (e && e->code == XML_ERR_INTERNAL_ERROR && e->message && std::strstr(e->message, "Excessive depth"))
        return refuse("XML nested too deeply");
    return refuse(std::string(what) + " is not well-formed XML");
}

}  // namespace

Result<CheckedResponse> check_response(std::string_view xml, const ResponseGuardLimits& lim) {
    // Refuse DTDs before libxml2 sees them: no entity can then be declared or expanded.
    if (has_dtd_text(xml)) return refuse("DOCTYPE or entity declarations are not allowed");
    CheckedResponse out;
    auto doc = parse_document(xml, "response.xml", "response");
    if (!doc) return doc.error();
    out.doc = std::move(doc.value());
    if (out.doc->intSubset || out.doc->extSubset) return refuse("DOCTYPE is not allowed");
    xmlNode* root = xmlDocGetRootElement(out.doc.get());
    if (!is(root, kNsProtocol, "Response")) return refuse("document is not a SAML 2.0 Response");
    if (auto e = check_version(root, "Response")) return refuse(*e);

    // An IdP that refuses the login (user cancelled, no access) sends a Response with a
    // non-success status and usually no assertion: say that, not "no assertion".
    int count = 0;
    if (const xmlNode* status = only_child(root, kNsProtocol, "Status", count); status && count == 1) {
        const xmlNode* code = only_child(status, kNsProtocol, "StatusCode", count);
        const std::string value = code ? attr(code, "Value") : std::string();
        if (value != "urn:oasis:names:tc:SAML:2.0:status:Success") {
            int sub_count = 0;
            const xmlNode* sub = code ? only_child(code, kNsProtocol, "StatusCode", sub_count) : nullptr;
            return refuse("IdP returned a non-success status: " + (value.empty() ? std::string("(none)") : value) +
                          (sub ? " / " + attr(sub, "Value") : std::string()));
        }
    }

    Walk walk{lim, {}, 0, 0, 0, 0, std::nullopt};
    walk.visit(root, 1);
    if (walk.error) return refuse(*walk.error);
    const int total = walk.assertions + walk.encrypted_assertions;
    if (total != 1) return refuse("response must contain exactly one assertion, found " + std::to_string(total));

    int response_sigs = 0;
    const xmlNode* response_sig = only_child(root, kNsDsig, "Signature", response_sigs);
    out.response_signed = response_sig != nullptr;

    if (walk.encrypted_assertions) {
        // The one EncryptedAssertion must be a direct child of the Response; only the Response
        // may be signed out here (the Assertion's own signature is inside the ciphertext).
        xmlNode* ea = const_cast<xmlNode*>(only_child(root, kNsAssertion, "EncryptedAssertion", count));
        if (count != 1) return refuse("encrypted assertion is not a direct child of the Response");
        if (response_sigs > 1) return refuse("several signatures on one element");
        if (walk.signatures != response_sigs) return refuse("signature found outside the Response and Assertion");
        if (response_sig)
            if (auto e = check_signature(response_sig, root, lim)) return refuse("Response " + *e);
        if (auto e = check_envelope(ea, lim, out)) return refuse(*e);
        return out;
    }

    // The one assertion must be a direct child of the Response: anywhere else it is wrapped.
    const xmlNode* assertion = only_child(root, kNsAssertion, "Assertion", count);
    if (count != 1) return refuse("assertion is not a direct child of the Response");
    if (auto e = check_version(assertion, "Assertion")) return refuse(*e);
    if (auto e = check_assertion_signatures(walk, assertion, response_sig, response_sigs, out.response_signed, lim))
        return refuse(*e);
    out.assertion = const_cast<xmlNode*>(assertion);
    return out;
}

std::optional<std::string> check_response_structure(std::string_view xml, const ResponseGuardLimits& lim) {
    auto checked = check_response(xml, lim);
    if (!checked) return checked.error().reason;
    return std::nullopt;
}

bool signed_with_ecdsa(const xmlNode* signed_element) noexcept {
    for (const xmlNode* sig = signed_element ? signed_element->children : nullptr; sig; sig = sig->next) {
        if (!is(sig, kNsDsig, "Signature")) continue;
        for (const xmlNode* info = sig->children; info; info = info->next) {
            if (!is(info, kNsDsig, "SignedInfo")) continue;
            for (const xmlNode* m = info->children; m; m = m->next) {
                if (!is(m, kNsDsig, "SignatureMethod")) continue;
                XmlCharPtr alg(xmlGetNoNsProp(m, reinterpret_cast<const xmlChar*>("Algorithm")));
                if (alg && std::strstr(reinterpret_cast<const char*>(alg.get()), "xmldsig-more#ecdsa-")) return true;
            }
        }
    }
    return false;
}

Result<std::string> check_decrypted_assertion(std::string_view plaintext, const ResponseGuardLimits& lim,
                                              bool response_signed, bool* assertion_signed) {
    if (has_dtd_text(plaintext)) return refuse("DOCTYPE or entity declarations are not allowed");
    // The plaintext is a sequence of nodes, as the decryptor would splice it into the
    // document; a wrapper element lets libxml2 parse all of it, not just a first element.
    constexpr std::string_view open = "<sso-decrypted>", close = "</sso-decrypted>";
    if (plaintext.size() > static_cast<std::size_t>(INT32_MAX) - open.size() - close.size())
        return refuse("decrypted assertion too large");
    std::string wrapped;
    wrapped.reserve(open.size() + plaintext.size() + close.size());
    wrapped.append(open).append(plaintext).append(close);
    auto parsed = parse_document(wrapped, "assertion.xml", "decrypted assertion");
    if (!parsed) return parsed.error();
    XmlDocPtr doc = std::move(parsed.value());
    const xmlNode* wrapper = xmlDocGetRootElement(doc.get());
    if (!wrapper || xmlStrcmp(wrapper->name, reinterpret_cast<const xmlChar*>("sso-decrypted")) != 0 || wrapper->next)
        return refuse("decrypted assertion is not well-formed XML");
    const xmlNode* assertion = nullptr;
    int elements = 0;
    for (const xmlNode* c = wrapper->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            ++elements;
            assertion = c;
        } else if (c->type == XML_TEXT_NODE) {
            XmlCharPtr text(xmlNodeGetContent(c));
            for (const xmlChar* p = text.get(); p && *p; ++p)
                if (!std::isspace(*p)) return refuse("decrypted content has text beside the assertion");
        }
    }
    if (elements != 1 || !is(assertion, kNsAssertion, "Assertion"))
        return refuse("decrypted content must be exactly one Assertion, found " + std::to_string(elements) +
                      " elements");
    Walk walk{lim, {}, 0, 0, 0, 0, std::nullopt};
    walk.visit(wrapper->children, 1);
    if (walk.error) return refuse(*walk.error);
    if (walk.assertions != 1 || walk.encrypted_assertions)
        return refuse("decrypted content must be exactly one Assertion, found " +
                      std::to_string(walk.assertions + walk.encrypted_assertions) + " assertions");
    if (auto e = check_assertion_signatures(walk, assertion, nullptr, 0, response_signed, lim)) return refuse(*e);
    if (auto e = check_version(assertion, "Assertion")) return refuse(*e);
    int signatures = 0;
    if (assertion_signed) *assertion_signed = only_child(assertion, kNsDsig, "Signature", signatures) != nullptr;
    const std::string id = attr(assertion, "ID");
    if (id.empty()) return refuse("assertion has no ID");
    return id;
}

}  // namespace sso
