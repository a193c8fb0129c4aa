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
  for (const char* bad : {"http://h", "rediss//h", "redis+sentinel://h:1", "redis+sentinel:///m",
                          "redis+sentinel://h:1,/m", "redis://a,b", "redis+sentinel://h:1/m/x",
                          "redis+sentinel://h:1/m?a=b", "redis://", "redis://h:0", "redis://h:70000", "redis://h:x",
                          "redis://h/-1", "redis://h/a", "redis://h/1?x=y", "redis://u:%zz@h", "redis://[::1"}) {
    EXPECT_FALSE(parse_url(bad, &why)) << bad;
    EXPECT_FALSE(why.empty());
  }
}

TEST(RedisUrl, TlsScheme) {
  auto t = parse_target("rediss://u:p@cache.example:6380/2");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->node.tls);
  EXPECT_FALSE(t->sentinel());
  EXPECT_EQ(t->node.host, "cache.example");
  EXPECT_EQ(t->node.port, 6380);
  EXPECT_EQ(t->node.db, 2);
  EXPECT_FALSE(parse_target("redis://h")->node.tls);
  EXPECT_TRUE(parse_url("rediss://h"));  // one node: parse_url takes it too
}

TEST(RedisUrl, SentinelForms) {
  auto t = parse_target("redis+sentinel://app:secret@s1:26380,[::1],s3/mymaster/4");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->sentinel());
  EXPECT_FALSE(t->node.tls);
  ASSERT_EQ(t->sentinels.size(), 3u);
  EXPECT_EQ(t->sentinels[0], (HostPort{"s1", 26380}));
  EXPECT_EQ(t->sentinels[1], (HostPort{"::1", 26379}));  // the Sentinel default port
  EXPECT_EQ(t->sentinels[2], (HostPort{"s3", 26379}));
  EXPECT_EQ(t->master_name, "mymaster");
  EXPECT_EQ(t->node.user, "app");  // the data nodes' credentials
  EXPECT_EQ(t->node.password, "secret");
  EXPECT_EQ(t->node.db, 4);
  EXPECT_EQ(t->describe(), "sentinel master 'mymaster' via s1:26380,[::1]:26379,s3:26379 /4");
  EXPECT_EQ(t->describe().find("secret"), std::string::npos);

  auto tls = parse_target("rediss+sentinel://h:1/m");
  ASSERT_TRUE(tls);
  EXPECT_TRUE(tls->node.tls);
  EXPECT_EQ(tls->node.db, 0);

  std::string why;
  EXPECT_FALSE(parse_target("redis+sentinel://h:1", &why));
  EXPECT_NE(why.find("name of the master"), std::string::npos) << why;
  EXPECT_FALSE(parse_target("redis://h:1?tls=true", &why));
  EXPECT_NE(why.find("query"), std::string::npos) << why;
  EXPECT_FALSE(parse_url("redis+sentinel://h:1/m", &why));  // a single node was asked for
}

TEST(RedisUrl, ClusterForms) {
  auto t = parse_target("redis+cluster://app:s%40cret@n1:7000,[::1],n3:7002");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->cluster());
  EXPECT_FALSE(t->sentinel());
  ASSERT_EQ(t->seeds.size(), 3u);
  EXPECT_EQ(t->seeds[0], (HostPort{"n1", 7000}));
  EXPECT_EQ(t->seeds[1], (HostPort{"::1", 6379}));
  EXPECT_EQ(t->node.user, "app");
  EXPECT_EQ(t->node.password, "s@cret");
  EXPECT_FALSE(t->node.tls);
  EXPECT_EQ(t->describe(), "cluster via n1:7000,[::1]:6379,n3:7002");
  EXPECT_EQ(t->describe().find("cret"), std::string::npos);
  auto tls = parse_target("rediss+cluster://n1:7000/0");
  ASSERT_TRUE(tls);
  EXPECT_TRUE(tls->node.tls);
  EXPECT_TRUE(tls->cluster());

  std::string why;
  EXPECT_FALSE(parse_target("redis+cluster://n1:7000/1", &why));
  EXPECT_NE(why.find("database 0 only"), std::string::npos) << why;
  for (const char* bad : {"redis+cluster://", "redis+cluster://n1:7000,", "redis+cluster://n1:x",
                          "redis+cluster://n1:7000/0?x=1", "redis+cluster://n1/m"})
    EXPECT_FALSE(parse_target(bad, &why)) << bad;
  EXPECT_FALSE(parse_url("redis+cluster://n1:7000", &why));  // a single node was asked for
  EXPECT_NE(why.find("Cluster"), std::string::npos) << why;
}
