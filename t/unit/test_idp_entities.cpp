#include <gtest/gtest.h>

#include "saml/idp_entities.hpp"

namespace sso {
namespace {

std::string idp(const std::string& id, const std::string& inside = "", const std::string& after = "") {
    return R"(<md:EntityDescriptor entityID=")" + id +
           R"("><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">)" + inside +
           R"(<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://x/sso"/>)"
           R"(</md:IDPSSODescriptor>)" +
           after + "</md:EntityDescriptor>";
}

std::string aggregate(const std::string& body) {
    return R"(<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" )"
           R"(xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui">)" +
           body + "</md:EntitiesDescriptor>";
}

const char* kSp =
    R"(<md:EntityDescriptor entityID="https://sp"><md:SPSSODescriptor protocolSupportEnumeration="x"/></md:EntityDescriptor>)";

TEST(IdpEntities, ASingleEntityDescriptor) {
    auto out = idp_entities_of(R"(<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" )"
                               R"(entityID="https://one"><md:IDPSSODescriptor protocolSupportEnumeration="x"/>)"
                               R"(</md:EntityDescriptor>)");
    ASSERT_TRUE(out) << out.error().reason;
    ASSERT_EQ(out->size(), 1u);
    EXPECT_EQ((*out)[0].entity_id, "https://one");
    EXPECT_EQ((*out)[0].display_name, "https://one");
}

TEST(IdpEntities, AnAggregateNestedSkippingOtherRolesWithTheirNamespaces) {
    auto out = idp_entities_of(aggregate(idp("https://a") + kSp + "<md:EntitiesDescriptor Name=\"inner\">" +
                                         idp("https://b") + "</md:EntitiesDescriptor>"));
    ASSERT_TRUE(out) << out.error().reason;
    ASSERT_EQ(out->size(), 2u);
    EXPECT_EQ((*out)[0].entity_id, "https://a");
    EXPECT_EQ((*out)[1].entity_id, "https://b");
    // Each copy stands alone: the md namespace declared on the aggregate travels with it.
    EXPECT_NE((*out)[1].xml.find("xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\""), std::string::npos)
        << (*out)[1].xml;
    EXPECT_EQ((*out)[1].xml.find("https://a"), std::string::npos);
}

TEST(IdpEntities, DisplayNamesPreferEnglishUiThenTheOrganization) {
    const std::string ui =
        R"(<md:Extensions><mdui:UIInfo><mdui:DisplayName xml:lang="fr">Fournisseur</mdui:DisplayName>)"
        R"(<mdui:DisplayName xml:lang="en">Provider</mdui:DisplayName></mdui:UIInfo></md:Extensions>)";
    const std::string org = R"(<md:Organization><md:OrganizationName xml:lang="en">Org</md:OrganizationName>)"
                            R"(<md:OrganizationDisplayName xml:lang="en">Example Org</md:OrganizationDisplayName>)"
                            R"(</md:Organization>)";
    auto out = idp_entities_of(aggregate(idp("https://a", ui) + idp("https://b", "", org)));
    ASSERT_TRUE(out) << out.error().reason;
    EXPECT_EQ((*out)[0].display_name, "Provider");
    EXPECT_EQ((*out)[1].display_name, "Example Org");
}

TEST(IdpEntities, RefusalsNameTheProblem) {
    auto reason = [](const std::string& xml, std::size_t max = 1000) {
        auto r = idp_entities_of(xml, max);
        return r ? std::string("(accepted)") : r.error().reason;
    };
    EXPECT_NE(reason(aggregate(idp("https://a") + idp("https://a"))).find("\"https://a\" twice"), std::string::npos);
    EXPECT_NE(reason(aggregate(kSp)).find("describes no IdP"), std::string::npos);
    EXPECT_NE(reason(aggregate(idp("https://a") + idp("https://b") + idp("https://c")), 2).find("more than 2 IdPs"),
              std::string::npos);
    EXPECT_NE(reason(aggregate(idp(""))).find("without entityID"), std::string::npos);
    EXPECT_NE(reason("<html/>").find("root is not"), std::string::npos);
    std::string deep = idp("https://a");
    for (int i = 0; i < 10; ++i) deep = "<md:EntitiesDescriptor>" + deep + "</md:EntitiesDescriptor>";
    EXPECT_NE(reason(aggregate(deep)).find("nests EntitiesDescriptor"), std::string::npos);
}

}  // namespace
}  // namespace sso
