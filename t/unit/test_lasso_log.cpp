// Our lasso_log replaces Lasso's (see saml/lasso_log.hpp): debug traces vanish, warnings
// still reach GLib's "Lasso" domain, and Lasso's own calls land here too.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "saml/lasso_includes.hpp"

extern "C" {
#include <lasso/logging.h>  // has no C++ guard of its own
}
#include "saml/lasso_log.hpp"

namespace sso {
namespace {

std::vector<std::string>* captured = nullptr;

void capture(const gchar*, GLogLevelFlags, const gchar* message, gpointer) {
    if (captured) captured->push_back(message);
}

class LassoLogTest : public ::testing::Test {
protected:
    void SetUp() override {
        keep_lasso_log_quiet();
        captured = &messages;
        handler = g_log_set_handler("Lasso", static_cast<GLogLevelFlags>(G_LOG_LEVEL_MASK), capture, nullptr);
    }
    void TearDown() override {
        g_log_remove_handler("Lasso", handler);
        captured = nullptr;
    }
    std::vector<std::string> messages;
    guint handler = 0;
};

TEST_F(LassoLogTest, DropsDebugForwardsTheRest) {
    lasso_log(G_LOG_LEVEL_DEBUG, "f.c", 1, "fn", "trace %d", 1);
    EXPECT_TRUE(messages.empty());
    lasso_log(G_LOG_LEVEL_WARNING, "f.c", 2, "fn", "careful %s", "now");
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0], "f.c:2:fn careful now");
}

TEST_F(LassoLogTest, LassoItselfLogsThroughUs) {
    // An unknown provider makes Lasso warn through lasso_log; it must arrive in our format.
    lasso_init();
    LassoServer* server = lasso_server_new(nullptr, nullptr, nullptr, nullptr);
    ASSERT_NE(server, nullptr);
    EXPECT_NE(lasso_server_add_provider_from_buffer(server, LASSO_PROVIDER_ROLE_IDP, "<x/>", nullptr, nullptr), 0);
    g_object_unref(server);
    for (const auto& m : messages) EXPECT_EQ(m.find("Lasso"), std::string::npos) << m;
    bool ours = false;
    for (const auto& m : messages) ours = ours || m.find(".c:") != std::string::npos;
    EXPECT_TRUE(ours) << "no Lasso message arrived through lasso_log";
}

}  // namespace
}  // namespace sso
