#include <gtest/gtest.h>

#include <vector>

#include "saml/base64.hpp"
#include "session/form.hpp"

namespace sso {
namespace {

TEST(Base64, RoundTripAndLineWrapping) {
    for (const std::string& s :
         std::vector<std::string>{"a", "ab", "abc", "abcd", "<samlp:Response/>", std::string("\0\xff\x10", 3)}) {
        EXPECT_EQ(base64_decode_strict(base64_encode(s), 1024), s);
    }
    EXPECT_EQ(base64_decode_strict("PHg+\r\nPC94\nPg==", 100), "<x></x>");
}

TEST(Base64, RefusesMalformedInput) {
    for (const char* bad : {"", "=", "PHg", "PHg+P", "PH*+", "PHg+PC94Pg=x", "PHg+PC94P===", "PHg-", "PHg_"}) {
        EXPECT_FALSE(base64_decode_strict(bad, 1024).has_value()) << bad;
    }
}

TEST(Base64, RefusesOutputOverTheLimit) {
    const std::string big(3000, 'x');
    EXPECT_FALSE(base64_decode_strict(base64_encode(big), 2999).has_value());
    EXPECT_TRUE(base64_decode_strict(base64_encode(big), 3000).has_value());
}

TEST(Form, FindsDecodesAndRefusesAmbiguity) {
    EXPECT_EQ(form_field("a=1&SAMLResponse=PHg%2B+x&b=2", "SAMLResponse").value, "PHg+ x");
    EXPECT_EQ(form_field("a=1", "SAMLResponse").status, FormFieldStatus::absent);
    EXPECT_EQ(form_field("SAMLResponse=1&SAMLResponse=2", "SAMLResponse").status, FormFieldStatus::duplicate);
    EXPECT_EQ(form_field("SAMLResponse=%zz", "SAMLResponse").status, FormFieldStatus::malformed);
    EXPECT_EQ(form_field("SAMLResponse=%4", "SAMLResponse").status, FormFieldStatus::malformed);
    EXPECT_EQ(form_field("SAMLResponse", "SAMLResponse").status, FormFieldStatus::found);
    EXPECT_EQ(form_field("SAML%52esponse=x", "SAMLResponse").value, "x");  // names are decoded too
    EXPECT_EQ(form_field("", "RelayState").status, FormFieldStatus::absent);
}

TEST(Form, RecognisesTheFormContentType) {
    EXPECT_TRUE(is_form_urlencoded("application/x-www-form-urlencoded"));
    EXPECT_TRUE(is_form_urlencoded("Application/X-WWW-Form-URLEncoded; charset=UTF-8"));
    EXPECT_TRUE(is_form_urlencoded(" application/x-www-form-urlencoded ;charset=utf-8"));
    EXPECT_FALSE(is_form_urlencoded(""));
    EXPECT_FALSE(is_form_urlencoded("multipart/form-data; boundary=x"));
    EXPECT_FALSE(is_form_urlencoded("text/plain"));
    EXPECT_FALSE(is_form_urlencoded("application/json"));
    EXPECT_FALSE(is_form_urlencoded("application/x-www-form-urlencodedx"));
    EXPECT_FALSE(is_form_urlencoded("application/x-www-form"));
}

TEST(Form, UrlEncodeKeepsOnlyUnreserved) {
    EXPECT_EQ(url_encode("a b/c?d=é~"), "a%20b%2Fc%3Fd%3D%C3%A9~");
    EXPECT_EQ(url_decode(url_encode("x\r\ny%"), false), "x\r\ny%");
}

}  // namespace
}  // namespace sso
