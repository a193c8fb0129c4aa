// The handshake request and verdict, from reply values (no server).
#include "engine/redis/handshake.hpp"

#include "support/reply_values.hpp"

#include <gtest/gtest.h>

using namespace latchkey::redis;

namespace {
using latchkey::test::replies::arr;
Reply policy(std::string p) { return arr({Reply::make_string("maxmemory-policy"), Reply::make_string(std::move(p))}); }
Reply role(std::string r) { return arr({Reply::make_string(std::move(r)), Reply::make_integer(0), arr({})}); }
using O = HandshakeVerdict::Outcome;
}  // namespace

TEST(Handshake, RequestHoldsOnlyWhatTheEndpointNeeds) {
  Endpoint plain;
  HandshakePlan p{&plain, nullptr, false, false};
  EXPECT_EQ(handshake_request(p).size(), 1u);  // CONFIG GET only
  EXPECT_NE(handshake_request(p).payload().find("maxmemory-policy"), std::string::npos);

  Endpoint full;
  full.user = "app";
  full.password = "pw";
  full.db = 3;
  ScriptSet scripts(std::vector<ScriptSource>{{"a", "return 1"}, {"b", "return 2"}});
  HandshakePlan q{&full, &scripts, true, false};
  Request r = handshake_request(q);
  EXPECT_EQ(r.size(), 6u);  // AUTH, SELECT, ROLE, CONFIG GET, 2 x SCRIPT LOAD
  const std::string& bytes = r.payload();
  EXPECT_LT(bytes.find("AUTH"), bytes.find("SELECT"));
  EXPECT_LT(bytes.find("SELECT"), bytes.find("ROLE"));
  EXPECT_LT(bytes.find("ROLE"), bytes.find("CONFIG"));
  EXPECT_LT(bytes.find("CONFIG"), bytes.find("SCRIPT"));
}

TEST(Handshake, VerdictOnEachFailure) {
  Endpoint ep;
  ep.password = "pw";
  ScriptSet scripts(std::vector<ScriptSource>{{"a", "return 1"}});
  HandshakePlan p{&ep, &scripts, true, false};
  const Reply ok_load = Reply::make_string(scripts.all()[0].sha1);

  auto v = check_handshake(p, {Reply::make_status("OK"), role("master"), policy("noeviction"), ok_load});
  EXPECT_EQ(v.outcome, O::ready) << v.message;
  EXPECT_TRUE(v.message.empty());

  v = check_handshake(p, {Reply::make_error("WRONGPASS invalid username-password pair"), Reply::make_error("NOAUTH x"),
                          Reply::make_error("NOAUTH x"), Reply::make_error("NOAUTH x")});
  EXPECT_EQ(v.outcome, O::credentials);
  EXPECT_NE(v.message.find("refused the credentials"), std::string::npos) << v.message;
  EXPECT_EQ(v.message.find("pw"), std::string::npos) << "never the password";

  v = check_handshake(p, {Reply::make_status("OK"), role("slave"), policy("noeviction"), ok_load});
  EXPECT_EQ(v.outcome, O::not_master);
  EXPECT_NE(v.message.find("ROLE slave"), std::string::npos) << v.message;

  v = check_handshake(p, {Reply::make_status("OK"), role("master"), policy("allkeys-lru"), ok_load});
  EXPECT_EQ(v.outcome, O::eviction);
  EXPECT_NE(v.message.find("allkeys-lru"), std::string::npos);
  p.allow_eviction = true;
  v = check_handshake(p, {Reply::make_status("OK"), role("master"), policy("allkeys-lru"), ok_load});
  EXPECT_EQ(v.outcome, O::ready);
  EXPECT_EQ(v.eviction_policy, "allkeys-lru");

  v = check_handshake(
      p, {Reply::make_status("OK"), role("master"), Reply::make_error("ERR unknown command 'CONFIG'"), ok_load});
  EXPECT_EQ(v.outcome, O::ready);
  ASSERT_EQ(v.warnings.size(), 1u);
  EXPECT_NE(v.warnings[0].find("cannot read maxmemory-policy"), std::string::npos);

  v = check_handshake(p, {Reply::make_status("OK"), role("master"), policy("noeviction"), Reply::make_string("beef")});
  EXPECT_EQ(v.outcome, O::failed);
  EXPECT_NE(v.message.find("SCRIPT LOAD of a"), std::string::npos);

  v = check_handshake(p, {Reply::make_status("OK"), Reply::make_error("LOADING Redis is loading"),
                          Reply::make_error("LOADING Redis is loading"), Reply::make_error("LOADING x")});
  EXPECT_EQ(v.outcome, O::failed);
  EXPECT_NE(v.message.find("LOADING"), std::string::npos);

  v = check_handshake(p, {Reply::make_status("OK")});
  EXPECT_EQ(v.outcome, O::failed) << "a short reply is never ready";
}

TEST(Handshake, MissingPasswordIsACredentialsProblem) {
  Endpoint ep;  // no password given
  HandshakePlan p{&ep, nullptr, false, false};
  auto v = check_handshake(p, {Reply::make_error("NOAUTH Authentication required.")});
  EXPECT_EQ(v.outcome, O::credentials);
  EXPECT_NE(v.message.find("requires a password"), std::string::npos);
}
