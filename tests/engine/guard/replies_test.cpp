// The guard scripts' reply decoders, fed reply values: login_check's verdicts, login_failure's
// counts, the rate-limit shape; error replies and replies of the wrong shape.
#include "../../../src/engine/guard/replies.hpp"
#include "../../support/reply_values.hpp"

#include <gtest/gtest.h>

using namespace latchkey;
using namespace latchkey::guard;
using namespace latchkey::test::replies;
using latchkey::redis::Reply;

TEST(GuardReplies, LoginCheck) {
  auto ok = replies::login_check(arr({i(1), i(5000), i(0), i(0), i(0), i(0), i(0), i(0)}));
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->reserved);
  EXPECT_EQ(ok->now_ms, 5000);
  auto refused = replies::login_check(arr({i(0), i(5000), i(1), i(65000), i(0), i(0), i(0), i(0)}));
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->reserved);
  EXPECT_TRUE(refused->counters[0].refuses);
  EXPECT_EQ(refused->counters[0].locked_until_ms, 65000);
  EXPECT_FALSE(refused->counters[1].refuses);
  EXPECT_EQ(code(replies::login_check(arr({i(1), i(5000)})).error()), errc::internal);
  EXPECT_EQ(code(replies::login_check(Reply::make_error("NOSCRIPT")).error()), errc::redis_error);
}

TEST(GuardReplies, LoginFailure) {
  auto c = replies::login_failure(arr({i(5), i(70000), i(1), i(10000), i(1)}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->failures, 5);
  EXPECT_TRUE(c->locked());
  EXPECT_TRUE(c->on_device);
  auto open = replies::login_failure(arr({i(2), i(0), i(0), i(10000), i(0)}));
  ASSERT_TRUE(open);
  EXPECT_FALSE(open->locked());
  EXPECT_EQ(code(replies::login_failure(arr({i(2)})).error()), errc::internal);
  EXPECT_EQ(code(replies::login_failure(Reply::make_error("OOM")).error()), errc::redis_error);
}

TEST(GuardReplies, RateLimit) {
  auto l = replies::ratelimit(arr({i(0), i(0), i(30000), i(1500)}), "ratelimit_gcra");
  ASSERT_TRUE(l);
  EXPECT_FALSE(l->allowed);
  EXPECT_EQ(l->retry_after_ms, 1500);
  EXPECT_TRUE(replies::ratelimit(arr({i(1), i(4), i(60000), i(0)}), "ratelimit_fixed_window")->allowed);
  EXPECT_EQ(code(replies::ratelimit(arr({i(1)}), "ratelimit_fixed_window").error()), errc::internal);
  EXPECT_EQ(code(replies::ratelimit(s("1"), "ratelimit_sliding_window").error()), errc::internal);
}
