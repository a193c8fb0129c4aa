// Hardening 20 (pure logic): the client behind trusted proxies, and no one else's say.
#include "latchkey/client_address.hpp"

#include <gtest/gtest.h>

using namespace latchkey::net;
using Headers = std::vector<std::pair<std::string, std::string>>;

namespace {
std::vector<Cidr> cidrs(const std::string& s) {
  std::string why;
  auto c = parse_cidrs(s, why);
  EXPECT_TRUE(c) << why;
  return c.value_or(std::vector<Cidr>{});
}
}  // namespace

TEST(Hardening20TrustedProxies, CidrListsParseAndRefuseGarbage) {
  std::string why;
  EXPECT_EQ(cidrs("").size(), 0u);
  EXPECT_EQ(cidrs("10.0.0.0/8, 192.0.2.7,2001:db8::/32").size(), 3u);
  for (const char* bad :
       {"10.0.0.0/33", "10.0.0.0/", "nonsense", "10.0.0.0/8,", "2001:db8::/129", "10.0.0.0/-1", "10.0.0.0/8x"})
    EXPECT_FALSE(parse_cidrs(bad, why)) << bad;
  auto c = cidrs("10.0.0.0/8,2001:db8::/32");
  EXPECT_TRUE(c[0].contains(boost::asio::ip::make_address("10.200.3.4")));
  EXPECT_FALSE(c[0].contains(boost::asio::ip::make_address("11.0.0.1")));
  EXPECT_TRUE(c[1].contains(boost::asio::ip::make_address("2001:db8:ffff::1")));
  EXPECT_FALSE(c[1].contains(boost::asio::ip::make_address("2001:db9::1")));
}

TEST(Hardening20TrustedProxies, HeadersCountOnlyFromATrustedPeer) {
  auto proxies = cidrs("10.0.0.0/8");
  Headers xff{{"x-forwarded-for", "198.51.100.7"}};
  EXPECT_EQ(client_address("203.0.113.5", xff, proxies), "203.0.113.5") << "an untrusted peer's header is ignored";
  EXPECT_EQ(client_address("10.0.0.2", xff, {}), "10.0.0.2") << "no trusted proxies: the peer, always";
  EXPECT_EQ(client_address("10.0.0.2", xff, proxies), "198.51.100.7");
  EXPECT_EQ(client_address("10.0.0.2", {}, proxies), "10.0.0.2") << "no header: the proxy itself";
}

TEST(Hardening20TrustedProxies, TheRightmostUntrustedHopIsTheClient) {
  auto proxies = cidrs("10.0.0.0/8");
  // The client prepended a spoofed address; the proxies appended what they saw.
  Headers spoof{{"x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.9"}};
  EXPECT_EQ(client_address("10.0.0.2", spoof, proxies), "198.51.100.7");
  Headers two{{"x-forwarded-for", "1.2.3.4"}, {"x-forwarded-for", "198.51.100.8"}};
  EXPECT_EQ(client_address("10.0.0.2", two, proxies), "198.51.100.8") << "repeated headers are one list";
  Headers garbage{{"x-forwarded-for", "198.51.100.7, nonsense"}};
  EXPECT_EQ(client_address("10.0.0.2", garbage, proxies), "10.0.0.2")
      << "an unreadable hop stops at the last trusted one";
  Headers all_proxies{{"x-forwarded-for", "10.1.1.1, 10.2.2.2"}};
  EXPECT_EQ(client_address("10.0.0.2", all_proxies, proxies), "10.1.1.1");
  Headers mapped{{"x-forwarded-for", "::ffff:198.51.100.7"}};
  EXPECT_EQ(client_address("10.0.0.2", mapped, proxies), "198.51.100.7");
}

TEST(Hardening20TrustedProxies, ForwardedHeaderPerRfc7239) {
  auto proxies = cidrs("10.0.0.0/8");
  Headers f{{"forwarded", R"(for=1.2.3.4, for="[2001:db8:cafe::17]:4711";proto=https, For=10.0.0.9;by=10.0.0.1)"},
            {"x-forwarded-for", "5.6.7.8"}};
  EXPECT_EQ(client_address("10.0.0.2", f, proxies), "2001:db8:cafe::17") << "Forwarded wins over X-Forwarded-For";
  Headers port{{"forwarded", R"(for="198.51.100.9:8443")"}};
  EXPECT_EQ(client_address("10.0.0.2", port, proxies), "198.51.100.9");
  Headers unknown{{"forwarded", "for=unknown"}};
  EXPECT_EQ(client_address("10.0.0.2", unknown, proxies), "10.0.0.2");
  Headers obfuscated{{"forwarded", "for=_hidden, for=198.51.100.3"}};
  EXPECT_EQ(client_address("10.0.0.2", obfuscated, proxies), "198.51.100.3");
}
