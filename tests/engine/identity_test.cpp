// Hardening 2 and 15 (pure logic): client addresses and account names are counted in one
// canonical spelling, and the digests in Redis key names are keyed.
#include "latchkey/identity.hpp"
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/utf8.hpp"

#include <gtest/gtest.h>

using namespace latchkey;

TEST(Hardening02CanonicalAddress, SpellingsOfOneClientAreOneAddress) {
  EXPECT_EQ(canonical_address("203.0.113.9", 64), "203.0.113.9");
  EXPECT_EQ(canonical_address("::ffff:203.0.113.9", 64), "203.0.113.9") << "IPv4-mapped IPv6 is IPv4";
  EXPECT_EQ(canonical_address("::FFFF:cb00:7109", 64), "203.0.113.9");
  EXPECT_EQ(canonical_address("2001:db8::1", 64), "2001:db8::/64");
  EXPECT_EQ(canonical_address("2001:0DB8:0000:0000:ffff:1:2:3", 64), "2001:db8::/64") << "the same /64";
  EXPECT_EQ(canonical_address("fe80::1%eth0", 64), "fe80::/64") << "a zone index is dropped";
  EXPECT_EQ(canonical_address("2001:db8:0:1::1", 64), "2001:db8:0:1::/64") << "the next /64 is another network";
  EXPECT_EQ(canonical_address("2001:db8:0:1::1", 48), "2001:db8::/48");
  EXPECT_EQ(canonical_address("2001:db8::1", 128), "2001:db8::1/128");
  EXPECT_EQ(canonical_address("2001:db8:ffff::1", 36), "2001:db8:f000::/36");
}

TEST(Hardening02CanonicalAddress, NonAddressesAreRefused) {
  for (const char* s :
       {"", "alice", "203.0.113", "203.0.113.9.1", "203.0.113.256", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4/24",
        "2001:db8:::1", "[2001:db8::1]", "::ffff:1.2.3", "localhost", "0x7f.1", "\xff\xfe"})
    EXPECT_FALSE(canonical_address(s, 64)) << s;
  EXPECT_FALSE(canonical_address(std::string(65, '1'), 64));
}

TEST(Hardening02CanonicalAccount, CaseWidthAndSpaceVariantsAreOneAccount) {
  auto bob = canonical_account("bob@x");
  ASSERT_TRUE(bob);
  for (const char* v :
       {"Bob@x", "BOB@X", "bob@x ", "  bob@x\t", "\xEF\xBD\x82\xEF\xBD\x8F\xEF\xBD\x82@x" /* fullwidth bob */,
        "\xE2\x80\x83"
        "bob@X" /* em space */})
    EXPECT_EQ(canonical_account(v), bob) << v;
  EXPECT_EQ(canonical_account("Stra\xC3\x9F"
                              "e"),
            canonical_account("STRASSE"))
      << "full case folding";
  EXPECT_NE(canonical_account("bob@y"), bob);
  EXPECT_NE(canonical_account("b ob@x"), bob) << "inner spaces are part of the name";
}

// canonical_account folds ASCII without ICU: it must give ICU's answer for every ASCII
// character alone, at either end and inside a name, and for random ASCII names.
TEST(Hardening02CanonicalAccount, CanonicalAccountAsciiMatchesIcu) {
  for (int c = 0; c < 0x80; ++c) {
    const std::string ch(1, static_cast<char>(c));
    for (const std::string& s : {ch, ch + "Bob", "bOB" + ch, "Al" + ch + "Ice", ch + ch + "x" + ch})
      EXPECT_EQ(canonical_account(s), canonical_account_unicode(s)) << "character " << c;
  }
  std::uint32_t x = 12345;
  for (int i = 0; i < 2000; ++i) {
    std::string s;
    for (int n = 0; n < 1 + i % 24; ++n) {
      x = x * 1103515245u + 12345u;
      s.push_back(static_cast<char>((x >> 16) % 0x80));
    }
    EXPECT_EQ(canonical_account(s), canonical_account_unicode(s)) << i;
  }
}

TEST(Hardening02CanonicalAccount, InvalidUtf8AndBlankNamesHaveNoCanonicalForm) {
  EXPECT_FALSE(canonical_account("\xff\xfe"));
  EXPECT_FALSE(canonical_account("a\xC0\xAF"));     // overlong '/'
  EXPECT_FALSE(canonical_account("\xED\xA0\x80"));  // a surrogate
  EXPECT_FALSE(canonical_account("   "));
  EXPECT_FALSE(canonical_account(""));
}

TEST(Hardening13Utf8, ValidityFollowsRfc3629) {
  EXPECT_TRUE(valid_utf8("alice"));
  EXPECT_TRUE(valid_utf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));
  EXPECT_TRUE(valid_utf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  for (const char* s : {"\xFF", "\xFE\xFF", "\xC0\x80", "\xE0\x80\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xC3",
                        "\xE2\x82", "\x80", "a\xF0\x9F\x98"})
    EXPECT_FALSE(valid_utf8(s)) << s;
}

TEST(Hardening15Identifiers, DigestsAreKeyedAndSeparatedByKind) {
  Identifiers a(std::string(32, 'a')), b(std::string(32, 'b'));
  EXPECT_EQ(a.of("ip", "203.0.113.9"), a.of("ip", "203.0.113.9"));
  EXPECT_NE(a.of("ip", "203.0.113.9"), b.of("ip", "203.0.113.9")) << "without the key, no digest can be recomputed";
  EXPECT_NE(a.of("ip", "203.0.113.9"), crypto::sha256_base64url("203.0.113.9").substr(0, 22));
  // Hardening 6: a caller's key cannot reach another scope's counter.
  EXPECT_NE(a.of("a", "oauth:203.0.113.9"), a.of("oauth:p", "203.0.113.9"));
  EXPECT_NE(a.of("p:api", "x"), a.of("p", "api:x"));
  EXPECT_EQ(a.of("ip", "x").size(), 22u);
  // It is HMAC-SHA-256 (RFC 2104) of "kind NUL id", truncated to 128 bits.
  std::string data("ip\0x", 4);
  auto full = crypto::hmac_sha256(crypto::as_bytes(std::string(32, 'a')), crypto::as_bytes(data));
  EXPECT_EQ(a.of("ip", "x"), crypto::base64url_encode(crypto::bytes_view(full.data(), 16)));
}
