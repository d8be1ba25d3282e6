#include "saml/sp_metadata.hpp"

#include "saml/handles.hpp"

namespace sso {
namespace {

const xmlChar* x(const char* s) {
    return reinterpret_cast<const xmlChar*>(s);
}
std::string z(std::string_view s) {
    return std::string(s);
}

}  // namespace

Result<std::string> build_sp_metadata(const SpMetadataInput& in) {
    XmlDocPtr doc(xmlNewDoc(x("1.0")));
    if (!doc) return fail(SamlError::internal, "out of memory building SP metadata");
    xmlNode* ed = xmlNewNode(nullptr, x("EntityDescriptor"));
    xmlDocSetRootElement(doc.get(), ed);
    xmlNs* md = xmlNewNs(ed, x("urn:oasis:names:tc:SAML:2.0:metadata"), x("md"));
    xmlNs* ds = xmlNewNs(ed, x("http://www.w3.org/2000/09/xmldsig#"), x("ds"));
    xmlSetNs(ed, md);
    xmlNewProp(ed, x("entityID"), x(z(in.entity_id).c_str()));

    xmlNode* sp = xmlNewChild(ed, md, x("SPSSODescriptor"), nullptr);
    xmlNewProp(sp, x("AuthnRequestsSigned"), x(in.authn_requests_signed ? "true" : "false"));
    // By default a valid signature on the Response or on the Assertion is enough (either covers
    // the assertion); sso_want_assertions_signed demands the Assertion's own, and says so here.
    xmlNewProp(sp, x("WantAssertionsSigned"), x(in.want_assertions_signed ? "true" : "false"));
    xmlNewProp(sp, x("protocolSupportEnumeration"), x("urn:oasis:names:tc:SAML:2.0:protocol"));

    auto key_descriptor = [&](const char* use, std::string_view cert) {
        xmlNode* kd = xmlNewChild(sp, md, x("KeyDescriptor"), nullptr);
        xmlNewProp(kd, x("use"), x(use));
        xmlNode* ki = xmlNewChild(kd, ds, x("KeyInfo"), nullptr);
        xmlNode* xd = xmlNewChild(ki, ds, x("X509Data"), nullptr);
        xmlNewTextChild(xd, ds, x("X509Certificate"), x(z(cert).c_str()));
        return kd;
    };
    key_descriptor("signing", in.cert_der_base64);
    if (!in.encryption_cert_der_base64.empty()) {
        // What IdPs may encrypt assertions with: AES (GCM preferred) under RSA-OAEP.
        xmlNode* kd = key_descriptor("encryption", in.encryption_cert_der_base64);
        for (const char* alg : kDataEncryptionAlgorithms)
            xmlNewProp(xmlNewChild(kd, md, x("EncryptionMethod"), nullptr), x("Algorithm"), x(alg));
        xmlNewProp(xmlNewChild(kd, md, x("EncryptionMethod"), nullptr), x("Algorithm"), x(kKeyTransportOaep));
        if (in.allow_rsa1_5)
            xmlNewProp(xmlNewChild(kd, md, x("EncryptionMethod"), nullptr), x("Algorithm"), x(kKeyTransportRsa1_5));
    }

    if (!in.slo_url.empty()) {
        for (const char* binding :
             {"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"}) {
            xmlNode* slo = xmlNewChild(sp, md, x("SingleLogoutService"), nullptr);
            xmlNewProp(slo, x("Binding"), x(binding));
            xmlNewProp(slo, x("Location"), x(z(in.slo_url).c_str()));
        }
    }

    for (const char* format : {"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
                               "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
                               "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"})
        xmlNewTextChild(sp, md, x("NameIDFormat"), x(format));

    xmlNode* acs = xmlNewChild(sp, md, x("AssertionConsumerService"), nullptr);
    xmlNewProp(acs, x("Binding"), x("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"));
    xmlNewProp(acs, x("Location"), x(z(in.acs_url).c_str()));
    xmlNewProp(acs, x("index"), x("0"));
    xmlNewProp(acs, x("isDefault"), x("true"));

    xmlChar* buf = nullptr;
    int size = 0;
    xmlDocDumpFormatMemoryEnc(doc.get(), &buf, &size, "UTF-8", 1);
    XmlCharPtr owned(buf);
    if (!buf) return fail(SamlError::internal, "cannot serialise SP metadata");
    return std::string(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(size));
}

}  // namespace sso
