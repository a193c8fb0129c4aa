// OAuth: the RFC endpoints' logic: client authentication, the token endpoint's grants
// (authorization_code + PKCE, refresh_token, client_credentials), introspection and
// revocation. Tokens themselves are tokens::Service's (refresh families, opaque or JWT access
// tokens); this file decides who may get which.
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/redis/reply.hpp"
#include "latchkey/log.hpp"
#include "latchkey/metrics.hpp"
#include "latchkey/oauth.hpp"
#include "latchkey/key_schema.hpp"
#include "engine/oauth/client_cache.hpp"
#include "engine/oauth/replies.hpp"
#include "latchkey/redis/connection.hpp"
#include "latchkey/redis/slot.hpp"
#include "latchkey/clock.hpp"
#include "latchkey/identity.hpp"
#include "latchkey/oidc.hpp"

#include <boost/json.hpp>

namespace latchkey::oauth {

using boost::asio::awaitable;
using redis::unexpected_reply;

namespace {

// How long a redeemed code is remembered, so that a replay revokes what it issued.
constexpr std::int64_t kSpentCodeTtl = 600;

std::string short_id(std::string_view s) { return std::string(s.substr(0, 8)); }

}  // namespace

std::optional<std::string_view> param(const Params& form, std::string_view name) {
  for (const auto& [k, v] : form)
    if (k == name) return std::string_view(v);
  return std::nullopt;
}

outcome<Client> Service::decide_auth(result<Client> c, const PresentedClient& p, MethodRule rule) {
  if (!c) {
    if (c.error() == make_error_code(errc::not_found)) {
      count(SecurityEvent::oauth_client_auth_failure);
      return Failure(errc::invalid_client, "client authentication failed");
    }
    return c.error();
  }
  switch (check_client_auth(*c, p, rule)) {
    case ClientAuthFailure::none: return std::move(*c);
    case ClientAuthFailure::malformed:
      return Failure(errc::invalid_request, "use exactly one client authentication method");
    case ClientAuthFailure::no_client:
    case ClientAuthFailure::wrong_method:
    case ClientAuthFailure::bad_secret: break;
  }
  // Anyone can provoke this line: at most 10 a second reach the log, all are counted.
  static log::Throttle auth_failures("oauth_client_auth_failure", 10);
  count(SecurityEvent::oauth_client_auth_failure);
  auth_failures.event(log::Level::info, "oauth client authentication failed: " + c->client_id);
  return Failure(errc::invalid_client, "client authentication failed");
}

awaitable<outcome<Client>> Service::authenticate(redis::Connection& redis, const PresentedClient& p,
                                                 MethodRule rule) const {
  auto id = presented_client_id(p);
  if (!id) co_return Failure(errc::invalid_client, "client authentication is required");
  co_return decide_auth(co_await cached_client(redis, std::string(*id)), p, rule);
}

awaitable<outcome<TokenResponse>> Service::token(redis::Connection& redis, const Client& c, const Params& form,
                                                 const events::Scope* events, std::string jkt) const {
  auto grant_type = param(form, "grant_type");
  if (!grant_type) co_return Failure(errc::invalid_request, "grant_type is required");
  bool known = std::find(std::begin(kGrantTypes), std::end(kGrantTypes), *grant_type) != std::end(kGrantTypes);
  if (!known)
    co_return Failure(errc::unsupported_grant_type, "supported: authorization_code, refresh_token, client_credentials");
  if (!c.allows_grant(*grant_type))
    co_return Failure(errc::unauthorized_client, "the client is not registered for " + std::string(*grant_type));
  // RFC 9449 5.2: a client registered with dpop_bound_access_tokens never gets a Bearer token.
  if (c.dpop_bound && jkt.empty())
    co_return Failure(errc::invalid_dpop_proof, "this client must send a DPoP proof with every token request");

  if (*grant_type == "authorization_code") co_return co_await redeem_code(redis, c, form, events, std::move(jkt));

  std::optional<std::string> scope;
  if (auto s = param(form, "scope")) {
    if (!valid_scope(*s)) co_return Failure(errc::invalid_scope, "scope must be space-separated scope tokens");
    scope = std::string(*s);
  }

  if (*grant_type == "refresh_token") {
    auto rt = param(form, "refresh_token");
    if (!rt) co_return Failure(errc::invalid_request, "refresh_token is required");
    tokens::RefreshOptions o;
    o.client_id = c.client_id;
    o.scope = std::move(scope);
    o.format = s_.access_format;
    o.events = events;
    o.jkt = jkt;
    auto pair = co_await tokens_.refresh(redis, std::string(*rt), std::move(o));
    if (!pair) {
      if (pair.error() == make_error_code(errc::invalid_grant))
        co_return Failure(errc::invalid_grant,
                          "invalid, expired, revoked or reused refresh token (or not bound to this DPoP key)");
      if (pair.error() == make_error_code(errc::invalid_scope))
        co_return Failure(errc::invalid_scope, "the requested scope exceeds the scope originally granted");
      co_return pair.error();
    }
    TokenResponse out{std::move(*pair), {}};
    // OIDC Core 12.2: a refresh of an openid grant brings a new ID token (no nonce).
    if (scope_within("openid", out.pair.scope) && !out.pair.user_id.empty()) {
      auto login = co_await stored_login(redis, out.pair.user_id, out.pair.family_id);
      if (!login) co_return login.error();
      auto id = mint_id_token(c, out.pair, login->value_or(oidc::Login{}));
      if (!id) co_return id.error();
      out.id_token = std::move(*id);
    }
    co_return out;
  }

  // client_credentials: the client acts for itself (RFC 6749 4.4); no refresh token (4.4.3).
  if (scope && !scope_within(*scope, c.scope))
    co_return Failure(errc::invalid_scope, "the requested scope exceeds the client's");
  tokens::Grant g;
  g.client_id = c.client_id;
  g.scope = scope ? *scope : c.scope;
  g.audience = s_.audience;
  g.jkt = std::move(jkt);
  tokens::IssueOptions o;
  o.format = s_.access_format;
  o.refresh = false;
  auto pair = co_await tokens_.issue(redis, std::move(g), std::move(o));
  if (!pair) co_return pair.error();
  co_return TokenResponse{std::move(*pair), {}};
}

outcome<std::string> Service::mint_id_token(const Client& c, const tokens::Pair& pair, const oidc::Login& login) const {
  oidc::IdTokenInput in;
  in.issuer = s_.issuer;
  in.subject = pair.user_id;
  in.client_id = c.client_id;
  in.sid = pair.family_id;
  in.access_token = pair.access_token;
  in.scope = pair.scope;
  in.login = login;
  in.iat = unix_now();
  in.ttl = tokens_.settings().access_ttl;
  auto t = oidc::mint_id_token(tokens_.signing_ring(), in);
  if (!t)
    return Failure(errc::invalid_scope, "openid needs an asymmetric signing key (the signing ring signs with HS256)");
  return std::move(*t);
}

std::string Service::login_key(const std::string& user_id, const std::string& family_id) const {
  return key_schema::UserSlot(s_.key_prefix, redis::key_slot(user_hash(user_id))).oidc_login(family_id);
}

result<std::optional<oidc::Login>> Service::login_of(const redis::Reply& r, const std::string& key) const {
  using Out = std::optional<oidc::Login>;
  if (r.is_error()) return make_error_code(errc::redis_error);
  if (r.is_nil()) return Out{};
  auto plain = ring_.decrypt(r.str, key);
  if (!plain) return Out{};
  return oidc::from_stored_json(*plain);
}

awaitable<result<std::optional<oidc::Login>>> Service::stored_login(redis::Connection& redis,
                                                                    const std::string& user_id,
                                                                    const std::string& family_id) const {
  if (family_id.empty()) co_return std::optional<oidc::Login>{};
  std::string key = login_key(user_id, family_id);
  redis::Request req;
  req.begin(2).arg("GET").key(key);
  auto r = co_await redis.exec(std::move(req), "oidc_login_read");
  if (!r) co_return r.error();
  if (r->size() != 1) co_return make_error_code(errc::redis_error);
  co_return login_of((*r)[0], key);
}

awaitable<outcome<boost::json::object>> Service::userinfo(redis::Connection& redis, tokens::Introspection t) const {
  if (t.client_id.empty()) co_return Failure(errc::invalid_token, "not an OAuth access token");
  // A client's own token (no grant of a user) or one without openid releases nothing.
  if (!scope_within("openid", t.scope) || t.sid.empty())
    co_return Failure(errc::insufficient_scope, "the access token was not granted the openid scope");
  // The token's client (a deleted client's tokens are not active) and the grant's login, in
  // one round trip.
  std::string key = login_key(t.sub, t.sid);
  redis::Request req;
  req.begin(2).arg("EXISTS").key(key_schema::oauth_client(s_.key_prefix, t.client_id));
  req.begin(2).arg("GET").key(key);
  auto r = co_await redis.exec(std::move(req), "oidc_userinfo_read");
  if (!r) co_return r.error();
  if (r->size() != 2 || !(*r)[0].is_integer()) co_return make_error_code(errc::redis_error);
  if ((*r)[0].integer == 0) co_return Failure(errc::invalid_token, "invalid, expired or revoked token");
  auto login = login_of((*r)[1], key);
  if (!login) co_return login.error();
  if (!*login) co_return Failure(errc::invalid_token, "the grant of this access token has ended");
  boost::json::object out{{"sub", t.sub}};
  for (auto& [k, v] : oidc::released_claims((*login)->claims_json, t.scope)) out[k] = v;
  co_return out;
}

awaitable<outcome<TokenResponse>> Service::redeem_code(redis::Connection& redis, const Client& c, const Params& form,
                                                       const events::Scope* events, std::string jkt) const {
  auto code = param(form, "code");
  if (!code) co_return Failure(errc::invalid_request, "code is required");
  std::string redirect(param(form, "redirect_uri").value_or(""));
  std::string challenge;
  if (auto v = param(form, "code_verifier")) {
    if (!valid_code_verifier(*v))
      co_return Failure(errc::invalid_request, "code_verifier must be 43-128 unreserved characters (RFC 7636 4.1)");
    challenge = s256_challenge(*v);
  }
  auto slot = key_schema::handle_slot(*code, key_schema::Handle::authorization_code);
  if (!slot) co_return Failure(errc::invalid_grant, "invalid, expired or used authorization code");
  // A redirect URI the authorization request did not carry must still be one of the client's.
  if (!redirect.empty() && std::none_of(c.redirect_uris.begin(), c.redirect_uris.end(),
                                        [&](const auto& r) { return redirect_uri_matches(r, redirect); }))
    co_return Failure(errc::invalid_grant, "redirect_uri does not match the authorization request");

  std::string key = code_key(*code, *slot);
  std::string fid = crypto::random_token(16);
  key_schema::UserSlot names(s_.key_prefix, *slot);
  std::vector<std::string> keys{key, names.migration_guard()};
  std::vector<std::string> args{
      c.client_id, redirect, challenge, fid, std::to_string(kSpentCodeTtl), names.code_epoch_prefix()};
  auto r = co_await redis.eval("oauth_code_redeem", std::move(keys), std::move(args));
  if (!r) co_return r.error();
  auto redeemed = replies::code_redeem(std::move(*r));
  if (!redeemed) co_return redeemed.error();
  using O = replies::Redeemed::outcome;
  switch (redeemed->result) {
    case O::ok: break;
    case O::replay:
      // RFC 6749 10.5, RFC 9700 4.5: a code used twice is compromised; what it issued dies.
      count(SecurityEvent::code_replayed);
      log::event(log::Level::warn, "authorization code replayed: family " + short_id(redeemed->family_id) + " revoked");
      if (auto done = co_await tokens_.revoke_family(redis, *slot, redeemed->family_id, redeemed->user_hash); !done)
        co_return done.error();
      if (events) {
        events::Event e(events::Type::code_replay, {}, "family_revoked");
        e.with("family", redeemed->family_id).with("client_id", c.client_id);
        events->emit(std::move(e));
        events->grant_ended(c.client_id, {}, redeemed->family_id, "code_replay");
      }
      co_return Failure(errc::invalid_grant, "invalid, expired or used authorization code");
    case O::mismatch_pkce:
      co_return Failure(errc::invalid_grant,
                        "code_verifier does not match the code_challenge (or one of them is missing)");
    case O::mismatch_redirect_uri:
      co_return Failure(errc::invalid_grant, "redirect_uri does not match the authorization request");
    case O::mismatch_client: co_return Failure(errc::invalid_grant, "the code was issued to another client");
    case O::invalid: co_return Failure(errc::invalid_grant, "invalid, expired or used authorization code");
  }
  auto user = ring_.decrypt(redeemed->sealed_user, key);
  if (!user) co_return Failure(errc::invalid_grant, "invalid, expired or used authorization code");
  tokens::Grant g;
  g.user_id = std::move(*user);
  g.client_id = c.client_id;
  g.scope = std::move(redeemed->scope);
  g.audience = s_.audience;
  g.jkt = jkt;
  // RFC 9449 5: a public client's refresh token is bound to the key too (a confidential
  // client's is already bound to its credentials).
  if (c.is_public()) g.refresh_jkt = jkt;
  tokens::IssueOptions o;
  o.format = s_.access_format;
  o.refresh = c.allows_grant("refresh_token");
  o.family_id = fid;

  std::optional<oidc::Login> login;
  if (scope_within("openid", g.scope)) {
    // The login goes where refreshes and userinfo find it, before anything is issued: a
    // store that cannot keep it issues nothing (503).
    login.emplace();
    if (!redeemed->sealed_login.empty()) {
      auto plain = ring_.decrypt(redeemed->sealed_login, key + ":oidc");
      auto l = plain ? oidc::from_stored_json(*plain) : std::nullopt;
      if (!l) co_return Failure(errc::invalid_grant, "invalid, expired or used authorization code");
      login = std::move(*l);
    }
    std::string lkey = login_key(g.user_id, fid);
    const auto& ts = tokens_.settings();
    redis::Request put;
    put.begin(5)
        .arg("SET")
        .key(lkey)
        .arg(ring_.encrypt(oidc::stored_json(*login), lkey))
        .arg("EX")
        .arg(std::to_string(o.refresh ? ts.refresh_absolute_ttl : ts.access_ttl));
    auto w = co_await redis.exec(std::move(put), "oidc_login_store");
    if (!w) co_return w.error();
    if (w->size() != 1 || (*w)[0].is_error()) co_return make_error_code(errc::redis_error);
  }
  auto pair = co_await tokens_.issue(redis, std::move(g), std::move(o));
  if (!pair) co_return pair.error();
  TokenResponse out{std::move(*pair), {}};
  if (login) {
    auto id = mint_id_token(c, out.pair, *login);
    if (!id) co_return id.error();
    out.id_token = std::move(*id);
  }
  co_return out;
}

awaitable<outcome<std::optional<tokens::Introspection>>> Service::introspect(redis::Connection& redis,
                                                                             const PresentedClient& p,
                                                                             std::string token) const {
  using Out = std::optional<tokens::Introspection>;
  auto id = presented_client_id(p);
  if (!id) co_return Failure(errc::invalid_client, "client authentication is required");
  if (!valid_client_id(*id)) co_return Failure(errc::invalid_client, "client authentication failed");
  // The caller's record (unless this thread holds a fresh copy) and the token's state in one
  // round trip; the token's answer is used only once the caller has authenticated.
  auto cached = cache_hit(*id);
  const std::uint64_t before = ClientCache::deletions();
  redis::Request read;
  if (!cached) add_client_read(read, *id);
  auto t = co_await tokens_.introspect_after(redis, std::move(token), std::move(read));
  if (!t) co_return t.error();
  if (t->before.size() != (cached ? 0u : 1u)) co_return unexpected_reply("introspection");
  result<Client> loaded = cached ? result<Client>(std::move(*cached)) : client_of(t->before[0], std::string(*id));
  if (!cached && loaded) remember(*loaded, before);
  auto caller = decide_auth(std::move(loaded), p, MethodRule::any_secret);
  if (!caller) co_return caller.error();
  // Introspection tells whether a token is live: only a client that can prove its identity
  // may ask (RFC 7662 2.1, 4: no token scanning).
  if (caller->is_public()) co_return Failure(errc::invalid_client, "public clients cannot introspect tokens");
  if (!t->token) co_return Out{};
  // Deleting a client revokes its tokens: a token of a client that no longer exists is not
  // active. (The caller's own record was just read.)
  if (!t->token->client_id.empty() && t->token->client_id != caller->client_id) {
    auto owner = co_await client(redis, t->token->client_id);
    if (!owner) {
      if (owner.error() == make_error_code(errc::not_found)) co_return Out{};
      co_return owner.error();
    }
  }
  co_return std::move(t->token);
}

awaitable<result<void>> Service::revoke(redis::Connection& redis, const Client& caller, std::string token) const {
  auto r = co_await tokens_.revoke(redis, std::move(token), caller.client_id);
  if (!r) co_return r.error();
  co_return result<void>{};
}

}  // namespace latchkey::oauth
