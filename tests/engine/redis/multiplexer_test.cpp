// The pipelining multiplexer without sockets: coalesced writes, in-order matching,
// multi-command requests, the oldest pending stamp, failure of everything pending.
#include "latchkey/redis/multiplexer.hpp"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

using namespace latchkey;
using namespace latchkey::redis;

namespace {
struct Outcome {
  bool called = false;
  int calls = 0;
  boost::system::error_code ec;
  Replies replies;
};
Completion capture(Outcome& o) {
  return [&o](boost::system::error_code ec, Replies r) {
    o.called = true;
    ++o.calls;
    o.ec = ec;
    o.replies = std::move(r);
  };
}
}  // namespace

TEST(Multiplexer, CoalescesWritesAndMatchesRepliesInOrder) {
  Multiplexer m;
  Outcome a, b, c;
  m.add(Request{"GET", "a"}, capture(a));
  m.add(Request{"GET", "b"}, capture(b));
  std::string wire = m.take_writes();
  EXPECT_EQ(wire, (Request{"GET", "a"}.payload() + Request{"GET", "b"}.payload()));
  EXPECT_FALSE(m.has_unwritten());
  m.add(Request{"GET", "c"}, capture(c));
  EXPECT_TRUE(m.has_unwritten());
  EXPECT_EQ(m.take_writes(), (Request{"GET", "c"}.payload()));

  ASSERT_TRUE(m.on_reply(Reply::make_string("A")));
  EXPECT_TRUE(a.called);
  EXPECT_FALSE(b.called);
  ASSERT_TRUE(m.on_reply(Reply::make_error("ERR wrong type")));
  ASSERT_TRUE(m.on_reply(Reply::make_string("C")));
  EXPECT_EQ(a.replies[0].str, "A");
  EXPECT_TRUE(b.replies[0].is_error());  // an error reply is a value, not a failure
  EXPECT_FALSE(b.ec);
  EXPECT_EQ(c.replies[0].str, "C");
  EXPECT_EQ(m.pending(), 0u);
}

TEST(Multiplexer, MultiCommandRequestCompletesAfterAllItsReplies) {
  Multiplexer m;
  Outcome p, q;
  Request pipeline;
  pipeline.push({"SET", "k", "v"}).push({"GET", "k"}).push({"DEL", "k"});
  m.add(pipeline, capture(p));
  m.add(Request{"PING"}, capture(q));
  (void)m.take_writes();
  ASSERT_TRUE(m.on_reply(Reply::make_status("OK")));
  ASSERT_TRUE(m.on_reply(Reply::make_string("v")));
  EXPECT_FALSE(p.called);
  ASSERT_TRUE(m.on_reply(Reply::make_integer(1)));
  ASSERT_TRUE(p.called);
  ASSERT_EQ(p.replies.size(), 3u);
  EXPECT_EQ(p.replies[2].integer, 1);
  EXPECT_FALSE(q.called);
  ASSERT_TRUE(m.on_reply(Reply::make_status("PONG")));
  EXPECT_TRUE(q.called);
}

TEST(Multiplexer, ReportsTheOldestPendingStamp) {
  Multiplexer m;
  EXPECT_FALSE(m.oldest_stamp());
  Outcome a, b;
  m.add(Request{"GET", "a"}, capture(a), 100);
  m.add(Request{"GET", "b"}, capture(b), 250);
  EXPECT_EQ(m.oldest_stamp(), 100u);
  (void)m.take_writes();
  ASSERT_TRUE(m.on_reply(Reply::make_string("a")));
  EXPECT_EQ(m.oldest_stamp(), 250u);
  ASSERT_TRUE(m.on_reply(Reply::make_string("b")));
  EXPECT_FALSE(m.oldest_stamp());
}

TEST(Multiplexer, ReplyWithoutRequestIsRejected) {
  Multiplexer m;
  EXPECT_FALSE(m.on_reply(Reply::make_status("OK")));
  Outcome a;
  m.add(Request{"PING"}, capture(a));
  EXPECT_FALSE(m.on_reply(Reply::make_status("PONG")));  // not written yet
}

TEST(Multiplexer, FailAllCompletesEveryEntryOnce) {
  Multiplexer m;
  Outcome a, b, c;
  m.add(Request{"GET", "a"}, capture(a));
  m.add(Request{"GET", "b"}, capture(b));
  (void)m.take_writes();
  m.add(Request{"GET", "c"}, capture(c));
  m.fail_all(make_error_code(errc::unavailable));
  for (auto* o : {&a, &b, &c}) {
    EXPECT_EQ(o->calls, 1);
    EXPECT_EQ(o->ec, make_error_code(errc::unavailable));
  }
  EXPECT_EQ(m.pending(), 0u);
  EXPECT_FALSE(m.has_unwritten());
  m.fail_all(make_error_code(errc::unavailable));
  EXPECT_EQ(a.calls, 1);
}

// Our RESP encoder writes exactly what hiredis's redisFormatCommandArgv writes.
TEST(Request, EncodesLikeHiredis) {
  std::vector<std::vector<std::string>> commands{
      {"PING"},
      {"SET", "key", "value", "EX", "60"},
      {"EVALSHA", std::string(40, 'a'), "2", "k1", "k2", "", std::string("bin\0ary\r\n", 9)},
      {"HSET", "k", "f", std::string(100000, 'x')}};
  for (const auto& cmd : commands) {
    Request ours;
    ours.push(cmd);
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : cmd) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    char* theirs = nullptr;
    int n = redisFormatCommandArgv(&theirs, static_cast<int>(cmd.size()), argv.data(), lens.data());
    ASSERT_GT(n, 0);
    EXPECT_EQ(ours.payload(), std::string(theirs, static_cast<std::size_t>(n))) << cmd[0];
    redisFreeCommand(theirs);
  }
  Request incremental;
  incremental.begin(2).arg("GET").arg("a");
  EXPECT_EQ(incremental.payload(), "*2\r\n$3\r\nGET\r\n$1\r\na\r\n");
  EXPECT_EQ(incremental.size(), 1u);
}
