// Which error replies mean "did not run" (errors.hpp).
#include "engine/redis/errors.hpp"

#include <gtest/gtest.h>

using namespace latchkey::redis;

TEST(ReplyErrors, Classification) {
  EXPECT_EQ(classify(Reply::make_string("x")), ReplyClass::value);
  EXPECT_EQ(classify(Reply::make_error("WRONGTYPE Operation against a key")), ReplyClass::value);
  EXPECT_EQ(classify(Reply::make_error("ERR syntax error")), ReplyClass::value);
  EXPECT_EQ(classify(Reply::make_error("NOSCRIPT No matching script")), ReplyClass::missing_script);
  for (const char* e : {"LOADING Redis is loading", "BUSY Redis is busy running a script", "MASTERDOWN Link down",
                        "NOREPLICAS Not enough good replicas", "TRYAGAIN Multiple keys", "CLUSTERDOWN The cluster"})
    EXPECT_EQ(classify(Reply::make_error(e)), ReplyClass::not_run) << e;
  for (const char* e :
       {"READONLY You can't write against a read only replica.", "MOVED 3999 127.0.0.1:6381", "ASK 3999 127.0.0.1:6381",
        "ERR Error running script (call to f_x): @user_script:4: @user_script: 4: -READONLY You "
        "can't write against a read only replica."})
    EXPECT_EQ(classify(Reply::make_error(e)), ReplyClass::wrong_node) << e;
}

TEST(ReplyErrors, ABatchTakesItsWorstReply) {
  Replies ok{Reply::make_integer(1), Reply::make_error("ERR x")};
  EXPECT_EQ(classify(ok), ReplyClass::value);
  Replies mixed{Reply::make_integer(1), Reply::make_error("NOSCRIPT x"), Reply::make_error("LOADING y")};
  EXPECT_EQ(classify(mixed), ReplyClass::not_run);
  mixed.push_back(Reply::make_error("READONLY z"));
  EXPECT_EQ(classify(mixed), ReplyClass::wrong_node);
  EXPECT_EQ(classify(Replies{}), ReplyClass::value);
}
