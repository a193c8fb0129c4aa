// oauth_code_redeem's reply decoder, fed reply values: every outcome of the contract, error
// replies and replies of the wrong shape.
#include "engine/oauth/replies.hpp"
#include "support/reply_values.hpp"

#include <gtest/gtest.h>

using namespace latchkey;
using namespace latchkey::test::replies;
using latchkey::redis::Reply;
using O = latchkey::oauth::replies::Redeemed::outcome;
namespace oauth_replies = latchkey::oauth::replies;

TEST(OAuthReplies, CodeRedeemOutcomes) {
  auto ok = oauth_replies::code_redeem(arr({s("ok"), s("read"), s("SEALED"), s("uh"), s("LOGIN")}));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->result, O::ok);
  EXPECT_EQ(ok->scope, "read");
  EXPECT_EQ(ok->sealed_user, "SEALED");
  EXPECT_EQ(ok->sealed_login, "LOGIN");
  auto replay = oauth_replies::code_redeem(arr({s("replay"), s("fam"), s("uh")}));
  ASSERT_TRUE(replay);
  EXPECT_EQ(replay->result, O::replay);
  EXPECT_EQ(replay->family_id, "fam");
  EXPECT_EQ(oauth_replies::code_redeem(arr({s("mismatch"), s("pkce")}))->result, O::mismatch_pkce);
  EXPECT_EQ(oauth_replies::code_redeem(arr({s("mismatch"), s("client")}))->result, O::mismatch_client);
  EXPECT_EQ(oauth_replies::code_redeem(arr({s("mismatch"), s("redirect_uri")}))->result, O::mismatch_redirect_uri);
  EXPECT_EQ(oauth_replies::code_redeem(arr({s("invalid")}))->result, O::invalid);
  for (auto bad : {arr({}), arr({s("ok"), s("read")}), arr({s("mismatch"), s("scope")}), arr({s("replay")}), s("ok")})
    EXPECT_EQ(code(oauth_replies::code_redeem(bad).error()), errc::internal);
  EXPECT_EQ(code(oauth_replies::code_redeem(Reply::make_error("ERR")).error()), errc::redis_error);
}
