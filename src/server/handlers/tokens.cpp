// /v1/tokens..., /v1/users/{user_id}/tokens and /.well-known/jwks.json: JSON in and out and
// field validation. The token logic itself is tokens::Service (src/engine/tokens/).
#include "server/handlers/common.hpp"
#include "server/routes.hpp"
#include "server/services.hpp"

#include "latchkey/config.hpp"
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/clock.hpp"
#include "latchkey/log.hpp"
#include "latchkey/metrics.hpp"
#include "latchkey/oauth.hpp"

#include <boost/json.hpp>

#include <chrono>

namespace latchkey::server::handlers {
namespace {

namespace json = boost::json;
using boost::asio::awaitable;

// An audience follows the user-id rules: 1-256 bytes of UTF-8 without control characters.
bool valid_audience(std::string_view a) { return valid_user_id(a); }

// Token responses carry credentials: never cached (RFC 6749 5.1).
HttpResponse pair_response(const tokens::Pair& p) {
  auto r = HttpResponse::json(200, json::object{{"access_token", p.access_token},
                                                {"refresh_token", p.refresh_token},
                                                {"token_type", "Bearer"},
                                                {"expires_in", p.expires_in}});
  r.headers.emplace_back("Pragma", "no-cache");
  return r;
}

// A required string field holding a token; the error response otherwise.
std::variant<std::string, HttpResponse> token_field(const RequestContext& ctx, const json::object& body,
                                                    const char* name) {
  const auto* t = body.if_contains(name);
  if (!t || !t->is_string()) return bad(ctx, std::string(name) + " is required and must be a string");
  return std::string(t->as_string());
}

// POST /v1/tokens
awaitable<HttpResponse> issue(RequestContext& ctx) {
  auto parsed = read_body(ctx, {"user_id", "claims", "scope", "audience"});
  if (auto* r = std::get_if<HttpResponse>(&parsed)) co_return std::move(*r);
  auto& body = std::get<json::object>(parsed);
  tokens::Grant g;
  const auto* uid = body.if_contains("user_id");
  if (!uid || !uid->is_string()) co_return bad(ctx, "user_id is required and must be a string");
  if (!valid_user_id(uid->as_string()))
    co_return bad(ctx, "user_id must be 1-256 bytes of UTF-8 without control characters");
  g.user_id = std::string(uid->as_string());
  if (const auto* c = body.if_contains("claims")) {
    if (!c->is_object()) co_return bad(ctx, "claims must be an object");
    for (const auto& [k, v] : c->as_object())
      if (tokens::reserved_claim(k))
        co_return bad(ctx,
                      "claim '" + std::string(k) + "' is registered; latchkey sets it (use user_id, scope, audience)");
    g.claims_json = json::serialize(*c);
    if (g.claims_json.size() > ctx.config.token_max_claims_bytes)
      co_return error_response(errc::payload_too_large,
                               "claims is larger than " + std::to_string(ctx.config.token_max_claims_bytes) + " bytes");
  }
  if (const auto* s = body.if_contains("scope")) {
    if (!s->is_string() || !oauth::valid_scope(s->as_string()))
      co_return bad(ctx, "scope must be a string of space-separated scope tokens (RFC 6749 3.3), at most 1024 bytes");
    g.scope = std::string(s->as_string());
  }
  if (const auto* a = body.if_contains("audience")) {
    if (!a->is_string() || !valid_audience(a->as_string()))
      co_return bad(ctx, "audience must be a string of 1-256 bytes of UTF-8 without control characters");
    g.audience = std::string(a->as_string());
  }
  auto out = co_await ctx.services.tokens.issue(ctx.redis, std::move(g));
  if (!out) co_return engine_error(ctx, out.error());
  co_return pair_response(*out);
}

struct VerifyInput {
  std::string token, audience;
  bool accept_oauth = false;
  std::string dpop, htm, htu;  // RFC 9449 7: the proof the resource server received, and its request
};

// The hottest token route: the body is parsed into a buffer on this (ordinary) function's
// stack, not the heap; inside the coroutine the buffer would make its frame too large for
// Asio's per-thread recycling (every request would allocate it afresh).
std::variant<VerifyInput, HttpResponse> verify_input(const RequestContext& ctx) {
  unsigned char buffer[2048];
  json::monotonic_resource arena(buffer, sizeof buffer);
  auto parsed = read_body(ctx, {"token", "audience", "accept_oauth", "dpop", "htm", "htu"}, json::storage_ptr(&arena));
  if (auto* r = std::get_if<HttpResponse>(&parsed)) return std::move(*r);
  auto& body = std::get<json::object>(parsed);
  auto token = token_field(ctx, body, "token");
  if (auto* r = std::get_if<HttpResponse>(&token)) return std::move(*r);
  VerifyInput in;
  in.token = std::move(std::get<std::string>(token));
  if (const auto* a = body.if_contains("audience")) {
    if (!a->is_string() || !valid_audience(a->as_string()))
      return bad(ctx, "audience must be a string of 1-256 bytes of UTF-8 without control characters");
    in.audience = std::string(a->as_string());
  }
  if (const auto* a = body.if_contains("accept_oauth")) {
    if (!a->is_bool()) return bad(ctx, "accept_oauth must be true or false");
    in.accept_oauth = a->as_bool();
  }
  if (const auto* d = body.if_contains("dpop")) {
    if (!d->is_string() || d->as_string().empty() || d->as_string().size() > dpop::kMaxProofBytes)
      return bad(ctx, "dpop must be the DPoP proof (a JWS of at most 4096 bytes)");
    const auto* m = body.if_contains("htm");
    const auto* u = body.if_contains("htu");
    if (!m || !m->is_string() || m->as_string().empty() || m->as_string().size() > 16 ||
        !std::all_of(m->as_string().begin(), m->as_string().end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
      return bad(ctx, "with dpop, htm must be the HTTP method of the request (upper case)");
    if (!u || !u->is_string() || u->as_string().size() > 2048 ||
        !(u->as_string().starts_with("https://") || u->as_string().starts_with("http://")))
      return bad(ctx, "with dpop, htu must be the http(s) URL of the request");
    in.dpop = std::string(d->as_string());
    in.htm = std::string(m->as_string());
    in.htu = std::string(u->as_string());
  } else if (body.contains("htm") || body.contains("htu")) {
    return bad(ctx, "htm and htu go with dpop");
  }
  return in;
}

// POST /v1/tokens/verify
awaitable<HttpResponse> verify(RequestContext& ctx) {
  auto in = verify_input(ctx);
  if (auto* r = std::get_if<HttpResponse>(&in)) co_return std::move(*r);
  auto& q = std::get<VerifyInput>(in);
  std::string presented = q.dpop.empty() ? std::string() : q.token;
  auto c = co_await ctx.services.tokens.verify(ctx.redis, std::move(q.token), std::move(q.audience), q.accept_oauth);
  if (!c) co_return engine_error(ctx, c.error());
  // RFC 9449 7: a DPoP-bound token is active only with a proof by its key for this request.
  if (!c->jkt.empty()) {
    if (q.dpop.empty()) {
      count_verify_failure("dpop_proof_required");
      co_return engine_error(
          ctx, Failure(errc::invalid_token, "the token is DPoP-bound: send the request's dpop, htm and htu"));
    }
    dpop::Expect e;
    e.method = q.htm;
    e.url = q.htu;
    e.access_token = presented;
    e.server_nonce = false;  // the resource server's request: latchkey's nonces are for its own endpoints
    auto p = co_await ctx.services.tokens.accept_proof(ctx.redis, std::move(q.dpop), e);
    if (!p) {
      if (p.error().code != errc::invalid_dpop_proof && p.error().code != errc::use_dpop_nonce)
        co_return engine_error(ctx, p.error());
      count_verify_failure("dpop_proof_required");
      co_return engine_error(ctx, Failure(errc::invalid_token, p.error().description));
    }
    if (p->jkt != c->jkt) {
      count_verify_failure("dpop_proof_required");
      co_return engine_error(ctx, Failure(errc::invalid_token, "the DPoP proof is not signed by the token's key"));
    }
  }
  // The claims exactly as signed: verified UTF-8 JSON produced by us (or by a key of our ring).
  HttpResponse r;
  r.body.reserve(32 + c->payload_json.size());
  r.body = "{\"active\":true,\"claims\":";
  r.body += c->payload_json;
  r.body += "}";
  co_return r;
}

// POST /v1/tokens/refresh
awaitable<HttpResponse> refresh(RequestContext& ctx) {
  auto parsed = read_body(ctx, {"refresh_token"});
  if (auto* r = std::get_if<HttpResponse>(&parsed)) co_return std::move(*r);
  auto token = token_field(ctx, std::get<json::object>(parsed), "refresh_token");
  if (auto* r = std::get_if<HttpResponse>(&token)) co_return std::move(*r);
  tokens::RefreshOptions o;
  o.events = &ctx.events;
  auto out = co_await ctx.services.tokens.refresh(ctx.redis, std::move(std::get<std::string>(token)), std::move(o));
  // invalid_grant is 401 on this route (API.md; 400 only at /oauth2/token): http_status.
  if (!out) co_return engine_error(ctx, out.error());
  co_return pair_response(*out);
}

// POST /v1/tokens/revoke
awaitable<HttpResponse> revoke(RequestContext& ctx) {
  auto parsed = read_body(ctx, {"token"});
  if (auto* r = std::get_if<HttpResponse>(&parsed)) co_return std::move(*r);
  auto token = token_field(ctx, std::get<json::object>(parsed), "token");
  if (auto* r = std::get_if<HttpResponse>(&token)) co_return std::move(*r);
  auto out = co_await ctx.services.tokens.revoke(ctx.redis, std::move(std::get<std::string>(token)));
  if (!out) co_return engine_error(ctx, out.error());
  // RFC 7009-like: an unknown token is not an error, and is recorded as such.
  ctx.events.emit(events::Event(events::Type::token_revoked, {}, *out ? "revoked" : "unknown"));
  co_return HttpResponse::json(200, json::object{{"revoked", *out}});
}

// The user's OAuth grants (client and family), read before they are revoked, so their
// clients can be told (OpenID Connect Back-Channel Logout). Empty when none, or unreadable
// (then the revocation that follows fails too, or goes on without telling anyone).
awaitable<std::vector<std::pair<std::string, std::string>>> oauth_grants(RequestContext& ctx, const std::string& user,
                                                                         std::string_view only_family) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!ctx.events.grant_ends) co_return out;
  auto fams = co_await ctx.services.tokens.families(ctx.redis, user);
  if (!fams) co_return out;
  for (const auto& f : *fams)
    if (!f.client_id.empty() && (only_family.empty() || f.family_id == only_family))
      out.emplace_back(f.client_id, f.family_id);
  co_return out;
}

// DELETE /v1/users/{user_id}/tokens
awaitable<HttpResponse> revoke_user(RequestContext& ctx) {
  auto user = user_param(ctx);
  if (!user) co_return bad(ctx, kBadUserParam);
  auto grants = co_await oauth_grants(ctx, *user, {});
  auto n = co_await ctx.services.tokens.revoke_user(ctx.redis, *user);
  if (!n) co_return engine_error(ctx, n.error());
  for (auto& [client, family] : grants) ctx.events.grant_ended(client, *user, family, "user_tokens_revoked");
  ctx.events.emit(events::Event(events::Type::user_tokens_revoked, *user, "revoked").with("count", std::to_string(*n)));
  log::event(log::Level::info,
             "tokens revoked for a user: " + std::to_string(*n) + " refresh families (request " + ctx.request_id + ")");
  co_return HttpResponse::json(200, json::object{{"revoked", true}, {"refresh_families", *n}});
}

// GET /v1/users/{user_id}/tokens: the user's live refresh families (logins and OAuth grants).
awaitable<HttpResponse> list_user_tokens(RequestContext& ctx) {
  auto user = user_param(ctx);
  if (!user) co_return bad(ctx, kBadUserParam);
  auto fams = co_await ctx.services.tokens.families(ctx.redis, *user);
  if (!fams) co_return engine_error(ctx, fams.error());
  json::array out;
  for (const auto& f : *fams) {
    json::value client = nullptr;
    if (!f.client_id.empty()) client = json::string(f.client_id);
    out.push_back(json::object{{"family_id", f.family_id},
                               {"client_id", std::move(client)},
                               {"scope", f.scope},
                               {"audience", f.audience},
                               {"created_at", f.created_at},
                               {"last_used_at", f.last_used_at},
                               {"idle_expires_at", f.idle_expires_at},
                               {"expires_at", f.expires_at}});
  }
  co_return HttpResponse::json(200, json::object{{"families", std::move(out)}});
}

// DELETE /v1/users/{user_id}/tokens/{family_id}: one login's (or grant's) refresh family and
// the access tokens minted from it.
awaitable<HttpResponse> revoke_user_family(RequestContext& ctx) {
  auto user = user_param(ctx);
  if (!user) co_return bad(ctx, kBadUserParam);
  std::string family(ctx.param("family_id"));
  // Family ids are 128 random bits, base64url: anything else names none.
  if (!crypto::is_random_token(family, 16)) co_return error_response(errc::not_found, "no such token family");
  auto grants = co_await oauth_grants(ctx, *user, family);
  auto r = co_await ctx.services.tokens.revoke_user_family(ctx.redis, *user, family);
  if (!r) co_return engine_error(ctx, r.error());
  if (!*r) co_return error_response(errc::not_found, "no such token family");
  for (auto& [client, fam] : grants) ctx.events.grant_ended(client, *user, fam, "grant_revoked");
  ctx.events.emit(events::Event(events::Type::token_revoked, *user, "revoked").with("family", family));
  log::event(log::Level::info, "token family revoked by an admin (request " + ctx.request_id + ")");
  co_return HttpResponse::empty(204);
}

// GET /.well-known/jwks.json: public keys only; caches may keep it a few minutes (a new key
// should be added with `keys add --activate-in` at least that long before it signs).
awaitable<HttpResponse> jwks(RequestContext& ctx) {
  auto now = unix_now();
  auto r = HttpResponse::json(200, ctx.services.tokens.jwks(now));
  r.content_type = "application/jwk-set+json";
  r.headers.emplace_back("Cache-Control", "public, max-age=300");
  co_return r;
}

}  // namespace

void add_tokens(Router& r) {
  r.add("POST", "/v1/tokens", Access::admin, admin_listener, issue);
  r.add("POST", "/v1/tokens/verify", Access::admin_read, admin_listener, verify);
  r.add("POST", "/v1/tokens/refresh", Access::admin, admin_listener, refresh);
  r.add("POST", "/v1/tokens/revoke", Access::admin, admin_listener, revoke);
  r.add("DELETE", "/v1/users/{user_id}/tokens", Access::admin, admin_listener, revoke_user);
  r.add("GET", "/v1/users/{user_id}/tokens", Access::admin_read, admin_listener, list_user_tokens);
  r.add("DELETE", "/v1/users/{user_id}/tokens/{family_id}", Access::admin, admin_listener, revoke_user_family);
  r.add("GET", "/.well-known/jwks.json", Access::public_, public_listener, jwks);
}

}  // namespace latchkey::server::handlers
