// RESP2 bytes -> typed replies, including split input and malformed streams.
#include "latchkey/redis/resp_reader.hpp"

#include <gtest/gtest.h>

using namespace latchkey;
using namespace latchkey::redis;

namespace {
Reply next_reply(RespReader& r) {
  auto out = r.next();
  EXPECT_TRUE(out);
  EXPECT_TRUE(*out);
  return out && *out ? **out : Reply{};
}
}  // namespace

TEST(RespReader, DecodesEveryType) {
  RespReader r;
  r.feed(
      "+OK\r\n-NOSCRIPT No matching script\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n$1\r\na\r\n:-7\r\n*-1\r\n$0\r\n\r\n");
  auto ok = next_reply(r);
  EXPECT_EQ(ok.type, Reply::kind::status);
  EXPECT_EQ(ok.str, "OK");
  auto err = next_reply(r);
  EXPECT_TRUE(err.is_error());
  EXPECT_EQ(err.error_code(), "NOSCRIPT");
  auto i = next_reply(r);
  EXPECT_TRUE(i.is_integer());
  EXPECT_EQ(i.integer, 42);
  auto s = next_reply(r);
  EXPECT_EQ(s.type, Reply::kind::string);
  EXPECT_EQ(s.str, "hello");
  EXPECT_TRUE(next_reply(r).is_nil());
  auto a = next_reply(r);
  ASSERT_TRUE(a.is_array());
  ASSERT_EQ(a.elements.size(), 2u);
  EXPECT_EQ(a.elements[0].str, "a");
  EXPECT_EQ(a.elements[1].integer, -7);
  EXPECT_TRUE(next_reply(r).is_nil());
  auto empty = next_reply(r);
  EXPECT_EQ(empty.type, Reply::kind::string);
  EXPECT_EQ(empty.str, "");
  auto none = r.next();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST(RespReader, BinarySafeBulkStrings) {
  RespReader r;
  std::string payload("a\0b\r\nc", 6);
  r.feed("$6\r\n" + payload + "\r\n");
  EXPECT_EQ(next_reply(r).str, payload);
}

TEST(RespReader, AssemblesRepliesSplitAtEveryByte) {
  const std::string wire = "*3\r\n$3\r\nfoo\r\n:1\r\n*1\r\n+x\r\n";
  RespReader r;
  for (std::size_t i = 0; i < wire.size(); ++i) {
    r.feed(wire.substr(i, 1));
    auto out = r.next();
    ASSERT_TRUE(out);
    if (i + 1 < wire.size()) {
      EXPECT_FALSE(*out) << "complete too early at byte " << i;
    } else {
      ASSERT_TRUE(*out);
      EXPECT_EQ((*out)->elements.size(), 3u);
      EXPECT_EQ((*out)->elements[2].elements[0].str, "x");
    }
  }
}

TEST(RespReader, MalformedStreamIsAProtocolError) {
  RespReader r;
  r.feed("?what\r\n");
  auto out = r.next();
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error(), make_error_code(errc::protocol_error));
}

TEST(RespReader, ResetForgetsBufferedBytes) {
  RespReader r;
  r.feed("$10\r\nhal");
  r.reset();
  r.feed(":5\r\n");
  EXPECT_EQ(next_reply(r).integer, 5);
}

// Regression (found by fuzz/resp_reader_fuzz): an announced array size is capped before any
// allocation, instead of hiredis calloc'ing 8.9 GB for "*1111111111".
TEST(RespReader, HugeAnnouncedArrayIsAProtocolErrorNotAnAllocation) {
  RespReader r;
  r.feed("*1111111111\r\n$3\r\n:4");
  auto out = r.next();
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error(), make_error_code(errc::protocol_error));
  RespReader nested;
  nested.feed("*1\r\n*2000000\r\n");
  EXPECT_FALSE(nested.next());
}

TEST(RespReader, NestedArraysAndNilsInsideArrays) {
  RespReader r;
  r.feed("*3\r\n*2\r\n:1\r\n$-1\r\n*0\r\n-ERR x\r\n");
  auto out = r.next();
  ASSERT_TRUE(out && *out);
  const Reply& v = **out;
  ASSERT_EQ(v.elements.size(), 3u);
  EXPECT_EQ(v.elements[0].elements[0].integer, 1);
  EXPECT_TRUE(v.elements[0].elements[1].is_nil());
  EXPECT_TRUE(v.elements[1].is_array());
  EXPECT_TRUE(v.elements[1].elements.empty());
  EXPECT_EQ(v.elements[2].error_code(), "ERR");
}
