// The one errc -> HTTP mapping and the error shape: every code has a wire name and a status,
// the RFC endpoints differ only where RFC 6749 says so, engine-internal codes never reach a
// client under their own names, and a failure carries its reason through a result.
#include "server/http.hpp"

#include "latchkey/oauth.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <set>

using namespace latchkey;
using namespace latchkey::server;

namespace {
constexpr errc kLast = errc::internal;

std::string header(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return {};
}
}  // namespace

TEST(HttpErrors, EveryCodeHasItsOwnWireNameAndAStatus) {
  std::set<std::string> names;
  for (int i = 0; i <= static_cast<int>(kLast); ++i) {
    auto e = static_cast<errc>(i);
    std::string name = error_name(e);
    EXPECT_TRUE(names.insert(name).second) << name << " named twice";
    if (e != errc::internal) {
      EXPECT_NE(name, "internal") << i << " has no name of its own";
    }
    unsigned s = http_status(e);
    EXPECT_TRUE(s == 200 || (s >= 400 && s <= 503)) << name << " " << s;
  }
}

TEST(HttpErrors, TheRfcEndpointsDifferOnlyWhereRfc6749SaysSo) {
  for (int i = 0; i <= static_cast<int>(kLast); ++i) {
    auto e = static_cast<errc>(i);
    if (e == errc::invalid_grant) continue;
    EXPECT_EQ(http_status(e, Access::oauth_client), http_status(e, Access::admin)) << error_name(e);
  }
  EXPECT_EQ(http_status(errc::invalid_grant, Access::oauth_client), 400u);  // RFC 6749 5.2
  EXPECT_EQ(http_status(errc::invalid_grant, Access::admin), 401u);         // API.md, /v1/tokens/refresh
  EXPECT_EQ(http_status(errc::invalid_client, Access::oauth_client), 401u);
  for (errc e : {errc::unauthorized_client, errc::unsupported_grant_type, errc::unsupported_response_type,
                 errc::invalid_scope, errc::invalid_redirect_uri, errc::invalid_client_metadata})
    EXPECT_EQ(http_status(e, Access::oauth_client), 400u) << error_name(e);
}

TEST(HttpErrors, ResponsesCarryTheChallengeOfTheirSchemeAndHideInternalCodes) {
  auto admin = error_response(Failure(errc::unauthorized));
  EXPECT_EQ(admin.status, 401u);
  EXPECT_EQ(header(admin, "WWW-Authenticate"), "Bearer realm=\"latchkey\"");
  auto client = error_response(Failure(errc::invalid_client, "client authentication failed"), 1, Access::oauth_client);
  EXPECT_EQ(client.status, 401u);
  EXPECT_EQ(header(client, "WWW-Authenticate"), "Basic realm=\"latchkey\"");
  EXPECT_EQ(header(client, "Pragma"), "no-cache");
  EXPECT_EQ(header(admin, "Pragma"), "");

  for (errc e : {errc::timeout, errc::redis_error}) {
    auto r = error_response(Failure(e), 7);
    EXPECT_EQ(r.status, 503u);
    EXPECT_EQ(boost::json::parse(r.body).at("error").as_string(), "unavailable");
    EXPECT_EQ(header(r, "Retry-After"), "7");
  }
  for (errc e : {errc::protocol_error, errc::crypto_error, errc::config_error}) {
    auto r = error_response(Failure(e, "detail that must not leak"));
    EXPECT_EQ(r.status, 500u);
    EXPECT_EQ(boost::json::parse(r.body).at("error").as_string(), "internal");
  }
  // No description of its own: the code's standard text; extra members go beside.
  auto r = error_response(Failure(errc::invalid_session), 1, Access::admin, boost::json::object{{"retry_after", 3}});
  auto v = boost::json::parse(r.body).as_object();
  EXPECT_EQ(v.at("error").as_string(), "invalid_session");
  EXPECT_EQ(v.at("error_description").as_string(), "unknown, expired or malformed session token");
  EXPECT_EQ(v.at("retry_after").as_int64(), 3);
}

TEST(HttpErrors, AFailureCarriesItsReasonThroughAResult) {
  outcome<int> refused = Failure(errc::invalid_scope, "the requested scope exceeds the client's");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::invalid_scope);
  EXPECT_EQ(refused.error().description, "the requested scope exceeds the client's");
  // A plain engine error passes through with its code and no reason.
  outcome<int> plain = as_outcome(result<int>(make_error_code(errc::unavailable)));
  ASSERT_FALSE(plain);
  EXPECT_EQ(plain.error().code, errc::unavailable);
  EXPECT_TRUE(plain.error().description.empty());
  // An error of another category is internal, never a code it happens to share a number with.
  outcome<int> foreign = Failure(boost::system::error_code(2, boost::system::generic_category()));
  EXPECT_EQ(foreign.error().code, errc::internal);
  EXPECT_THROW((void)refused.value(), boost::system::system_error);
  oauth::AuthorizationFailure af(errc::unsupported_response_type, "only response_type=code is supported");
  EXPECT_EQ(af.code, errc::unsupported_response_type);
  EXPECT_TRUE(af.redirect_to.empty());
}
