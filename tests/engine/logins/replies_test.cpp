// The login scripts' reply decoders, fed reply values: login_check's verdicts, login_failure's
// counts; error replies and replies of the wrong shape.
#include "engine/logins/replies.hpp"
#include "support/reply_values.hpp"

#include <gtest/gtest.h>

using namespace latchkey;
using namespace latchkey::logins;
using namespace latchkey::test::replies;
using latchkey::redis::Reply;

TEST(LoginReplies, LoginCheck) {
  auto ok = replies::login_check_one(arr({i(1), i(5000), i(0), i(0), i(0)}));
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->reserved);
  EXPECT_EQ(ok->now_ms, 5000);
  auto refused = replies::login_check_one(arr({i(0), i(5000), i(1), i(65000), i(0)}));
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->reserved);
  EXPECT_TRUE(refused->counter.refuses);
  EXPECT_EQ(refused->counter.locked_until_ms, 65000);
  auto busy = replies::login_check_one(arr({i(0), i(5000), i(1), i(0), i(9000)}));
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->counter.busy_until_ms, 9000);
  EXPECT_EQ(code(replies::login_check_one(arr({i(1), i(5000)})).error()), errc::internal);
  EXPECT_EQ(code(replies::login_check_one(arr({i(1), i(5000), i(0), i(0), i(0), i(0), i(0), i(0)})).error()),
            errc::internal)
      << "two counters: one call per counter now";
  EXPECT_EQ(code(replies::login_check_one(Reply::make_error("NOSCRIPT")).error()), errc::redis_error);
}

TEST(LoginReplies, LoginFailure) {
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
