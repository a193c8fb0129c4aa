// redis:// URL parsing.
#include "latchkey/redis/url.hpp"

#include <gtest/gtest.h>

using namespace latchkey::redis;

TEST(RedisUrl, Defaults) {
  auto ep = parse_url("redis://localhost");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->host, "localhost");
  EXPECT_EQ(ep->port, 6379);
  EXPECT_EQ(ep->db, 0);
  EXPECT_TRUE(ep->password.empty());
}

TEST(RedisUrl, FullForm) {
  auto ep = parse_url("redis://app:p%40ss%3Aw@10.0.0.5:6380/3");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->user, "app");
  EXPECT_EQ(ep->password, "p@ss:w");
  EXPECT_EQ(ep->host, "10.0.0.5");
  EXPECT_EQ(ep->port, 6380);
  EXPECT_EQ(ep->db, 3);
  EXPECT_EQ(ep->describe(), "10.0.0.5:6380/3");  // never the credentials
}

TEST(RedisUrl, PasswordOnlyAndIpv6) {
  auto a = parse_url("redis://:secret@h:1/0");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->user, "");
  EXPECT_EQ(a->password, "secret");
  auto legacy = parse_url("redis://secret@h:1/0");  // no colon: a password (docs/redis.md)
  ASSERT_TRUE(legacy);
  EXPECT_EQ(legacy->user, "");
  EXPECT_EQ(legacy->password, "secret");
  auto b = parse_url("redis://[::1]:6400");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 6400);
}

TEST(RedisUrl, Rejects) {
  std::string why;
  for (const char* bad : {"http://h", "rediss://h", "redis://", "redis://h:0", "redis://h:70000", "redis://h:x",
                          "redis://h/-1", "redis://h/a", "redis://h/1?x=y", "redis://u:%zz@h", "redis://[::1"}) {
    EXPECT_FALSE(parse_url(bad, &why)) << bad;
    EXPECT_FALSE(why.empty());
  }
}
