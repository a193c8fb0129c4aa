// AES-256-GCM key ring: round trips, rotation, binding to associated data, uniform failures,
// nonce uniqueness (ASVS V6.2.1, V6.2.6, V6.2.7).
#include "latchkey/crypto/aead.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace latchkey;
using namespace latchkey::crypto;

namespace {
AeadKey key(std::string kid, std::uint8_t fill) {
  AeadKey k;
  k.kid = std::move(kid);
  k.key.fill(fill);
  return k;
}
}  // namespace

TEST(KeyRing, RoundTripWithAssociatedData) {
  auto ring = KeyRing::create({key("k1", 1)});
  ASSERT_TRUE(ring);
  auto ct = ring->encrypt("{\"role\":\"admin\"}", "session:abc");
  EXPECT_EQ(ct.find("admin"), std::string::npos);
  auto pt = ring->decrypt(ct, "session:abc");
  ASSERT_TRUE(pt);
  EXPECT_EQ(*pt, "{\"role\":\"admin\"}");
  EXPECT_EQ(*ring->decrypt(ring->encrypt("", "ad"), "ad"), "");
}

TEST(KeyRing, CiphertextIsBoundToItsContext) {
  auto ring = *KeyRing::create({key("k1", 1)});
  auto ct = ring.encrypt("payload", "session:abc");
  auto moved = ring.decrypt(ct, "session:xyz");
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error(), make_error_code(errc::crypto_error));
}

TEST(KeyRing, RotationNewestEncryptsAllDecrypt) {
  auto old_ring = *KeyRing::create({key("k1", 1)});
  auto old_ct = old_ring.encrypt("kept", "ad");
  auto rotated = *KeyRing::create({key("k1", 1), key("k2", 2)});
  EXPECT_EQ(rotated.active().kid, "k2");
  EXPECT_EQ(*rotated.decrypt(old_ct, "ad"), "kept");
  auto new_ct = rotated.encrypt("fresh", "ad");
  EXPECT_EQ(new_ct.substr(2, 2), "k2");
  EXPECT_FALSE(old_ring.decrypt(new_ct, "ad"));  // k2 unknown to the old ring
}

// Every kind of tampering yields the very same error value (no oracle).
TEST(KeyRing, EveryTamperingFailsTheSameWay) {
  auto ring = *KeyRing::create({key("k1", 1)});
  auto ct = ring.encrypt("some secret data", "ad");
  const auto expected = make_error_code(errc::crypto_error);
  for (std::size_t i = 0; i < ct.size(); ++i) {
    for (int bit : {0, 7}) {
      std::string bad = ct;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      auto r = ring.decrypt(bad, "ad");
      ASSERT_FALSE(r) << "flip at byte " << i;
      EXPECT_EQ(r.error(), expected);
    }
  }
  for (std::size_t len = 0; len < ct.size(); ++len) {
    auto r = ring.decrypt(ct.substr(0, len), "ad");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), expected);
  }
  EXPECT_EQ(ring.decrypt(ct + "x", "ad").error(), expected);
}

TEST(KeyRing, NoncesNeverRepeat) {
  auto ring = *KeyRing::create({key("k1", 1)});
  std::set<std::string> ivs;
  for (int i = 0; i < 100000; ++i) {
    auto ct = ring.encrypt("x", "ad");
    ASSERT_TRUE(ivs.insert(ct.substr(2 + 2, 12)).second) << "IV repeated";
  }
}

TEST(KeyRing, RejectsBadRings) {
  EXPECT_FALSE(KeyRing::create({}));
  EXPECT_FALSE(KeyRing::create({key("a", 1), key("a", 2)}));
  EXPECT_FALSE(KeyRing::create({key("bad kid", 1)}));
  EXPECT_FALSE(KeyRing::create({key(std::string(65, 'a'), 1)}));
}

TEST(KeyRing, SerializeParseRoundTrip) {
  auto ring = KeyRing::generate();
  auto parsed = KeyRing::parse(ring.serialize());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->active().kid, ring.active().kid);
  EXPECT_EQ(*parsed->decrypt(ring.encrypt("x", "y"), "y"), "x");
  EXPECT_FALSE(KeyRing::parse("{"));
  EXPECT_FALSE(KeyRing::parse("{\"keys\":[]}"));
  EXPECT_FALSE(KeyRing::parse("{\"keys\":[{\"kid\":\"a\",\"key\":\"c2hvcnQ\"}]}"));  // 5 bytes
}

// Hardening 14: a data key added to the ring encrypts from then on; the older keys decrypt.
TEST(KeyRing, AddedKeyEncryptsAndOldCiphertextsStillDecrypt) {
  auto ring = KeyRing::generate();
  std::string old_kid = ring.active().kid;
  std::string c1 = ring.encrypt("secret", "ctx");
  std::string kid = ring.add();
  EXPECT_NE(kid, old_kid);
  EXPECT_EQ(ring.active().kid, kid);
  EXPECT_EQ(ring.keys().size(), 2u);
  auto d1 = ring.decrypt(c1, "ctx");
  ASSERT_TRUE(d1);
  EXPECT_EQ(*d1, "secret");
  auto reparsed = KeyRing::parse(ring.serialize());
  ASSERT_TRUE(reparsed);
  EXPECT_EQ(reparsed->active().kid, kid);
  EXPECT_TRUE(reparsed->decrypt(c1, "ctx"));
}
