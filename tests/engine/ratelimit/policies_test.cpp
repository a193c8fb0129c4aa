// Rate-limit rules without I/O: limit bounds and the `ratelimit_policies` syntax.
#include "latchkey/config.hpp"
#include "latchkey/ratelimit.hpp"

#include <gtest/gtest.h>

using namespace latchkey::ratelimit;

TEST(RateLimitRules, LimitsAndCosts) {
  EXPECT_FALSE(check_limit({Algorithm::fixed_window, 10, 1000, 0}, 10));
  EXPECT_TRUE(check_limit({Algorithm::fixed_window, 10, 1000, 0}, 11)) << "a cost above the limit never fits";
  EXPECT_TRUE(check_limit({Algorithm::fixed_window, 0, 1000, 0}, 1));
  EXPECT_TRUE(check_limit({Algorithm::sliding_window, kMaxSlidingLimit + 1, 1000, 0}, 1));
  EXPECT_FALSE(check_limit({Algorithm::gcra, kMaxSlidingLimit + 1, 1000, 0}, 1));
  EXPECT_TRUE(check_limit({Algorithm::gcra, 10, 0, 0}, 1));
  EXPECT_TRUE(check_limit({Algorithm::gcra, 10, kMaxWindowMs + 1, 0}, 1));
  EXPECT_TRUE(check_limit({Algorithm::fixed_window, 10, 1000, 2}, 1)) << "burst is for gcra";
  EXPECT_FALSE(check_limit({Algorithm::gcra, 10, 1000, 2}, 2));
  EXPECT_TRUE(check_limit({Algorithm::gcra, 10, 1000, 2}, 3)) << "a cost above the burst never fits";
}

TEST(RateLimitRules, PolicySyntax) {
  std::string why;
  auto p = parse_policies(
      "login:sliding_window:10/60, api:gcra:100/1:burst=20:fail_open,trial:fixed_window:5/3600:shadow", why);
  ASSERT_TRUE(p) << why;
  ASSERT_EQ(p->size(), 3u);
  EXPECT_EQ((*p)[0].name, "login");
  EXPECT_EQ((*p)[0].limit.algorithm, Algorithm::sliding_window);
  EXPECT_EQ((*p)[0].limit.limit, 10);
  EXPECT_EQ((*p)[0].limit.window_ms, 60000);
  EXPECT_EQ((*p)[1].limit.burst, 20);
  EXPECT_TRUE((*p)[1].fail_open);
  EXPECT_FALSE((*p)[1].shadow);
  EXPECT_TRUE((*p)[2].shadow);
  EXPECT_TRUE(parse_policies("", why)->empty());
  for (const char* bad : {"login", "login:gcra", "login:leaky:1/1", "login:gcra:1", "login:gcra:x/1", "login:gcra:1/0",
                          "login:gcra:1/86401", "a:gcra:1/1,a:gcra:2/1", "bad name:gcra:1/1", "x:gcra:1/1:loud",
                          "x:fixed_window:1/1:burst=2", "x:sliding_window:10001/1", ":gcra:1/1"}) {
    EXPECT_FALSE(parse_policies(bad, why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(RateLimitRules, TheOptionRefusesABadPolicyNamingIt) {
  latchkey::ConfigInputs in;
  in.environment = {{"LATCHKEY_RATELIMIT_POLICIES", "login:sliding_window:0/60"}};
  auto r = latchkey::load_config(in);
  auto* e = std::get_if<latchkey::ConfigError>(&r);
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->message.find("ratelimit_policies"), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("login"), std::string::npos) << e->message;
}

TEST(RateLimitRules, TheOAuthPolicyMustExist) {
  latchkey::ConfigInputs in;
  in.environment = {{"LATCHKEY_ADMIN_API_KEYS", "k-0123456789abcdef0123456789abcdef"},
                    {"LATCHKEY_RATELIMIT_POLICIES", "api:gcra:10/1"},
                    {"LATCHKEY_OAUTH_RATELIMIT_POLICY", "oauth"}};
  auto r = latchkey::load_config(in);
  auto* e = std::get_if<latchkey::ConfigError>(&r);
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->message.find("oauth_ratelimit_policy"), std::string::npos) << e->message;
  in.environment["LATCHKEY_OAUTH_RATELIMIT_POLICY"] = "api";
  EXPECT_TRUE(std::holds_alternative<latchkey::Config>(latchkey::load_config(in)));
}
