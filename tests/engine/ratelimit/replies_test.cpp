// The rate-limit scripts' reply decoder, fed reply values: admissions, denials, replies of the
// wrong shape.
#include "../../../src/engine/ratelimit/replies.hpp"
#include "../../support/reply_values.hpp"

#include <gtest/gtest.h>

using namespace latchkey;
using namespace latchkey::ratelimit;
using namespace latchkey::test::replies;
using latchkey::redis::Reply;

TEST(RateLimitReplies, RateLimit) {
  auto l = replies::ratelimit(arr({i(0), i(0), i(30000), i(1500)}), "ratelimit_gcra");
  ASSERT_TRUE(l);
  EXPECT_FALSE(l->allowed);
  EXPECT_EQ(l->retry_after_ms, 1500);
  EXPECT_TRUE(replies::ratelimit(arr({i(1), i(4), i(60000), i(0)}), "ratelimit_fixed_window")->allowed);
  EXPECT_EQ(code(replies::ratelimit(arr({i(1)}), "ratelimit_fixed_window").error()), errc::internal);
  EXPECT_EQ(code(replies::ratelimit(s("1"), "ratelimit_sliding_window").error()), errc::internal);
}
