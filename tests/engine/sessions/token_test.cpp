// Session token format: strict parsing, slot routing, session ids that do not reveal tokens.
#include "latchkey/identity.hpp"
#include "latchkey/sessions.hpp"
#include "latchkey/key_schema.hpp"

#include "latchkey/crypto/primitives.hpp"
#include "latchkey/redis/slot.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace latchkey;
using namespace latchkey::sessions;

TEST(SessionToken, RoundTripsTheSlot) {
  for (int s : {0, 1, 255, 256, 12182, 16383}) {
    auto slot = static_cast<std::uint16_t>(s);
    auto t = new_token(slot);
    EXPECT_EQ(t.size(), 47u);
    auto p = parse_token(t);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->slot, slot);
    EXPECT_EQ(p->session_id, crypto::base64url_encode(crypto::sha256(t)));
    EXPECT_TRUE(valid_session_id(p->session_id));
  }
}

TEST(SessionToken, TheCurrentFormatCarriesTheIdleTimeoutBoundByTheSessionId) {
  for (std::int64_t idle : {1LL, 60LL, 1800LL, 86400LL * 365, 0xFFFFFFFFLL}) {
    auto t = new_token(12182, idle);
    EXPECT_EQ(t.size(), 52u);
    auto p = parse_token(t);
    ASSERT_TRUE(p) << idle;
    EXPECT_EQ(p->slot, 12182);
    EXPECT_EQ(p->idle_ttl, idle);
    EXPECT_EQ(p->session_id, crypto::base64url_encode(crypto::sha256(t)));
  }
  // Another idle timeout in the same token is another token: another session id.
  auto t = new_token(5, 1800);
  auto raw = *crypto::base64url_decode(t);
  raw[6] = static_cast<char>(raw[6] ^ 1);
  auto altered = parse_token(crypto::base64url_encode(raw));
  ASSERT_TRUE(altered);
  EXPECT_EQ(altered->idle_ttl, 1801);
  EXPECT_NE(altered->session_id, parse_token(t)->session_id);
  // Out of range: the first format, which carries none.
  EXPECT_EQ(new_token(5, 0).size(), 47u);
  EXPECT_EQ(new_token(5, 0x100000000LL).size(), 47u);
  EXPECT_EQ(parse_token(new_token(5, 0))->idle_ttl, 0);
  raw[3] = raw[4] = raw[5] = raw[6] = 0;
  EXPECT_FALSE(parse_token(crypto::base64url_encode(raw))) << "an idle timeout of 0 is never issued";
  raw[0] = 1;
  EXPECT_FALSE(parse_token(crypto::base64url_encode(raw))) << "the first format is 35 bytes";
}

TEST(SessionToken, RejectsAnythingNotIssuedByThisFormat) {
  auto t = new_token(42);
  EXPECT_FALSE(parse_token(""));
  EXPECT_FALSE(parse_token(t.substr(1)));
  EXPECT_FALSE(parse_token(t + "A"));
  std::string plus = t;
  plus[10] = '+';
  EXPECT_FALSE(parse_token(plus));
  std::string noncanonical = t;
  {
    // 35 bytes fill 47 characters with 2 bits to spare, which must be zero.
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    auto idx = alphabet.find(noncanonical.back());
    ASSERT_EQ(idx % 4, 0u);
    noncanonical.back() = alphabet[idx + 1];
  }
  EXPECT_FALSE(parse_token(noncanonical));
  std::string raw(35, '\0');
  raw[0] = 2;  // unknown version
  EXPECT_FALSE(parse_token(crypto::base64url_encode(raw)));
  raw[0] = 1;
  raw[1] = static_cast<char>(0x40);  // slot 16384
  EXPECT_FALSE(parse_token(crypto::base64url_encode(raw)));
}

TEST(SessionToken, TokensAreUniqueAndCarryNoUserData) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(seen.insert(new_token(7)).second);
  // The only user-derived part is the 14-bit slot of a SHA-256 of the user id.
  auto p = parse_token(new_token(user_slot("alice@example.com")));
  EXPECT_EQ(p->slot, redis::key_slot(user_hash("alice@example.com")));
}

TEST(SessionToken, UserKeysShareOneSlot) {
  key_schema::UserSlot names("lk:", user_slot("bob"));
  EXPECT_EQ(redis::key_slot(names.session("x")), redis::key_slot(names.session_index(user_hash("bob"))));
  EXPECT_EQ(redis::key_slot(names.session("x")), user_slot("bob"));
}

TEST(SessionToken, SessionIdValidation) {
  EXPECT_TRUE(valid_session_id(crypto::base64url_encode(crypto::sha256("x"))));
  EXPECT_FALSE(valid_session_id("short"));
  EXPECT_FALSE(valid_session_id(std::string(43, '+')));
}
