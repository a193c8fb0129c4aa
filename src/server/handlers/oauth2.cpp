// The RFC endpoints of the OAuth server, called by OAuth clients and resource servers (no
// admin key; OAuth client authentication instead): POST /oauth2/token (RFC 6749),
// /oauth2/introspect (RFC 7662), /oauth2/revoke (RFC 7009) and
// GET /.well-known/oauth-authorization-server (RFC 8414), and the OpenID Connect endpoints:
// GET/POST /oauth2/userinfo and GET /.well-known/openid-configuration. Form bodies in, RFC 6749 5.1/5.2
// JSON out, never cached. The logic is oauth::Service (src/engine/oauth/grants.cpp).
#include "server/handlers/common.hpp"
#include "server/routes.hpp"
#include "server/services.hpp"

#include "latchkey/config.hpp"
#include "latchkey/clock.hpp"
#include "latchkey/oidc.hpp"
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

// The issuer without trailing slashes: what endpoint URLs (and DPoP's htu) hang off.
std::string issuer_base(const Config& c) {
  std::string base = c.token_issuer;
  while (base.ends_with('/')) base.pop_back();
  return base;
}

// With oauth_dpop_nonce, every answer to a DPoP client carries the nonce to use next (RFC 9449 8).
HttpResponse with_dpop_nonce(const RequestContext& ctx, HttpResponse r) {
  if (ctx.config.oauth_dpop_nonce) r.headers.emplace_back("DPoP-Nonce", ctx.services.tokens.dpop_nonce(unix_now()));
  return r;
}

// The request's DPoP proof (RFC 9449 4), checked for this endpoint's URL: its key's
// thumbprint, "" when the request has none, or the failure.
awaitable<outcome<std::string>> dpop_key(RequestContext& ctx, std::string_view path, std::string access_token) {
  std::string proof(ctx.request.header("dpop"));
  if (proof.empty()) co_return std::string();
  if (!oauth::publishable_issuer(ctx.config.token_issuer))
    co_return Failure(errc::invalid_dpop_proof,
                      "DPoP needs token_issuer to be this server's URL (https, or http for a loopback host)");
  std::string url = issuer_base(ctx.config) + std::string(path);
  dpop::Expect e;
  e.method = ctx.request.method;
  e.url = url;
  e.access_token = access_token;
  auto p = co_await ctx.services.tokens.accept_proof(ctx.redis, std::move(proof), e);
  if (!p) co_return p.error();
  co_return std::move(p->jkt);
}

// POST /oauth2/token
awaitable<HttpResponse> token(RequestContext& ctx) {
  auto in = co_await authenticated_form(ctx, oauth::MethodRule::registered);
  if (auto* r = std::get_if<HttpResponse>(&in)) co_return std::move(*r);
  auto& q = std::get<ClientRequest>(in);
  auto jkt = co_await dpop_key(ctx, "/oauth2/token", {});
  if (!jkt) co_return with_dpop_nonce(ctx, engine_error(ctx, jkt.error()));
  auto out = co_await ctx.services.oauth.token(ctx.redis, q.client, q.form, &ctx.events, std::move(*jkt));
  if (!out) co_return with_dpop_nonce(ctx, engine_error(ctx, out.error()));
  const auto& p = out->pair;
  json::object o{{"access_token", p.access_token},
                 {"token_type", p.jkt.empty() ? "Bearer" : "DPoP"},  // RFC 9449 5
                 {"expires_in", p.expires_in}};
  if (!p.refresh_token.empty()) o["refresh_token"] = p.refresh_token;
  if (!p.scope.empty()) o["scope"] = p.scope;
  if (!out->id_token.empty()) o["id_token"] = out->id_token;
  auto r = no_store(HttpResponse::json(200, o));
  if (!p.jkt.empty()) r = with_dpop_nonce(ctx, std::move(r));
  co_return r;
}

// An RFC 6750 3 / RFC 9449 7.1 refusal at a resource endpoint, with its challenge.
HttpResponse resource_refusal(const RequestContext& ctx, errc code, std::string_view description, bool dpop_scheme) {
  unsigned status = code == errc::insufficient_scope ? 403u : code == errc::invalid_request ? 400u : 401u;
  if (code == errc::unavailable || code == errc::timeout || code == errc::redis_error)
    return engine_error(ctx, Failure(code));
  auto r = HttpResponse::json(status, json::object{{"error", error_name(code)}, {"error_description", description}});
  std::string challenge = dpop_scheme ? "DPoP algs=\"ES256 EdDSA Ed25519 RS256\", " : "Bearer ";
  challenge +=
      "error=\"" + std::string(error_name(code)) + "\", error_description=\"" + std::string(description) + "\"";
  r.headers.emplace_back("WWW-Authenticate", std::move(challenge));
  r.headers.emplace_back("Cache-Control", "no-store");
  if (dpop_scheme) r = with_dpop_nonce(ctx, std::move(r));
  return r;
}

// GET/POST /oauth2/userinfo (OpenID Connect Core 5.3): the access token by Authorization
// (Bearer, or DPoP with a proof: RFC 9449 7), or for POST as the form's access_token (RFC
// 6750 2.2); never in the URL.
awaitable<HttpResponse> userinfo(RequestContext& ctx) {
  const auto& req = ctx.request;
  if (!req.query.empty())
    co_return resource_refusal(ctx, errc::invalid_request, "access tokens are not accepted in the URL", false);
  std::string_view authz = req.header("authorization");
  std::string token;
  bool dpop_scheme = false;
  auto scheme_is = [&](std::string_view s) {
    return authz.size() > s.size() && authz[s.size()] == ' ' &&
           std::equal(s.begin(), s.end(), authz.begin(),
                      [](char a, char b) { return std::tolower(static_cast<unsigned char>(b)) == a; });
  };
  if (scheme_is("bearer")) {
    token = std::string(authz.substr(7));
  } else if (scheme_is("dpop")) {
    token = std::string(authz.substr(5));
    dpop_scheme = true;
  } else if (!authz.empty()) {
    co_return resource_refusal(ctx, errc::invalid_request, "Authorization must be Bearer or DPoP", false);
  } else if (req.method == "POST" && is_form(req.header("content-type"))) {
    std::string why;
    auto form = parse_form(req.body, why);
    if (!form) co_return resource_refusal(ctx, errc::invalid_request, why, false);
    if (auto t = oauth::param(*form, "access_token")) token = std::string(*t);
  }
  while (!token.empty() && token.front() == ' ') token.erase(0, 1);
  if (token.empty() || token.size() > ctx.config.token_max_bytes) {
    // RFC 6750 3.1: a request without credentials gets the bare challenge.
    auto r = HttpResponse::json(
        401, json::object{{"error", "invalid_token"}, {"error_description", "an access token is required"}});
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"latchkey\"");
    r.headers.emplace_back("Cache-Control", "no-store");
    co_return r;
  }
  auto found = co_await ctx.services.tokens.introspect_after(ctx.redis, token, {});
  if (!found) co_return resource_refusal(ctx, errc::unavailable, "", dpop_scheme);
  if (!found->token)
    co_return resource_refusal(ctx, errc::invalid_token, "invalid, expired or revoked token", dpop_scheme);
  auto t = std::move(*found->token);
  // RFC 9449 7.1: a bound token only with the DPoP scheme and a proof by its key; an unbound
  // one only as Bearer.
  if (!t.jkt.empty() && !dpop_scheme)
    co_return resource_refusal(ctx, errc::invalid_token, "this access token is DPoP-bound: use the DPoP scheme", true);
  if (t.jkt.empty() && dpop_scheme)
    co_return resource_refusal(ctx, errc::invalid_token, "this access token is not DPoP-bound", false);
  if (dpop_scheme) {
    if (req.header("dpop").empty())
      co_return resource_refusal(ctx, errc::invalid_dpop_proof, "a DPoP proof is required", true);
    auto jkt = co_await dpop_key(ctx, "/oauth2/userinfo", token);
    if (!jkt) co_return resource_refusal(ctx, jkt.error().code, jkt.error().description, true);
    if (*jkt != t.jkt)
      co_return resource_refusal(ctx, errc::invalid_dpop_proof, "the proof is not signed by the token's key", true);
  }
  auto claims = co_await ctx.services.oauth.userinfo(ctx.redis, std::move(t));
  if (!claims) co_return resource_refusal(ctx, claims.error().code, claims.error().description, dpop_scheme);
  co_return no_store(HttpResponse::json(200, *claims));
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
  if (!i.jkt.empty()) {
    o["token_type"] = "DPoP";
    o["cnf"] = json::object{{"jkt", i.jkt}};  // RFC 9449 6.2
  }
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

// The RFC 8414 document (and with `openid`, OpenID Connect Discovery 1.0's), or the 404 that
// says why none is published.
HttpResponse metadata_document(RequestContext& ctx, bool openid) {
  const std::string& issuer = ctx.config.token_issuer;
  // Endpoint URLs hang off the issuer, never off the request's Host.
  if (!oauth::publishable_issuer(issuer)) {
    auto r = HttpResponse::json(404, json::object{{"error", "not_found"},
                                                  {"error_description",
                                                   "OAuth metadata is not published: token_issuer must be an https URL "
                                                   "(http only for a loopback host)"}});
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  }
  std::string base = issuer_base(ctx.config);
  json::array grants;
  for (auto g : oauth::kGrantTypes) grants.emplace_back(json::string(g));
  json::object o{
      {"issuer", issuer},
      {"token_endpoint", base + "/oauth2/token"},
      {"introspection_endpoint", base + "/oauth2/introspect"},
      {"revocation_endpoint", base + "/oauth2/revoke"},
      {"userinfo_endpoint", base + "/oauth2/userinfo"},
      {"jwks_uri", base + "/.well-known/jwks.json"},
      {"grant_types_supported", std::move(grants)},
      {"response_types_supported", json::array{"code"}},
      {"response_modes_supported", json::array{"query"}},
      {"code_challenge_methods_supported", json::array{"S256"}},
      {"token_endpoint_auth_methods_supported", json::array{"client_secret_basic", "client_secret_post", "none"}},
      {"introspection_endpoint_auth_methods_supported", json::array{"client_secret_basic", "client_secret_post"}},
      {"revocation_endpoint_auth_methods_supported", json::array{"client_secret_basic", "client_secret_post", "none"}},
      {"authorization_response_iss_parameter_supported", true},
      {"dpop_signing_alg_values_supported", json::array{"ES256", "EdDSA", "Ed25519", "RS256"}}};  // RFC 9449 5.1
  if (!ctx.config.oauth_authorization_endpoint.empty())
    o["authorization_endpoint"] = ctx.config.oauth_authorization_endpoint;
  json::array algs;
  for (auto& a : oidc::signing_algs(ctx.services.tokens.signing_ring(), unix_now())) algs.emplace_back(json::string(a));
  if (openid || !algs.empty()) {
    // OpenID Connect Discovery 1.0 3 (the same values in both documents).
    o["scopes_supported"] = json::array{"openid", "profile", "email", "address", "phone"};
    o["subject_types_supported"] = json::array{"public"};
    o["id_token_signing_alg_values_supported"] = std::move(algs);
    o["claims_supported"] = json::array{"sub",
                                        "iss",
                                        "aud",
                                        "exp",
                                        "iat",
                                        "auth_time",
                                        "nonce",
                                        "acr",
                                        "amr",
                                        "at_hash",
                                        "sid",
                                        "azp",
                                        "name",
                                        "family_name",
                                        "given_name",
                                        "middle_name",
                                        "nickname",
                                        "preferred_username",
                                        "profile",
                                        "picture",
                                        "website",
                                        "gender",
                                        "birthdate",
                                        "zoneinfo",
                                        "locale",
                                        "updated_at",
                                        "email",
                                        "email_verified",
                                        "address",
                                        "phone_number",
                                        "phone_number_verified"};
    o["claims_parameter_supported"] = false;
    // Back-Channel Logout 1.0 2.1: logout tokens carry sid (the grant).
    o["backchannel_logout_supported"] = true;
    o["backchannel_logout_session_supported"] = true;
    o["request_parameter_supported"] = false;
    o["request_uri_parameter_supported"] = false;
  }
  auto r = HttpResponse::json(200, o);
  r.headers.emplace_back("Cache-Control", "public, max-age=300");
  return r;
}

// GET /.well-known/oauth-authorization-server
awaitable<HttpResponse> metadata(RequestContext& ctx) { co_return metadata_document(ctx, false); }

// GET /.well-known/openid-configuration
awaitable<HttpResponse> openid_configuration(RequestContext& ctx) { co_return metadata_document(ctx, true); }

}  // namespace

void add_oauth2(Router& r) {
  r.add("POST", "/oauth2/token", Access::oauth_client, public_listener, token);
  r.add("POST", "/oauth2/introspect", Access::oauth_client, public_listener, introspect);
  r.add("POST", "/oauth2/revoke", Access::oauth_client, public_listener, revoke);
  r.add("GET", "/oauth2/userinfo", Access::public_, public_listener, userinfo);
  r.add("POST", "/oauth2/userinfo", Access::public_, public_listener, userinfo);
  r.add("GET", "/.well-known/oauth-authorization-server", Access::public_, public_listener, metadata);
  r.add("GET", "/.well-known/openid-configuration", Access::public_, public_listener, openid_configuration);
}

}  // namespace latchkey::server::handlers
