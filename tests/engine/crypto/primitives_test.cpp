// Crypto primitives against official vectors (RFC 4231, RFC 7515 A.1, RFC 7636 B) and the
// properties the capabilities rely on (token entropy and uniqueness, strict base64url).
#include "latchkey/crypto/primitives.hpp"

#include "support/vectors.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace latchkey;
using namespace latchkey::crypto;

namespace {
std::string from_hex(std::string_view h) { return *hex_decode(h); }
}  // namespace

TEST(Hmac, Rfc4231Vectors) {
  auto doc = test::load_vector("rfc4231_hmac_sha256.json");
  const auto& cases = doc.at("cases").as_array();
  ASSERT_GE(cases.size(), 4u);
  for (const auto& c : cases) {
    std::string key = from_hex(c.at("key_hex").as_string());
    std::string data = from_hex(c.at("data_hex").as_string());
    auto mac = hmac_sha256(as_bytes(key), as_bytes(data));
    EXPECT_EQ(hex_encode(mac), c.at("hmac_sha256_hex").as_string()) << "test case " << c.at("tc");
    PreparedHmacSha256 prepared(as_bytes(key));
    EXPECT_EQ(hex_encode(prepared.mac(as_bytes(data))), c.at("hmac_sha256_hex").as_string())
        << "test case " << c.at("tc");
  }
}

TEST(Hmac, PreparedMatchesOneShotForKeysLongerThanABlockAndEveryMessageLength) {
  std::string key(131, '\xaa');  // RFC 4231 test case 6 shape: the key is hashed first
  PreparedHmacSha256 prepared(as_bytes(key));
  std::string data;
  for (int n = 0; n < 300; ++n) {
    EXPECT_EQ(hex_encode(prepared.mac(as_bytes(data))), hex_encode(hmac_sha256(as_bytes(key), as_bytes(data)))) << n;
    data.push_back(static_cast<char>(n));
  }
  auto doc = test::load_vector("rfc4231_hmac_sha256.json");
  const auto& tc6 = doc.at("extra_cases_outside_requested_scope").as_array().at(1);
  std::string msg(tc6.at("data_ascii").as_string());
  EXPECT_EQ(hex_encode(prepared.mac(as_bytes(msg))), tc6.at("hmac_sha256_hex").as_string());
}

TEST(Hmac, Rfc7515AppendixA1SignatureThroughBase64url) {
  auto doc = test::load_vector("rfc7515_appendixA_jws.json");
  const auto& a1 = doc.at("A.1").as_object();
  auto key = base64url_decode(a1.at("jwk").at("k").as_string());
  ASSERT_TRUE(key);
  std::string signing_input =
      std::string(a1.at("protected_header_b64u").as_string()) + "." + std::string(a1.at("payload_b64u").as_string());
  auto mac = hmac_sha256(as_bytes(*key), as_bytes(signing_input));
  EXPECT_EQ(base64url_encode(mac), a1.at("signature_b64u").as_string());
}

TEST(Sha256, Rfc7636AppendixBChallenge) {
  auto doc = test::load_vector("rfc7636_appendixB_pkce.json");
  std::string verifier(doc.at("code_verifier").as_string());
  EXPECT_EQ(base64url_encode(sha256(verifier)), doc.at("code_challenge").as_string());
  const auto& ex = doc.at("appendix_A_base64url_example");
  std::string octets;
  for (const auto& o : ex.at("octets").as_array()) octets.push_back(static_cast<char>(o.as_int64()));
  EXPECT_EQ(base64url_encode(octets), ex.at("base64url").as_string());
  EXPECT_EQ(base64url_decode(ex.at("base64url").as_string()), octets);
}

TEST(Sha256, KnownAnswer) {
  EXPECT_EQ(hex_encode(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex_encode(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Base64url, RoundTripsEveryLength) {
  std::string data;
  for (int i = 0; i < 70; ++i) {
    auto enc = base64url_encode(data);
    EXPECT_EQ(enc.find_first_of("+/="), std::string::npos);
    EXPECT_EQ(base64url_decode(enc), data);
    data.push_back(static_cast<char>(i * 37 + 11));
  }
}

TEST(Base64url, RejectsNonCanonicalAndForeignInput) {
  EXPECT_FALSE(base64url_decode("QQ=="));  // padding
  EXPECT_FALSE(base64url_decode("Q"));     // impossible length
  EXPECT_FALSE(base64url_decode("QR"));    // trailing bits set: 'A' is QQ
  EXPECT_TRUE(base64url_decode("QQ"));
  EXPECT_FALSE(base64url_decode("a+b/"));  // standard alphabet
  EXPECT_FALSE(base64url_decode("ab cd"));
  EXPECT_FALSE(base64url_decode(std::string("ab\0d", 4)));
}

TEST(Hex, RoundTripAndRejects) {
  EXPECT_EQ(hex_encode(as_bytes(std::string("\x00\xff\x10", 3))), "00ff10");
  EXPECT_EQ(hex_decode("00FF10"), std::string("\x00\xff\x10", 3));
  EXPECT_FALSE(hex_decode("abc"));
  EXPECT_FALSE(hex_decode("zz"));
}

TEST(ConstantTimeEqual, ComparesContentsAndLength) {
  EXPECT_TRUE(constant_time_equal("secret-value", "secret-value"));
  EXPECT_FALSE(constant_time_equal("secret-value", "secret-valuf"));
  EXPECT_FALSE(constant_time_equal("secret-value", "secret-valu"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

// ASVS V3.2.2 / V6.3.1: 256-bit CSPRNG tokens, 10^5 without a duplicate, no gross bit bias.
TEST(RandomToken, UniqueUnbiasedAndWellFormed) {
  constexpr int kCount = 100000;
  std::set<std::string> seen;
  std::array<long, 256> ones{};
  for (int i = 0; i < kCount; ++i) {
    auto t = random_token();
    ASSERT_EQ(t.size(), 43u);
    auto raw = base64url_decode(t);
    ASSERT_TRUE(raw);
    ASSERT_EQ(raw->size(), 32u);
    for (std::size_t b = 0; b < 32; ++b)
      for (int bit = 0; bit < 8; ++bit) ones[b * 8 + bit] += ((*raw)[b] >> bit) & 1;
    ASSERT_TRUE(seen.insert(std::move(t)).second) << "duplicate token";
  }
  // Each bit is set with probability 1/2: over 10^5 draws the count lies within
  // 50000 +- 6 sigma (sigma = 158) unless the generator is broken.
  for (auto n : ones) {
    EXPECT_GT(n, 50000 - 950);
    EXPECT_LT(n, 50000 + 950);
  }
}
