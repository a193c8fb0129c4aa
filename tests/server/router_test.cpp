// The routing table: literal and parameter segments, 404 versus 405 with Allow.
#include "router.hpp"

#include <gtest/gtest.h>

using namespace latchkey::server;

namespace {
Handler none() {
  return [](RequestContext&) -> boost::asio::awaitable<HttpResponse> { co_return HttpResponse{}; };
}
}  // namespace

TEST(Router, MatchesLiteralAndParameterSegments) {
  Router r;
  r.add("GET", "/healthz", none());
  r.add("GET", "/v1/users/{user_id}/sessions", none());
  r.add("DELETE", "/v1/users/{user_id}/sessions/{session_id}", none());

  auto m = r.match("GET", "/v1/users/alice/sessions");
  ASSERT_EQ(m.result, RouteMatch::outcome::found);
  EXPECT_EQ(m.route->pattern, "/v1/users/{user_id}/sessions");
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0].second, "alice");

  auto d = r.match("DELETE", "/v1/users/bob/sessions/s1");
  ASSERT_EQ(d.result, RouteMatch::outcome::found);
  EXPECT_EQ(d.params[1].second, "s1");
}

TEST(Router, NotFoundAndMethodNotAllowed) {
  Router r;
  r.add("GET", "/healthz", none());
  r.add("POST", "/v1/x", none());
  r.add("DELETE", "/v1/x", none());
  EXPECT_EQ(r.match("GET", "/nope").result, RouteMatch::outcome::not_found);
  EXPECT_EQ(r.match("GET", "/healthz/").result, RouteMatch::outcome::not_found);
  EXPECT_EQ(r.match("GET", "/v1/users//sessions").result, RouteMatch::outcome::not_found);
  auto m = r.match("GET", "/v1/x");
  EXPECT_EQ(m.result, RouteMatch::outcome::method_not_allowed);
  EXPECT_EQ(m.allow, "POST, DELETE");
}

TEST(Router, EmptyParameterDoesNotMatch) {
  Router r;
  r.add("GET", "/v1/users/{user_id}/sessions", none());
  EXPECT_EQ(r.match("GET", "/v1/users//sessions").result, RouteMatch::outcome::not_found);
}
