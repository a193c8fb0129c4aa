// Hardening (issue 11) over real HTTP against a real Redis: the defects a hostile review and
// black-box probes found, each test named after its item (docs/security.md maps them).
#include "support/test_server.hpp"

#include <gtest/gtest.h>

using namespace latchkey;
using namespace latchkey::test;

namespace {
class HardeningTest : public ::testing::Test {
 protected:
  void SetUp() override { srv = std::make_unique<TestServer>(rs); }
  RedisServer rs;
  std::unique_ptr<TestServer> srv;
};
}  // namespace

// 17: {"user_id":"alice","user_id":"mallory"} once created mallory's session.
TEST_F(HardeningTest, Hardening17DuplicateMemberNamesInBodiesAreRefused) {
  const std::string before = rs.dump_all();
  for (const auto& [path, body] : std::vector<std::pair<std::string, std::string>>{
           {"/v1/sessions", R"({"user_id":"alice","user_id":"mallory"})"},
           {"/v1/sessions", R"({"user_id":"alice","data":{"role":"user","role":"admin"}})"},
           {"/v1/tokens", R"({"user_id":"alice","user_id":"mallory"})"},
           {"/v1/logins/failure", R"({"user_id":"alice","ip":"192.0.2.1","ip":"192.0.2.2"})"},
           {"/v1/ratelimit/check", R"({"key":"a","key":"b","limit":1,"window":60,"algorithm":"gcra"})"}}) {
    auto r = srv->post(path, body);
    EXPECT_EQ(r.status, 400) << path << " " << body << " -> " << r.body;
    EXPECT_EQ(error_code(r), "invalid_request");
    EXPECT_NE(r.body.find("repeated"), std::string::npos) << r.body;
  }
  EXPECT_EQ(rs.dump_all(), before) << "nothing changed";
  EXPECT_EQ(srv->post("/v1/sessions", R"({"user_id":"alice","data":{"a":{"x":1},"b":{"x":2}}})").status, 201);
}
