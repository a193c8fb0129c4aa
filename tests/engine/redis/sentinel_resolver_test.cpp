// The Sentinel state machine, fed with reply values (no sockets).
#include "engine/redis/sentinel_resolver.hpp"

#include "support/reply_values.hpp"

#include <gtest/gtest.h>

using namespace latchkey::redis;

namespace {
using latchkey::test::replies::arr;
using latchkey::test::replies::s;
Reply addr(std::string ip, std::string port) { return arr({s(std::move(ip)), s(std::move(port))}); }
Reply sentinel_entry(std::string ip, std::string port) {
  return arr(
      {s("name"), s("abc"), s("ip"), s(std::move(ip)), s("port"), s(std::move(port)), s("flags"), s("sentinel")});
}
const HostPort a{"10.0.0.1", 26379}, b{"10.0.0.2", 26379}, c{"10.0.0.3", 26379};
}  // namespace

TEST(SentinelResolver, AsksInOrderUntilOneNamesTheMaster) {
  SentinelResolver r({a, b, c}, "mymaster");
  r.begin_round();
  ASSERT_EQ(r.next_sentinel(), a);
  r.on_failure("connection refused");
  ASSERT_EQ(r.next_sentinel(), b);
  auto m = r.on_replies({addr("10.0.1.5", "6380"), arr({sentinel_entry("10.0.0.1", "26379")})});
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, (HostPort{"10.0.1.5", 6380}));
  EXPECT_FALSE(r.next_sentinel()) << "the round is over";
  EXPECT_EQ(r.failure(), SentinelResolver::Failure::none);
  // The one that answered goes first next time.
  ASSERT_EQ(r.sentinels().size(), 3u);
  EXPECT_EQ(r.sentinels()[0], b);
  r.begin_round();
  EXPECT_EQ(r.next_sentinel(), b);
}

TEST(SentinelResolver, RequestCarriesTheSentinelCredentialsOnly) {
  SentinelResolver plain({a}, "m");
  EXPECT_EQ(plain.request().size(), 2u);
  EXPECT_NE(plain.request().payload().find("get-master-addr-by-name"), std::string::npos);
  SentinelResolver authed({a}, "m", "watcher", "spw");
  EXPECT_EQ(authed.request().size(), 3u);
  EXPECT_TRUE(authed.request().payload().starts_with("*3\r\n$4\r\nAUTH\r\n")) << "AUTH user password first";
  EXPECT_NE(authed.request().payload().find("watcher"), std::string::npos);
}

TEST(SentinelResolver, LearnsOtherSentinelsButKeepsTheConfiguredOnes) {
  SentinelResolver r({a}, "m");
  r.begin_round();
  r.next_sentinel();
  auto m = r.on_replies(
      {addr("10.0.1.5", "6380"),
       arr({sentinel_entry("10.0.0.2", "26379"), sentinel_entry("10.0.0.3", "26379"),
            sentinel_entry("10.0.0.2", "26379"), sentinel_entry("", "1"), sentinel_entry("10.0.0.9", "99999")})});
  ASSERT_TRUE(m);
  ASSERT_EQ(r.sentinels().size(), 3u) << "duplicates and malformed entries skipped";
  EXPECT_EQ(r.sentinels()[0], a);
  EXPECT_EQ(r.sentinels()[1], b);
  EXPECT_EQ(r.sentinels()[2], c);
  // Never more than max_sentinels.
  Reply many = arr({});
  for (int i = 0; i < 40; ++i) many.elements.push_back(sentinel_entry("10.9.0." + std::to_string(i), "26379"));
  r.begin_round();
  r.next_sentinel();
  ASSERT_TRUE(r.on_replies({addr("10.0.1.5", "6380"), many}));
  EXPECT_EQ(r.sentinels().size(), SentinelResolver::max_sentinels);
}

TEST(SentinelResolver, TellsUnreachableFromUnknownMaster) {
  SentinelResolver down({a, b}, "m");
  down.begin_round();
  down.next_sentinel();
  down.on_failure("connection refused");
  EXPECT_EQ(down.failure(), SentinelResolver::Failure::none) << "not over while b is left";
  down.next_sentinel();
  down.on_failure("no answer within 500 ms");
  EXPECT_FALSE(down.next_sentinel());
  EXPECT_EQ(down.failure(), SentinelResolver::Failure::unreachable);
  EXPECT_NE(down.failure_message().find("no sentinel reachable"), std::string::npos);
  EXPECT_NE(down.failure_message().find("10.0.0.2:26379: no answer"), std::string::npos) << down.failure_message();

  SentinelResolver unknown({a, b}, "nosuch");
  unknown.begin_round();
  unknown.next_sentinel();
  unknown.on_failure("connection refused");
  unknown.next_sentinel();
  EXPECT_FALSE(unknown.on_replies({Reply::make_nil(), arr({})}));
  EXPECT_EQ(unknown.failure(), SentinelResolver::Failure::unknown_master);
  EXPECT_NE(unknown.failure_message().find("do not know master 'nosuch'"), std::string::npos);

  SentinelResolver refused({a}, "m", "", "wrong");
  refused.begin_round();
  refused.next_sentinel();
  EXPECT_FALSE(refused.on_replies(
      {Reply::make_error("WRONGPASS invalid"), Reply::make_error("NOAUTH x"), Reply::make_error("NOAUTH x")}));
  EXPECT_EQ(refused.failure(), SentinelResolver::Failure::refused_auth);
  EXPECT_EQ(refused.failure_message().find("wrong"), std::string::npos) << "never the password";
}

TEST(SentinelResolver, MalformedAddressesAreNotMasters) {
  for (Reply bad : {addr("10.0.1.5", "0"), addr("10.0.1.5", "x"), addr("", "6379"), arr({s("only-one")}),
                    Reply::make_integer(3), Reply::make_error("ERR unknown command")}) {
    SentinelResolver r({a}, "m");
    r.begin_round();
    r.next_sentinel();
    EXPECT_FALSE(r.on_replies({bad, arr({})}));
    EXPECT_EQ(r.failure(), SentinelResolver::Failure::unreachable);
  }
  SentinelResolver r({a}, "m");
  r.begin_round();
  r.next_sentinel();
  EXPECT_FALSE(r.on_replies({addr("10.0.1.5", "6380")})) << "a reply of the wrong length";
}
