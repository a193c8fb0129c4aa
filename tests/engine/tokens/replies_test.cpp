// The token scripts' reply decoders, fed reply values: each outcome of each script's contract
// (lua/token_*.lua headers), error replies, and replies of the wrong shape.
#include "engine/tokens/replies.hpp"

#include "support/reply_values.hpp"

#include <gtest/gtest.h>

using namespace latchkey;
using namespace latchkey::tokens;
using redis::Reply;

using namespace latchkey::test::replies;

TEST(TokenReplies, IssueGivesRedisClockAndTheUsersEpoch) {
  auto c = replies::issue(arr({i(1796000000), s("1795999990")}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->now, 1796000000);
  EXPECT_EQ(c->epoch, 1795999990);
  EXPECT_EQ(code(replies::issue(Reply::make_error("OOM")).error()), errc::redis_error);
  EXPECT_EQ(code(replies::issue(arr({i(1)})).error()), errc::internal);
}

TEST(TokenReplies, RefreshOutcomes) {
  using O = replies::Refreshed::outcome;
  EXPECT_EQ(replies::refresh(arr({s("rotated")}))->result, O::rotated);
  auto g = replies::refresh(arr({s("grace"), s("SEALED")}));
  ASSERT_TRUE(g);
  EXPECT_EQ(g->result, O::grace);
  EXPECT_EQ(g->sealed_pair, "SEALED");
  EXPECT_EQ(replies::refresh(arr({s("reuse")}))->result, O::reuse);
  EXPECT_EQ(replies::refresh(arr({s("invalid")}))->result, O::invalid);
  for (auto bad : {arr({}), arr({s("grace")}), arr({s("moved"), s("x")}), s("rotated"), Reply::make_nil()})
    EXPECT_EQ(code(replies::refresh(bad).error()), errc::internal);
  EXPECT_EQ(code(replies::refresh(Reply::make_error("READONLY")).error()), errc::redis_error);
}

TEST(TokenReplies, RevocationsAndIntrospection) {
  EXPECT_TRUE(*replies::revoke_family(i(1)));
  EXPECT_FALSE(*replies::revoke_family(i(0)));
  EXPECT_EQ(code(replies::revoke_family(s("1")).error()), errc::internal);
  EXPECT_EQ(*replies::revoke_user(i(4)), 4);
  EXPECT_EQ(code(replies::revoke_user(Reply::make_error("ERR")).error()), errc::redis_error);

  auto none = replies::introspect(arr({}));
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  auto live = replies::introspect(arr({s("client"), s("read"), s("api"), s(""), i(10), i(910), s("fam"), s("")}));
  ASSERT_TRUE(live);
  ASSERT_TRUE(*live);
  EXPECT_EQ((*live)->client_id, "client");
  EXPECT_EQ((*live)->scope, "read");
  EXPECT_TRUE((*live)->sealed_user.empty());
  EXPECT_EQ((*live)->exp, 910);
  EXPECT_EQ(code(replies::introspect(arr({s("client")})).error()), errc::internal);
  EXPECT_EQ(code(replies::introspect(Reply::make_nil()).error()), errc::internal);
}
