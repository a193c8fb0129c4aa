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

awaitable<outcome<tokens::Pair>> Service::token(redis::Connection& redis, const Client& c, const Params& form,
                                                const events::Scope* events) const {
  auto grant_type = param(form, "grant_type");
  if (!grant_type) co_return Failure(errc::invalid_request, "grant_type is required");
  bool known = std::find(std::begin(kGrantTypes), std::end(kGrantTypes), *grant_type) != std::end(kGrantTypes);
  if (!known)
    co_return Failure(errc::unsupported_grant_type, "supported: authorization_code, refresh_token, client_credentials");
  if (!c.allows_grant(*grant_type))
    co_return Failure(errc::unauthorized_client, "the client is not registered for " + std::string(*grant_type));

  if (*grant_type == "authorization_code") co_return co_await redeem_code(redis, c, form, events);

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
    auto pair = co_await tokens_.refresh(redis, std::string(*rt), std::move(o));
    if (!pair) {
      if (pair.error() == make_error_code(errc::invalid_grant))
        co_return Failure(errc::invalid_grant, "invalid, expired, revoked or reused refresh token");
      if (pair.error() == make_error_code(errc::invalid_scope))
        co_return Failure(errc::invalid_scope, "the requested scope exceeds the scope originally granted");
      co_return pair.error();
    }
    co_return std::move(*pair);
  }

  // client_credentials: the client acts for itself (RFC 6749 4.4); no refresh token (4.4.3).
  if (scope && !scope_within(*scope, c.scope))
    co_return Failure(errc::invalid_scope, "the requested scope exceeds the client's");
  tokens::Grant g;
  g.client_id = c.client_id;
  g.scope = scope ? *scope : c.scope;
  g.audience = s_.audience;
  tokens::IssueOptions o;
  o.format = s_.access_format;
  o.refresh = false;
  co_return as_outcome(co_await tokens_.issue(redis, std::move(g), std::move(o)));
}

awaitable<outcome<tokens::Pair>> Service::redeem_code(redis::Connection& redis, const Client& c, const Params& form,
                                                      const events::Scope* events) const {
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
  tokens::IssueOptions o;
  o.format = s_.access_format;
  o.refresh = c.allows_grant("refresh_token");
  o.family_id = fid;
  co_return as_outcome(co_await tokens_.issue(redis, std::move(g), std::move(o)));
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
