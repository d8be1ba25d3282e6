// The certificates an entity's metadata publishes: each ds:X509Certificate under
// md:KeyDescriptor/ds:KeyInfo/ds:X509Data, with the KeyDescriptor's use. One walk for every
// reader of metadata certificates (their expiry, the keys our own verifier trusts).
#pragma once

#include <libxml/tree.h>

#include <cstring>
#include <string>
#include <vector>

#include "saml/handles.hpp"

namespace sso {

struct MetadataCertificate {
    std::string use;     // "signing", "encryption", or empty when the KeyDescriptor names none
    std::string base64;  // the element's text: base64 DER, white space as written
};

inline bool is_element(const xmlNode* n, const char* ns, const char* name) noexcept {
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           std::strcmp(reinterpret_cast<const char*>(n->ns->href), ns) == 0 &&
           std::strcmp(reinterpret_cast<const char*>(n->name), name) == 0;
}

// Every KeyDescriptor among n, its siblings and their descendants (not inside a KeyDescriptor).
inline void collect_metadata_certificates(const xmlNode* n, std::vector<MetadataCertificate>& out) {
    constexpr const char* kNsDsig = "http://www.w3.org/2000/09/xmldsig#";
    constexpr const char* kNsMd = "urn:oasis:names:tc:SAML:2.0:metadata";
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        if (!is_element(n, kNsMd, "KeyDescriptor")) {
            collect_metadata_certificates(n->children, out);
            continue;
        }
        XmlCharPtr use_attr(xmlGetNoNsProp(n, reinterpret_cast<const xmlChar*>("use")));
        const std::string use = use_attr ? reinterpret_cast<const char*>(use_attr.get()) : "";
        for (const xmlNode* info = n->children; info; info = info->next) {
            if (!is_element(info, kNsDsig, "KeyInfo")) continue;
            for (const xmlNode* data = info->children; data; data = data->next) {
                if (!is_element(data, kNsDsig, "X509Data")) continue;
                for (const xmlNode* c = data->children; c; c = c->next) {
                    if (!is_element(c, kNsDsig, "X509Certificate")) continue;
                    XmlCharPtr text(xmlNodeGetContent(c));
                    if (text) out.push_back({use, reinterpret_cast<const char*>(text.get())});
                }
            }
        }
    }
}

}  // namespace sso
