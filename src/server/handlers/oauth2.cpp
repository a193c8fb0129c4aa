// The RFC endpoints of the OAuth server, called by OAuth clients and resource servers (no
// admin key; OAuth client authentication instead): POST /oauth2/token (RFC 6749),
// /oauth2/introspect (RFC 7662), /oauth2/revoke (RFC 7009) and
// GET /.well-known/oauth-authorization-server (RFC 8414). Form bodies in, RFC 6749 5.1/5.2
// JSON out, never cached. The logic is oauth::Service (src/engine/oauth/grants.cpp).
#include "server/handlers/common.hpp"
#include "server/routes.hpp"
#include "server/services.hpp"

#include "latchkey/config.hpp"
#include "latchkey/clock.hpp"
#include "latchkey/ratelimit.hpp"

#include <boost/json.hpp>

namespace latchkey::server::handlers {
namespace {

namespace json = boost::json;
using boost::asio::awaitable;

// Every answer of these endpoints carries credentials or decisions about them (RFC 6749 5.1).
HttpResponse no_store(HttpResponse r) {
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Pragma", "no-cache");
  return r;
}

bool is_form(std::string_view content_type) {
  constexpr std::string_view kForm = "application/x-www-form-urlencoded";
  if (content_type.size() < kForm.size()) return false;
  for (std::size_t i = 0; i < kForm.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(content_type[i])) != kForm[i]) return false;
  auto rest = content_type.substr(kForm.size());
  return rest.empty() || rest.front() == ';' || rest.front() == ' ';
}

// The request's form parameters and how the client presented itself; or the error response.
struct FormRequest {
  oauth::Params form;
  oauth::PresentedClient client;
};

std::variant<FormRequest, HttpResponse> read_form(const RequestContext& ctx) {
  const auto& req = ctx.request;
  // Credentials and tokens never travel in a URL (RFC 6749 2.3.1, 3.2; RFC 9700 4.3.2).
  if (!req.query.empty())
    return refuse(ctx, errc::invalid_request, "parameters in the URL are not accepted; send a form body");
  if (!is_form(req.header("content-type")))
    return refuse(ctx, errc::invalid_request, "Content-Type must be application/x-www-form-urlencoded");
  std::string why;
  auto form = parse_form(req.body, why);
  if (!form) return refuse(ctx, errc::invalid_request, why);
  FormRequest out{std::move(*form), {}};
  if (auto authz = req.header("authorization"); !authz.empty()) {
    auto b = parse_basic(authz);
    if (!b) return refuse(ctx, errc::invalid_client, "the Authorization header must be HTTP Basic client credentials");
    out.client.basic = true;
    out.client.basic_id = std::move(b->id);
    out.client.basic_secret = std::move(b->secret);
  }
  if (auto v = oauth::param(out.form, "client_id")) out.client.body_id = std::string(*v);
  if (auto v = oauth::param(out.form, "client_secret")) out.client.body_secret = std::string(*v);
  return out;
}

// oauth_ratelimit_policy, per client address: the 429 response when over it (RFC 6819
// 4.4.1.12, ASVS V11.1.4). A store outage follows the policy (closed: 503; open: admitted).
awaitable<std::optional<HttpResponse>> throttled(RequestContext& ctx) {
  const auto& name = ctx.config.oauth_ratelimit_policy;
  if (name.empty()) co_return std::nullopt;
  const ratelimit::Policy* p = ctx.services.ratelimit.policy(name);
  if (!p) co_return std::nullopt;  // refused at start-up; never here
  auto d = co_await ctx.services.ratelimit.check(
      ctx.redis, "oauth:" + name,
      canonical_address(ctx.request.remote, ctx.services.logins.settings().ipv6_prefix).value_or(ctx.request.remote),
      p->limit, 1);
  if (!d) {
    if (p->fail_open) co_return std::nullopt;
    co_return engine_error(ctx, d.error());
  }
  if (d->allowed || p->shadow) co_return std::nullopt;
  std::int64_t retry = ceil_seconds(d->retry_after_ms);
  auto r = engine_error(ctx, Failure(errc::rate_limited, "too many requests from this address"));
  r.headers.emplace_back("Retry-After", std::to_string(retry));
  co_return r;
}

// A form request from an authenticated client, or the error response.
struct ClientRequest {
  oauth::Params form;
  oauth::Client client;
};

// A client that failed to authenticate at an RFC endpoint: a security event (the client id as
// presented, when it is one; never the secret).
void client_auth_failed(RequestContext& ctx, const Failure& f, const oauth::PresentedClient& p) {
  if (f.code != errc::invalid_client) return;
  events::Event e(events::Type::oauth_client_auth_failure, {}, "refused");
  if (auto id = oauth::presented_client_id(p); id && id->size() <= 128) e.with("client_id", *id);
  e.with("route", ctx.request.path);
  ctx.events.emit(std::move(e));
}

awaitable<std::variant<ClientRequest, HttpResponse>> authenticated_form(RequestContext& ctx, oauth::MethodRule rule) {
  if (auto t = co_await throttled(ctx)) co_return std::move(*t);
  auto f = read_form(ctx);
  if (auto* r = std::get_if<HttpResponse>(&f)) co_return std::move(*r);
  auto& fr = std::get<FormRequest>(f);
  auto c = co_await ctx.services.oauth.authenticate(ctx.redis, fr.client, rule);
  if (!c) {
    client_auth_failed(ctx, c.error(), fr.client);
    co_return engine_error(ctx, c.error());
  }
  co_return ClientRequest{std::move(fr.form), std::move(*c)};
}

// POST /oauth2/token
awaitable<HttpResponse> token(RequestContext& ctx) {
  auto in = co_await authenticated_form(ctx, oauth::MethodRule::registered);
  if (auto* r = std::get_if<HttpResponse>(&in)) co_return std::move(*r);
  auto& q = std::get<ClientRequest>(in);
  auto out = co_await ctx.services.oauth.token(ctx.redis, q.client, q.form, &ctx.events);
  if (!out) co_return engine_error(ctx, out.error());
  json::object o{{"access_token", out->access_token}, {"token_type", "Bearer"}, {"expires_in", out->expires_in}};
  if (!out->refresh_token.empty()) o["refresh_token"] = out->refresh_token;
  if (!out->scope.empty()) o["scope"] = out->scope;
  co_return no_store(HttpResponse::json(200, o));
}

// POST /oauth2/introspect
awaitable<HttpResponse> introspect(RequestContext& ctx) {
  if (auto t = co_await throttled(ctx)) co_return std::move(*t);
  auto f = read_form(ctx);
  if (auto* r = std::get_if<HttpResponse>(&f)) co_return std::move(*r);
  auto& fr = std::get<FormRequest>(f);
  auto token = oauth::param(fr.form, "token");
  // Client authentication comes first (it is decided on the same round trip as the lookup).
  auto t = co_await ctx.services.oauth.introspect(ctx.redis, fr.client, std::string(token.value_or("")));
  if (!t) {
    client_auth_failed(ctx, t.error(), fr.client);
    co_return engine_error(ctx, t.error());
  }
  if (!token) co_return refuse(ctx, errc::invalid_request, "token is required");
  if (!*t) {
    auto r = no_store(HttpResponse::empty(200));
    r.content_type = "application/json";
    r.body = R"({"active":false})";
    co_return r;
  }
  const auto& i = **t;
  json::object o{{"active", true},         {"client_id", i.client_id},
                 {"sub", i.sub},           {"iss", ctx.config.token_issuer},
                 {"token_type", "Bearer"}, {"iat", i.iat},
                 {"nbf", i.iat},           {"exp", i.exp}};
  if (!i.scope.empty()) o["scope"] = i.scope;
  if (!i.audience.empty()) o["aud"] = i.audience;
  if (!i.jti.empty()) o["jti"] = i.jti;
  co_return no_store(HttpResponse::json(200, o));
}

// POST /oauth2/revoke
awaitable<HttpResponse> revoke(RequestContext& ctx) {
  auto in = co_await authenticated_form(ctx, oauth::MethodRule::any_secret);
  if (auto* r = std::get_if<HttpResponse>(&in)) co_return std::move(*r);
  auto& q = std::get<ClientRequest>(in);
  auto token = oauth::param(q.form, "token");
  if (!token) co_return refuse(ctx, errc::invalid_request, "token is required");
  // token_type_hint is optional and only a hint (RFC 7009 2.1): the token's form says what it is.
  auto r = co_await ctx.services.oauth.revoke(ctx.redis, q.client, std::string(*token));
  // RFC 7009 2.2.1: a revocation that may not have happened is never answered 200.
  if (!r) co_return engine_error(ctx, r.error());
  ctx.events.emit(events::Event(events::Type::token_revoked, {}, "requested").with("client_id", q.client.client_id));
  co_return no_store(HttpResponse::empty(200));
}

// GET /.well-known/oauth-authorization-server
awaitable<HttpResponse> metadata(RequestContext& ctx) {
  const std::string& issuer = ctx.config.token_issuer;
  // Endpoint URLs hang off the issuer, never off the request's Host.
  if (!oauth::publishable_issuer(issuer)) {
    auto r = HttpResponse::json(404, json::object{{"error", "not_found"},
                                                  {"error_description",
                                                   "OAuth metadata is not published: token_issuer must be an https URL "
                                                   "(http only for a loopback host)"}});
    r.headers.emplace_back("Cache-Control", "no-store");
    co_return r;
  }
  std::string base = issuer;
  while (base.ends_with('/')) base.pop_back();
  json::array grants;
  for (auto g : oauth::kGrantTypes) grants.emplace_back(json::string(g));
  json::object o{
      {"issuer", issuer},
      {"token_endpoint", base + "/oauth2/token"},
      {"introspection_endpoint", base + "/oauth2/introspect"},
      {"revocation_endpoint", base + "/oauth2/revoke"},
      {"jwks_uri", base + "/.well-known/jwks.json"},
      {"grant_types_supported", std::move(grants)},
      {"response_types_supported", json::array{"code"}},
      {"code_challenge_methods_supported", json::array{"S256"}},
      {"token_endpoint_auth_methods_supported", json::array{"client_secret_basic", "client_secret_post", "none"}},
      {"introspection_endpoint_auth_methods_supported", json::array{"client_secret_basic", "client_secret_post"}},
      {"revocation_endpoint_auth_methods_supported", json::array{"client_secret_basic", "client_secret_post", "none"}},
      {"authorization_response_iss_parameter_supported", true}};
  if (!ctx.config.oauth_authorization_endpoint.empty())
    o["authorization_endpoint"] = ctx.config.oauth_authorization_endpoint;
  auto r = HttpResponse::json(200, o);
  r.headers.emplace_back("Cache-Control", "public, max-age=300");
  co_return r;
}

}  // namespace

void add_oauth2(Router& r) {
  r.add("POST", "/oauth2/token", Access::oauth_client, public_listener, token);
  r.add("POST", "/oauth2/introspect", Access::oauth_client, public_listener, introspect);
  r.add("POST", "/oauth2/revoke", Access::oauth_client, public_listener, revoke);
  r.add("GET", "/.well-known/oauth-authorization-server", Access::public_, public_listener, metadata);
}

}  // namespace latchkey::server::handlers
