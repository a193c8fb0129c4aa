// The session scripts' reply decoders, fed reply values: each outcome of each script's
// contract (lua/session_*.lua headers), error replies, and replies of the wrong shape.
#include "engine/sessions/replies.hpp"

#include "support/reply_values.hpp"

#include <gtest/gtest.h>

using namespace latchkey;
using namespace latchkey::sessions;
using redis::Reply;

using namespace latchkey::test::replies;

TEST(SessionReplies, Create) {
  auto c = replies::create(arr({s("ok"), i(100), i(1900), i(43300), s("old1"), s("old2")}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->times.created_at, 100);
  EXPECT_EQ(c->times.last_seen_at, 100);
  EXPECT_EQ(c->times.idle_expires_at, 1900);
  EXPECT_EQ(c->times.expires_at, 43300);
  EXPECT_EQ(c->times.version, 1);
  EXPECT_EQ(c->evicted, (std::vector<std::string>{"old1", "old2"}));
  EXPECT_EQ(code(replies::create(arr({s("limit")})).error()), errc::session_limit_reached);
  EXPECT_EQ(code(replies::create(Reply::make_error("OOM command not allowed")).error()), errc::redis_error);
  EXPECT_EQ(code(replies::create(arr({s("ok"), i(1)})).error()), errc::internal);
  EXPECT_EQ(code(replies::create(Reply::make_nil()).error()), errc::internal);
}

TEST(SessionReplies, Validate) {
  auto v = replies::validate(arr({s("sid"), s("alice"), i(1), i(2), i(3), i(4), i(7), s("D"), s("M")}));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->session_id, "sid");
  EXPECT_EQ(v->user_id, "alice");
  EXPECT_EQ(v->times.last_seen_at, 2);
  EXPECT_EQ(v->times.expires_at, 4);
  EXPECT_EQ(v->times.version, 7);
  EXPECT_EQ(v->sealed_data, "D");
  EXPECT_EQ(v->sealed_meta, "M");
  EXPECT_EQ(code(replies::validate(Reply::make_nil()).error()), errc::invalid_session);  // Lua false
  EXPECT_EQ(code(replies::validate(Reply::make_error("READONLY You can't write")).error()), errc::redis_error);
  EXPECT_EQ(code(replies::validate(arr({s("sid"), s("alice")})).error()), errc::internal);
  EXPECT_EQ(code(replies::validate(s("sid")).error()), errc::internal);
}

// TIME, HMGET uid ct ls it ae v d m uh fw, EXPIRE: answered here only when the script would
// answer the same without writing anything else.
TEST(SessionReplies, ThePipelineAnswersOnlyWhatTheScriptWouldAnswerUnchanged) {
  const Reply nil = Reply::make_nil();
  // now 1000; created 900, last seen 990, idle 1800, absolute deadline 10000, version 3.
  auto fields = [&](std::string ls = "990", std::string it = "1800", std::string ae = "10000", Reply fw = Reply()) {
    return arr({s("alice"), s("900"), s(ls), s(it), s(ae), s("3"), s("D"), s("M"), s("uh"), fw});
  };
  auto pipeline = [&](Reply f, Reply expire = i(1), Reply time = arr({s("1000"), s("123456")})) {
    redis::Replies r;
    r.push_back(std::move(time));
    r.push_back(std::move(f));
    r.push_back(std::move(expire));
    return r;
  };
  auto answer = [&](redis::Replies r) { return replies::pipelined_validate(r, "sid", 1800, 60); };
  auto v = answer(pipeline(fields()));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->session_id, "sid");
  EXPECT_EQ(v->user_id, "alice");
  EXPECT_EQ(v->times.created_at, 900);
  EXPECT_EQ(v->times.last_seen_at, 990);
  EXPECT_EQ(v->times.idle_expires_at, 2800) << "now + idle, by Redis's clock";
  EXPECT_EQ(v->times.expires_at, 10000);
  EXPECT_EQ(v->times.version, 3);
  EXPECT_EQ(v->sealed_data, "D");
  EXPECT_EQ(v->sealed_meta, "M");

  EXPECT_FALSE(answer(pipeline(arr({nil, nil, nil, nil, nil, nil, nil, nil, nil, nil}), i(0)))) << "no such key";
  EXPECT_FALSE(answer(pipeline(fields("990", "1800", "10000", nil), i(0))));
  EXPECT_FALSE(answer(pipeline(arr({nil, nil, nil, nil, nil, nil, nil, nil, nil, s("successor")}))))
      << "left by a rotation: the script forwards and puts the TTL back";
  EXPECT_FALSE(answer(pipeline(fields("990", "1800", "10000", s("successor")))));
  EXPECT_FALSE(answer(pipeline(fields("940")))) << "last_seen_at due (60 s): the script rewrites it";
  EXPECT_TRUE(answer(pipeline(fields("941"))));
  EXPECT_FALSE(answer(pipeline(fields("990", "1800", "1000")))) << "past the absolute deadline";
  EXPECT_FALSE(answer(pipeline(fields("990", "1800", "2799")))) << "the slide must stop at the absolute deadline";
  EXPECT_TRUE(answer(pipeline(fields("990", "1800", "2800"))));
  EXPECT_FALSE(answer(pipeline(fields("990", "900")))) << "the token's idle timeout is not the stored one";
  EXPECT_FALSE(answer(pipeline(fields("990", "18x0"))));
  EXPECT_FALSE(answer(pipeline(fields("990", "1800", "")))) << "not a number";
  EXPECT_FALSE(answer(pipeline(fields(), Reply::make_error("READONLY You can't write")))) << "the script reports it";
  EXPECT_FALSE(answer(pipeline(Reply::make_error("OOM x"))));
  EXPECT_FALSE(answer(pipeline(fields(), i(1), Reply::make_error("ERR x"))));
  EXPECT_FALSE(answer(pipeline(fields(), i(1), arr({s("10x0"), s("0")}))));
  redis::Replies short_pipeline = pipeline(fields());
  short_pipeline.pop_back();
  EXPECT_FALSE(answer(short_pipeline));
  // An idle check with the touch interval's slack, as the script's: past it is expired (the
  // script deletes), which the pipeline never answers either.
  {
    auto idle5 = pipeline(fields("934", "5"));
    EXPECT_FALSE(replies::pipelined_validate(idle5, "sid", 5, 60)) << "1000 > 934 + 5 + 60";
  }
}

TEST(SessionReplies, UpdateARetiredTokenNeverWrites) {
  auto u = replies::update(arr({s("ok"), i(1), i(2), i(3), i(4), i(5), s("alice"), s("M")}));
  ASSERT_TRUE(u);
  EXPECT_EQ(u->times.version, 5);
  EXPECT_EQ(u->user_id, "alice");
  EXPECT_EQ(u->sealed_meta, "M");
  EXPECT_EQ(code(replies::update(arr({s("conflict"), i(6)})).error()), errc::version_conflict);
  EXPECT_EQ(code(replies::update(arr({s("rotated"), s("successor")})).error()), errc::invalid_session);
  EXPECT_EQ(code(replies::update(arr({s("gone")})).error()), errc::invalid_session);
  EXPECT_EQ(code(replies::update(arr({s("moved"), s("successor")})).error()), errc::internal);  // the old name is gone
  EXPECT_EQ(code(replies::update(arr({s("ok"), i(1)})).error()), errc::internal);
}

TEST(SessionReplies, RotateConflictAsksForAnotherRead) {
  auto r = replies::rotate(arr({s("ok"), i(1), i(2), i(3), i(4), i(9), s("alice")}));
  ASSERT_TRUE(r);
  ASSERT_TRUE(*r);
  EXPECT_EQ((*r)->version, 9);
  auto again = replies::rotate(arr({s("conflict")}));
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  EXPECT_EQ(code(replies::rotate(arr({s("rotated"), s("x")})).error()), errc::invalid_session);
  EXPECT_EQ(code(replies::rotate(arr({s("gone")})).error()), errc::invalid_session);
  EXPECT_EQ(code(replies::rotate(arr({})).error()), errc::internal);
}

TEST(SessionReplies, ListDestroyAndDestroyUser) {
  auto l = replies::list(arr({s("a"), i(1), i(2), i(3), i(4), s("M1"), s("b"), i(5), i(6), i(7), i(8), s("")}));
  ASSERT_TRUE(l);
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[1].session_id, "b");
  EXPECT_EQ((*l)[1].times.expires_at, 8);
  EXPECT_EQ((*l)[0].sealed_meta, "M1");
  EXPECT_TRUE(replies::list(arr({}))->empty());
  EXPECT_EQ(code(replies::list(arr({s("a"), i(1)})).error()), errc::internal);
  EXPECT_EQ(*replies::destroy(i(1)), 1);
  EXPECT_EQ(*replies::destroy_user(i(3)), 3);
  EXPECT_EQ(code(replies::destroy(Reply::make_error("ERR")).error()), errc::redis_error);
  EXPECT_EQ(code(replies::destroy_user(s("3")).error()), errc::internal);
}
