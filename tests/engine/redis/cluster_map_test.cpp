// The pure part of the Redis Cluster client (cluster_map.hpp): the slot map from CLUSTER
// SLOTS, redirects, the router's decision on scripted replies, RESP surgery; and the per
// command slots a Request keeps for the router.
#include "engine/redis/cluster_map.hpp"

#include "latchkey/redis/request.hpp"
#include "latchkey/redis/slot.hpp"

#include <gtest/gtest.h>

using namespace latchkey::redis;

namespace {
Reply arr(std::vector<Reply> e) {
  Reply r;
  r.type = Reply::kind::array;
  r.elements = std::move(e);
  return r;
}
Reply range(std::int64_t first, std::int64_t last, std::string host, std::int64_t port) {
  return arr({Reply::make_integer(first), Reply::make_integer(last),
              arr({Reply::make_string(std::move(host)), Reply::make_integer(port), Reply::make_string("id")}),
              arr({Reply::make_string("10.0.0.9"), Reply::make_integer(7005), Reply::make_string("replica")})});
}
const HostPort asked{"10.0.0.1", 7000};
}  // namespace

TEST(ClusterMap, FromClusterSlots) {
  std::string why;
  auto m = SlotMap::from_cluster_slots(
      arr({range(0, 5460, "10.0.0.1", 7000), range(5461, 10922, "", 7001), range(10923, 16383, "10.0.0.3", 7002)}),
      asked, why);
  ASSERT_TRUE(m) << why;
  EXPECT_TRUE(m->complete());
  EXPECT_EQ(m->masters().size(), 3u);
  EXPECT_EQ(*m->master_of(0), (HostPort{"10.0.0.1", 7000}));
  EXPECT_EQ(*m->master_of(5461), (HostPort{"10.0.0.1", 7001})) << "an empty host is the node asked";
  EXPECT_EQ(*m->master_of(16383), (HostPort{"10.0.0.3", 7002}));
  EXPECT_EQ(m->master_of(16384), nullptr);
  // A MOVED patch: one slot, the others unchanged.
  m->assign(42, HostPort{"10.0.0.3", 7002});
  EXPECT_EQ(*m->master_of(42), (HostPort{"10.0.0.3", 7002}));
  EXPECT_EQ(*m->master_of(41), (HostPort{"10.0.0.1", 7000}));
  EXPECT_EQ(m->masters().size(), 3u);
  // Every slot of a node moved away by MOVED patches: it is no longer a master of the map.
  for (std::uint16_t s = 0; s < 16384; ++s)
    if (*m->master_of(s) == HostPort{"10.0.0.1", 7000}) m->assign(s, HostPort{"10.0.0.3", 7002});
  EXPECT_EQ(m->masters().size(), 2u);
  EXPECT_TRUE(m->complete());
}

TEST(ClusterMap, GapsAndUnknownEndpointsLeaveSlotsUnserved) {
  std::string why;
  auto m = SlotMap::from_cluster_slots(arr({range(0, 99, "10.0.0.1", 7000), range(100, 199, "?", 7001)}), asked, why);
  ASSERT_TRUE(m) << why;
  EXPECT_FALSE(m->complete());
  EXPECT_EQ(m->served(), 100u);
  EXPECT_EQ(m->master_of(150), nullptr);
  EXPECT_EQ(m->master_of(5000), nullptr);
}

TEST(ClusterMap, MalformedRepliesAreRefused) {
  std::string why;
  EXPECT_FALSE(
      SlotMap::from_cluster_slots(Reply::make_error("ERR This instance has cluster support disabled"), asked, why));
  EXPECT_NE(why.find("cluster support disabled"), std::string::npos) << why;
  for (const Reply& bad :
       {Reply::make_string("x"), arr({Reply::make_integer(1)}), arr({range(10, 5, "h", 1)}),
        arr({range(0, 16384, "h", 1)}), arr({range(0, 1, "h", 0)}), arr({range(-1, 1, "h", 1)}),
        arr({arr({Reply::make_integer(0), Reply::make_integer(1), Reply::make_string("not an array")})})})
    EXPECT_FALSE(SlotMap::from_cluster_slots(bad, asked, why));
}

TEST(ClusterMap, Redirects) {
  auto m = parse_redirect(Reply::make_error("MOVED 3999 127.0.0.1:6381"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, Redirect::Kind::moved);
  EXPECT_EQ(m->slot, 3999);
  EXPECT_EQ(m->to, (HostPort{"127.0.0.1", 6381}));
  auto a = parse_redirect(Reply::make_error("ASK 12 [::1]:7000"));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, Redirect::Kind::ask);
  EXPECT_EQ(a->to, (HostPort{"::1", 7000}));
  auto v6 = parse_redirect(Reply::make_error("MOVED 1 fe80::1:7000"));
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->to, (HostPort{"fe80::1", 7000}));
  for (const char* bad : {"MOVED", "MOVED 3999", "MOVED x 1.2.3.4:1", "MOVED 16384 h:1", "MOVED 1 h:0", "MOVED 1 h",
                          "MOVED 1 :7000", "ASK 1 h:99999", "MOVEDX 1 h:1", "ERR MOVED 1 h:1"})
    EXPECT_FALSE(parse_redirect(Reply::make_error(bad))) << bad;
  EXPECT_FALSE(parse_redirect(Reply::make_string("MOVED 1 h:1"))) << "only an error reply redirects";
}

TEST(ClusterMap, DecideOnScriptedReplies) {
  using K = ClusterStep::Kind;
  auto e = [](const char* s) { return Reply::make_error(s); };
  EXPECT_EQ(decide({Reply::make_integer(1), e("WRONGTYPE x"), e("NOSCRIPT y")}).kind, K::done);
  auto f = decide({e("MOVED 7 10.0.0.2:7001"), e("MOVED 7 10.0.0.2:7001")});
  EXPECT_EQ(f.kind, K::follow);
  ASSERT_TRUE(f.redirect);
  EXPECT_EQ(f.redirect->to, (HostPort{"10.0.0.2", 7001}));
  EXPECT_EQ(decide({e("ASK 7 10.0.0.2:7001")}).redirect->kind, Redirect::Kind::ask);
  EXPECT_EQ(decide({e("TRYAGAIN Multiple keys request during rehashing of slot")}).kind, K::retry_later);
  EXPECT_EQ(decide({e("CLUSTERDOWN The cluster is down")}).kind, K::retry_later);
  EXPECT_EQ(decide({e("LOADING Redis is loading the dataset in memory")}).kind, K::retry_later);
  EXPECT_EQ(decide({e("READONLY You can't write against a read only replica.")}).kind, K::refresh);
  // Some commands ran, some were redirected: never resent as a whole.
  EXPECT_EQ(decide({Reply::make_integer(1), e("MOVED 7 10.0.0.2:7001")}).kind, K::unavailable);
  EXPECT_EQ(decide({Reply::make_integer(1), e("TRYAGAIN x")}).kind, K::unavailable);
  // A keyless command's answer (TIME beside a key's commands) says nothing about where the
  // request belongs: the keyed ones decide, and resending repeats only a harmless TIME.
  const Reply time = Reply::make_string("1000");
  EXPECT_EQ(decide({time, e("ASK 7 10.0.0.2:7001"), e("ASK 7 10.0.0.2:7001")}, nullptr, 0b001).kind, K::follow);
  EXPECT_EQ(decide({time, e("ASK 7 10.0.0.2:7001"), e("ASK 7 10.0.0.2:7001")}, nullptr, 0).kind, K::unavailable);
  EXPECT_EQ(decide({time, Reply::make_integer(1), e("ASK 7 10.0.0.2:7001")}, nullptr, 0b001).kind, K::unavailable);
  EXPECT_EQ(decide({time, e("TRYAGAIN x")}, nullptr, 0b01).kind, K::retry_later);
  EXPECT_EQ(decide({time, Reply::make_integer(1)}, nullptr, 0b01).kind, K::done);
  EXPECT_EQ(decide({e("LOADING x")}, nullptr, 0b1).kind, K::retry_later) << "only keyless commands: they decide";
  {
    Request req;
    req.push({"TIME"});
    req.begin(2).arg("HMGET").key("a");
    req.begin(3).arg("EXPIRE").key("a").arg("5");
    req.push({"WAIT", "1", "0"});
    EXPECT_TRUE(req.keyless(0));
    EXPECT_FALSE(req.keyless(1));
    EXPECT_FALSE(req.keyless(2));
    EXPECT_TRUE(req.keyless(3));
    EXPECT_EQ(req.keyless_mask(), 0b1001u);
    EXPECT_EQ(Request::from_payload(req.payload(), 4, 0b1001).keyless_mask(), 0b1001u);
  }
  // Redirected to two places (mid-migration): wait for the map to settle.
  EXPECT_EQ(decide({e("MOVED 7 10.0.0.2:7001"), e("ASK 7 10.0.0.3:7002")}).kind, K::retry_later);
  // A malformed MOVED is no address to follow, but it still says nothing ran: ask for the map.
  EXPECT_EQ(decide({e("MOVED nonsense")}).kind, K::refresh);
  // A node that redirects to itself: following would loop until the cap; wait for the map.
  const HostPort self{"10.0.0.2", 7001}, other{"10.0.0.3", 7002};
  EXPECT_EQ(decide({e("MOVED 7 10.0.0.2:7001")}, &self).kind, K::refresh);
  EXPECT_EQ(decide({e("ASK 7 10.0.0.2:7001")}, &self).kind, K::refresh);
  EXPECT_EQ(decide({e("MOVED 7 10.0.0.2:7001")}, &other).kind, K::follow);
}

TEST(ClusterMap, SplitCommandsAndAsking) {
  Request r;
  r.push({"GET", "a"}).push({"SET", "b", std::string_view("x\r\ny", 4)});
  auto cmds = split_commands(r.payload());
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_EQ(cmds[0], "*2\r\n$3\r\nGET\r\n$1\r\na\r\n");
  EXPECT_EQ(std::string(cmds[0]) + std::string(cmds[1]), r.payload());
  EXPECT_EQ(with_asking(r.payload()),
            "*1\r\n$6\r\nASKING\r\n" + std::string(cmds[0]) + "*1\r\n$6\r\nASKING\r\n" + std::string(cmds[1]));
  for (const char* bad : {"*1\r\n$3\r\nGE", "*1\r\n$99\r\nGET\r\n", "+OK\r\n", "*0\r\n", "*1\r\n$3\r\nGETxx"})
    EXPECT_TRUE(split_commands(bad).empty()) << bad;
  EXPECT_TRUE(split_commands("").empty());
}

TEST(ClusterMap, RequestsKeepEachCommandsSlot) {
  Request one;
  one.begin(2).arg("GET").key("{u1}a");
  one.begin(1).arg("TIME");
  one.begin(2).arg("GET").key("{u1}b");
  EXPECT_FALSE(one.spans_slots());
  EXPECT_EQ(one.command_slot(1), key_slot("u1")) << "a keyless command goes with the rest";

  Request two;
  two.begin(1).arg("TIME");
  two.begin(2).arg("GET").key("{u1}a");
  two.begin(2).arg("EXISTS").key("{u2}b");
  two.begin(1).arg("PING");
  EXPECT_TRUE(two.spans_slots());
  EXPECT_FALSE(two.command_spans_slots());
  EXPECT_EQ(two.command_slot(0), key_slot("u1"));
  EXPECT_EQ(two.command_slot(1), key_slot("u1"));
  EXPECT_EQ(two.command_slot(2), key_slot("u2"));
  EXPECT_EQ(two.command_slot(3), std::nullopt);

  Request cross;
  cross.begin(3).arg("MGET").key("{u1}a").key("{u2}b");
  EXPECT_TRUE(cross.command_spans_slots());

  Request wait;
  wait.begin(3).arg("WAIT").arg("1").arg("100").route_by_slot(1234);
  EXPECT_EQ(wait.slot(), 1234);
}
