#include <gtest/gtest.h>

#include "saml/saml_time.hpp"

namespace sso {
namespace {

TEST(SamlTime, ParsesUtcWithAndWithoutFraction) {
    EXPECT_EQ(parse_saml_time("1970-01-01T00:00:00Z"), 0);
    EXPECT_EQ(parse_saml_time("2026-11-21T05:30:00Z"), 1795239000);
    EXPECT_EQ(parse_saml_time("2026-11-21T05:30:00.123Z"), 1795239000);
    EXPECT_EQ(parse_saml_time("2026-11-21T05:30:00.123456789Z"), 1795239000);
    EXPECT_EQ(parse_saml_time("2026-11-21T05:30:00+00:00"), 1795239000);
    EXPECT_EQ(parse_saml_time("2024-02-29T00:00:00Z"), 1709164800);
}

TEST(SamlTime, RefusesWhatIsNotUtcXsDateTime) {
    for (const char* bad :
         {"", "2026-11-21", "2026-11-21T05:30:00", "2026-11-21T05:30:00+01:00", "2026-11-21 05:30:00Z",
          "2026-13-01T00:00:00Z", "2026-11-32T00:00:00Z", "2026-11-21T24:00:00Z", "2026-11-21T05:60:00Z",
          "2026-11-21T05:30:00.Z", "2026-11-21T05:30:00.1234567890Z", "2026-11-21T05:30:00ZZ", "x026-11-21T05:30:00Z",
          "2026-11-21T05:30:00Z\n"}) {
        EXPECT_FALSE(parse_saml_time(bad).has_value()) << bad;
    }
}

TEST(SamlTime, FormatRoundTrips) {
    EXPECT_EQ(format_saml_time(1795239000), "2026-11-21T05:30:00Z");
    EXPECT_EQ(parse_saml_time(format_saml_time(1234567890)), 1234567890);
}

}  // namespace
}  // namespace sso
