// The routing table: literal and parameter segments, 404 versus 405 with Allow, listeners and
// access, and the production table's policy.
#include "server/router.hpp"
#include "server/routes.hpp"

#include <algorithm>
#include <set>

#include <gtest/gtest.h>

using namespace latchkey::server;

namespace {
Handler none() {
  return [](RequestContext&) -> boost::asio::awaitable<HttpResponse> { co_return HttpResponse{}; };
}
}  // namespace

TEST(Router, MatchesLiteralAndParameterSegments) {
  Router r;
  r.add("GET", "/healthz", Access::public_, every_listener, none());
  r.add("GET", "/v1/users/{user_id}/sessions", Access::admin, admin_listener, none());
  r.add("DELETE", "/v1/users/{user_id}/sessions/{session_id}", Access::admin, admin_listener, none());

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
  r.add("GET", "/healthz", Access::public_, every_listener, none());
  r.add("POST", "/v1/x", Access::admin, admin_listener, none());
  r.add("DELETE", "/v1/x", Access::admin, admin_listener, none());
  EXPECT_EQ(r.match("GET", "/nope").result, RouteMatch::outcome::not_found);
  EXPECT_EQ(r.match("GET", "/healthz/").result, RouteMatch::outcome::not_found);
  EXPECT_EQ(r.match("GET", "/v1/users//sessions").result, RouteMatch::outcome::not_found);
  auto m = r.match("GET", "/v1/x");
  EXPECT_EQ(m.result, RouteMatch::outcome::method_not_allowed);
  EXPECT_EQ(m.allow, "POST, DELETE");
}

TEST(Router, EmptyParameterDoesNotMatch) {
  Router r;
  r.add("GET", "/v1/users/{user_id}/sessions", Access::admin, admin_listener, none());
  EXPECT_EQ(r.match("GET", "/v1/users//sessions").result, RouteMatch::outcome::not_found);
}

TEST(Router, AListenerSeesOnlyTheRoutesItServes) {
  Router r;
  r.add("GET", "/healthz", Access::public_, every_listener, none());
  r.add("GET", "/metrics", Access::public_, metrics_listener, none());
  r.add("POST", "/v1/x", Access::admin, admin_listener, none());
  r.add("POST", "/oauth2/token", Access::oauth_client, public_listener, none());

  EXPECT_EQ(r.match("POST", "/v1/x", public_listener).result, RouteMatch::outcome::not_found);
  EXPECT_EQ(r.match("POST", "/v1/x", admin_listener).result, RouteMatch::outcome::found);
  EXPECT_EQ(r.match("POST", "/v1/x", public_listener | admin_listener).result, RouteMatch::outcome::found);
  EXPECT_EQ(r.match("GET", "/metrics", public_listener).result, RouteMatch::outcome::not_found);
  EXPECT_EQ(r.match("GET", "/metrics", metrics_listener).result, RouteMatch::outcome::found);
  EXPECT_EQ(r.match("POST", "/oauth2/token", admin_listener).result, RouteMatch::outcome::not_found);
  for (unsigned l : {unsigned{public_listener}, unsigned{admin_listener}, unsigned{metrics_listener}})
    EXPECT_EQ(r.match("GET", "/healthz", l).result, RouteMatch::outcome::found) << l;
  // A method the path has only on another listener is not "405" here: the route is not here.
  EXPECT_EQ(r.match("GET", "/v1/x", public_listener).result, RouteMatch::outcome::not_found);
}

TEST(Router, AnUnmatchedPathUnderAnAdminRoutesPrefixAsksForTheKeyFirst) {
  Router r;
  r.add("GET", "/healthz", Access::public_, every_listener, none());
  r.add("POST", "/v1/x", Access::admin, admin_listener, none());
  EXPECT_TRUE(r.match("GET", "/v1/nothing/here", admin_listener).under_admin_prefix);
  EXPECT_TRUE(r.match("GET", "/v1", admin_listener).under_admin_prefix);
  EXPECT_FALSE(r.match("GET", "/v1/nothing", public_listener).under_admin_prefix);  // no admin route here
  EXPECT_FALSE(r.match("GET", "/v2/x", admin_listener).under_admin_prefix);
  EXPECT_FALSE(r.match("GET", "/healthz/x", admin_listener).under_admin_prefix);
}

// The production table's policy, as the contract states it: /v1 is the admin API on the admin
// listener, /metrics on the metrics listener, OAuth and /.well-known on the public listener,
// health and the OpenAPI document on every listener; only the OAuth endpoints authenticate a client themselves
// (userinfo its access token).
TEST(Router, TheProductionTableGivesEveryRouteItsListenerAndAccess) {
  Router r = make_routes();
  ASSERT_GT(r.routes().size(), 30u);
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& route : r.routes()) {
    SCOPED_TRACE(route.method + " " + route.pattern);
    EXPECT_TRUE(seen.insert({route.method, route.pattern}).second) << "registered twice";
    const std::string& p = route.pattern;
    if (p.starts_with("/v1/")) {
      EXPECT_EQ(route.listeners, unsigned{admin_listener});
      EXPECT_TRUE(route.access == Access::admin || route.access == Access::admin_read);
      if (route.access == Access::admin_read) {
        EXPECT_TRUE(route.method == "GET" || p == "/v1/tokens/verify");
      }
    } else if (p == "/metrics") {
      EXPECT_EQ(route.listeners, unsigned{metrics_listener});
      EXPECT_EQ(route.access, Access::public_);
    } else if (p == "/healthz" || p == "/readyz" || p == "/openapi.json") {
      EXPECT_EQ(route.listeners, unsigned{every_listener});
      EXPECT_EQ(route.access, Access::public_);
    } else if (p == "/oauth2/userinfo") {
      // OpenID Connect UserInfo: a resource, authenticated by its access token (RFC 6750).
      EXPECT_EQ(route.listeners, unsigned{public_listener});
      EXPECT_EQ(route.access, Access::public_);
    } else if (p.starts_with("/oauth2/")) {
      EXPECT_EQ(route.listeners, unsigned{public_listener});
      EXPECT_EQ(route.access, Access::oauth_client);
    } else if (p == "/" || p.starts_with("/console")) {
      // The console's own routes: only on its listener; each authenticates itself.
      EXPECT_EQ(route.listeners, unsigned{console_listener});
      EXPECT_EQ(route.access, Access::public_);
    } else {
      EXPECT_TRUE(p.starts_with("/.well-known/"));
      EXPECT_EQ(route.listeners, unsigned{public_listener});
      EXPECT_EQ(route.access, Access::public_);
    }
  }
}

TEST(Router, DescribeRoutesListsEveryRouteOnceAsTextAndJson) {
  Router r = make_routes();
  std::string text = describe_routes(r, false);
  std::string json = describe_routes(r, true);
  EXPECT_EQ(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')), r.routes().size());
  for (const auto& route : r.routes()) {
    std::string obj = "{\"method\":\"" + route.method + "\",\"path\":\"" + route.pattern + "\",\"access\":\"" +
                      std::string(access_name(route.access)) + "\",\"listener\":\"" + listeners_name(route.listeners) +
                      "\"}";
    EXPECT_NE(json.find(obj), std::string::npos) << obj;
  }
  EXPECT_NE(text.find("DELETE  /v1/users/{user_id}/sessions/{session_id}   admin         admin\n"), std::string::npos)
      << text;
  EXPECT_EQ(listeners_name(public_listener | metrics_listener), "public+metrics");
}
