#include "saml/idp_entities.hpp"

#include <cstring>
#include <set>

#include "saml/handles.hpp"

namespace sso {
namespace {

constexpr const char* kMd = "urn:oasis:names:tc:SAML:2.0:metadata";
constexpr const char* kMdui = "urn:oasis:names:tc:SAML:metadata:ui";
constexpr int kMaxNesting = 8;

bool is(const xmlNode* n, const char* ns, const char* name) {
    return n && n->type == XML_ELEMENT_NODE && n->ns &&
           std::strcmp(reinterpret_cast<const char*>(n->ns->href), ns) == 0 &&
           std::strcmp(reinterpret_cast<const char*>(n->name), name) == 0;
}

const xmlNode* child(const xmlNode* parent, const char* ns, const char* name) {
    for (const xmlNode* c = parent ? parent->children : nullptr; c; c = c->next)
        if (is(c, ns, name)) return c;
    return nullptr;
}

std::string text_of(const xmlNode* n) {
    XmlCharPtr t(xmlNodeGetContent(n));
    std::string out = t ? reinterpret_cast<const char*>(t.get()) : "";
    const auto b = out.find_first_not_of(" \t\r\n");
    const auto e = out.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : out.substr(b, e - b + 1);
}

std::string lang_of(const xmlNode* n) {
    XmlCharPtr l(xmlNodeGetLang(n));
    return l ? reinterpret_cast<const char*>(l.get()) : "";
}

// The first non-empty value among `name` children of `parent`, English preferred.
std::string localized(const xmlNode* parent, const char* ns, const char* name) {
    std::string any;
    for (const xmlNode* c = parent ? parent->children : nullptr; c; c = c->next) {
        if (!is(c, ns, name)) continue;
        std::string v = text_of(c);
        if (v.empty()) continue;
        if (lang_of(c) == "en") return v;
        if (any.empty()) any = std::move(v);
    }
    return any;
}

std::string display_name(const xmlNode* entity, const xmlNode* idp, const std::string& entity_id) {
    const xmlNode* ui = child(child(idp, kMd, "Extensions"), kMdui, "UIInfo");
    if (std::string v = localized(ui, kMdui, "DisplayName"); !v.empty()) return v;
    if (std::string v = localized(child(entity, kMd, "Organization"), kMd, "OrganizationDisplayName"); !v.empty())
        return v;
    return entity_id;
}

// A copy of `entity` as the root of a document of its own; xmlDocCopyNode declares on the
// copy the namespaces it used from its ancestors.
std::string standalone(const xmlNode* entity) {
    XmlDocPtr doc(xmlNewDoc(reinterpret_cast<const xmlChar*>("1.0")));
    xmlNode* copy = xmlDocCopyNode(const_cast<xmlNode*>(entity), doc.get(), 1);
    if (!copy) return {};
    xmlDocSetRootElement(doc.get(), copy);
    xmlReconciliateNs(doc.get(), copy);
    xmlChar* buf = nullptr;
    int size = 0;
    xmlDocDumpMemoryEnc(doc.get(), &buf, &size, "UTF-8");
    XmlCharPtr owned(buf);
    return buf ? std::string(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(size)) : std::string();
}

struct Walk {
    std::vector<IdpEntity> out;
    std::set<std::string> seen;
    std::size_t max;
    std::string error;
};

void collect(const xmlNode* n, int depth, Walk& w) {
    if (!w.error.empty()) return;
    if (depth > kMaxNesting) {
        w.error = "IdP metadata nests EntitiesDescriptor more than " + std::to_string(kMaxNesting) + " deep";
        return;
    }
    if (is(n, kMd, "EntitiesDescriptor")) {
        for (const xmlNode* c = n->children; c; c = c->next) collect(c, depth + 1, w);
        return;
    }
    if (!is(n, kMd, "EntityDescriptor")) return;
    const xmlNode* idp = child(n, kMd, "IDPSSODescriptor");
    if (!idp) return;
    XmlCharPtr id(xmlGetNoNsProp(n, reinterpret_cast<const xmlChar*>("entityID")));
    if (!id || !*id) {
        w.error = "IdP metadata has an IdP without entityID";
        return;
    }
    std::string entity_id = reinterpret_cast<const char*>(id.get());
    if (!w.seen.insert(entity_id).second) {
        w.error = "IdP metadata describes \"" + entity_id + "\" twice";
        return;
    }
    if (w.out.size() == w.max) {
        w.error = "IdP metadata describes more than " + std::to_string(w.max) + " IdPs";
        return;
    }
    std::string xml = standalone(n);
    if (xml.empty()) {
        w.error = "cannot copy the metadata of \"" + entity_id + "\"";
        return;
    }
    std::string name = display_name(n, idp, entity_id);
    w.out.push_back({std::move(entity_id), std::move(name), std::move(xml)});
}

Error bad(std::string reason) {
    return fail(SamlError::config, std::move(reason), "idp_metadata");
}

}  // namespace

Result<std::vector<IdpEntity>> idp_entities_of(const std::string& xml, std::size_t max_idps) {
    if (xml.find("<!DOCTYPE") != std::string::npos) return bad("IdP metadata must not have a DOCTYPE");
    XmlDocPtr doc(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "idp-metadata.xml", nullptr,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    if (!doc) return bad("IdP metadata is not well-formed XML");
    const xmlNode* root = xmlDocGetRootElement(doc.get());
    if (!is(root, kMd, "EntityDescriptor") && !is(root, kMd, "EntitiesDescriptor"))
        return bad("IdP metadata root is not a SAML 2.0 md:EntityDescriptor or md:EntitiesDescriptor");
    Walk w;
    w.max = max_idps;
    collect(root, 0, w);
    if (!w.error.empty()) return bad(w.error);
    if (w.out.empty())
        return bad(is(root, kMd, "EntityDescriptor") && !child(root, kMd, "IDPSSODescriptor")
                       ? "IdP metadata has no IDPSSODescriptor"
                       : "IdP metadata describes no IdP (no EntityDescriptor with an IDPSSODescriptor)");
    return w.out;
}

}  // namespace sso
