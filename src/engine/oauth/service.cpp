// OAuth: the Service (client registry and authorization codes) on Redis.
#include "latchkey/identity.hpp"
#include "latchkey/config.hpp"
#include "latchkey/redis/reply.hpp"
#include "latchkey/clock.hpp"
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/oauth.hpp"
#include "latchkey/key_schema.hpp"
#include "latchkey/redis/connection.hpp"
#include "latchkey/redis/slot.hpp"
#include "latchkey/sessions.hpp"
#include "engine/oauth/client_cache.hpp"

#include <boost/json.hpp>

#include <atomic>
#include <chrono>

namespace latchkey::oauth {
namespace json = boost::json;

using boost::asio::awaitable;
using redis::integer_of;
using redis::unexpected_reply;

namespace {

constexpr std::size_t kMaxRedirectUris = 10;
constexpr std::size_t kMaxStateBytes = 1024;

std::string join(const std::vector<std::string>& v, char sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out.push_back(sep);
    out += s;
  }
  return out;
}

std::atomic<std::uint64_t> g_cache_owners{0};

// This thread's client cache, emptied when another Service (a reload's) starts using it.
ClientCache& thread_cache(std::uint64_t owner) {
  thread_local std::uint64_t t_owner = 0;
  thread_local ClientCache t_cache;
  if (t_owner != owner) {
    t_cache.clear();
    t_owner = owner;
  }
  return t_cache;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto p = s.find(sep);
    out.emplace_back(s.substr(0, p));
    if (p == std::string_view::npos) break;
    s.remove_prefix(p + 1);
  }
  return out;
}

}  // namespace

std::string Service::code_key(std::string_view code, std::uint16_t slot) const {
  return key_schema::UserSlot(s_.key_prefix, slot).authorization_code(crypto::sha256_base64url(code));
}

Settings Settings::from(const Config& c) {
  Settings s;
  s.key_prefix = c.key_prefix;
  s.code_ttl = c.oauth_code_ttl.count();
  s.client_cache_ttl = c.oauth_client_cache_ttl.count();
  s.require_pkce = c.oauth_require_pkce;
  s.issuer = c.token_issuer;
  s.access_format = c.oauth_access_token_format == "jwt" ? tokens::AccessFormat::jwt : tokens::AccessFormat::opaque;
  s.audience = c.oauth_access_token_audience;
  return s;
}

std::optional<Failure> Service::check(const NewClient& c) {
  if (c.client_name.size() > 200) return Failure{errc::invalid_client_metadata, "client_name is longer than 200 bytes"};
  if (c.grant_types.empty()) return Failure{errc::invalid_client_metadata, "grant_types must not be empty"};
  for (const auto& g : c.grant_types) {
    if (std::find(std::begin(kGrantTypes), std::end(kGrantTypes), g) == std::end(kGrantTypes))
      return Failure{errc::invalid_client_metadata,
                     "grant type '" + g + "' is not supported (authorization_code, refresh_token, client_credentials)"};
  }
  auto has = [&](std::string_view g) {
    return std::find(c.grant_types.begin(), c.grant_types.end(), g) != c.grant_types.end();
  };
  if (c.auth_method == AuthMethod::none && has("client_credentials"))
    return Failure{errc::invalid_client_metadata,
                   "a public client (token_endpoint_auth_method none) cannot use client_credentials"};
  if (has("refresh_token") && !has("authorization_code"))
    return Failure{errc::invalid_client_metadata, "refresh_token needs authorization_code"};
  if (has("authorization_code") && c.redirect_uris.empty())
    return Failure{errc::invalid_redirect_uri, "authorization_code needs at least one redirect URI"};
  if (c.redirect_uris.size() > kMaxRedirectUris) return Failure{errc::invalid_redirect_uri, "at most 10 redirect URIs"};
  for (const auto& u : c.redirect_uris) {
    std::string why;
    if (!valid_redirect_uri(u, &why))
      return Failure{errc::invalid_redirect_uri, "redirect URI '" + u.substr(0, 100) + "' " + why};
  }
  if (!c.scope.empty() && !valid_scope(c.scope))
    return Failure{errc::invalid_client_metadata, "scope must be space-separated scope tokens (RFC 6749 3.3)"};
  if (!c.backchannel_logout_uri.empty()) {
    std::string why;
    // The same rules as a redirect URI (absolute, https or loopback http, no fragment).
    if (!valid_redirect_uri(c.backchannel_logout_uri, &why))
      return Failure{errc::invalid_client_metadata, "backchannel_logout_uri " + why};
  }
  return std::nullopt;
}

awaitable<result<Registered>> Service::register_client(redis::Connection& redis, NewClient c) const {
  if (check(c)) co_return make_error_code(errc::invalid_request);
  Registered out;
  Client& cl = out.client;
  cl.client_id = crypto::random_token(16);
  cl.client_name = std::move(c.client_name);
  cl.redirect_uris = std::move(c.redirect_uris);
  cl.grant_types = std::move(c.grant_types);
  cl.scope = std::move(c.scope);
  cl.auth_method = c.auth_method;
  cl.dpop_bound = c.dpop_bound;
  cl.backchannel_logout_uri = std::move(c.backchannel_logout_uri);
  cl.created_at = unix_now();
  if (!cl.is_public()) {
    out.client_secret = crypto::random_token(32);
    cl.secret_hash = crypto::sha256_base64url(out.client_secret);
  }
  redis::Request req;
  req.begin(20)
      .arg("HSET")
      .key(key_schema::oauth_client(s_.key_prefix, cl.client_id))
      .arg("n")
      .arg(cl.client_name)
      .arg("r")
      .arg(join(cl.redirect_uris, '\n'))
      .arg("g")
      .arg(join(cl.grant_types, ' '))
      .arg("s")
      .arg(cl.scope)
      .arg("m")
      .arg(auth_method_name(cl.auth_method))
      .arg("h")
      .arg(cl.secret_hash)
      .arg("ct")
      .arg(std::to_string(cl.created_at))
      .arg("d")
      .arg(cl.dpop_bound ? "1" : "")
      .arg("b")
      .arg(cl.backchannel_logout_uri);
  // The index after the record: a listed id always has one (a crash between the two leaves
  // a client that works and is not listed, never a listed one that does not exist).
  req.begin(4).arg("ZADD").key(key_schema::oauth_client_index(s_.key_prefix)).arg("0").arg(cl.client_id);
  auto r = co_await redis.exec(std::move(req), "oauth_client_register");
  if (!r) co_return r.error();
  if (r->size() != 2 || (*r)[0].is_error() || (*r)[1].is_error()) co_return make_error_code(errc::redis_error);
  co_return out;
}

void Service::add_client_read(redis::Request& req, std::string_view client_id) const {
  req.begin(11)
      .arg("HMGET")
      .key(key_schema::oauth_client(s_.key_prefix, client_id))
      .arg("n")
      .arg("r")
      .arg("g")
      .arg("s")
      .arg("m")
      .arg("h")
      .arg("ct")
      .arg("d")
      .arg("b");
}

result<Client> Service::client_of(const redis::Reply& r, std::string client_id) {
  if (r.is_error()) return make_error_code(errc::redis_error);
  const auto& f = r.elements;
  if (f.size() != 9) return unexpected_reply("HMGET client");
  if (f[4].is_nil()) return make_error_code(errc::not_found);
  auto method = auth_method_from_name(f[4].str);
  if (!method) return unexpected_reply("HMGET client (method)");
  Client c;
  c.client_id = std::move(client_id);
  c.client_name = f[0].str;
  c.redirect_uris = split(f[1].str, '\n');
  c.grant_types = split(f[2].str, ' ');
  c.scope = f[3].str;
  c.auth_method = *method;
  c.secret_hash = f[5].str;
  c.created_at = integer_of(f[6]);
  c.dpop_bound = f[7].str == "1";  // absent in records of earlier versions: not required
  c.backchannel_logout_uri = f[8].str;
  return c;
}

awaitable<result<Client>> Service::client(redis::Connection& redis, std::string client_id) const {
  if (!valid_client_id(client_id)) co_return make_error_code(errc::not_found);
  redis::Request req;
  add_client_read(req, client_id);
  auto r = co_await redis.exec(std::move(req), "oauth_client_read");
  if (!r) co_return r.error();
  if (r->size() != 1) co_return make_error_code(errc::redis_error);
  co_return client_of((*r)[0], std::move(client_id));
}

std::uint64_t Service::new_cache_owner() noexcept { return g_cache_owners.fetch_add(1) + 1; }

std::optional<Client> Service::cache_hit(std::string_view client_id) const {
  if (s_.client_cache_ttl <= 0) return std::nullopt;
  const Client* c = thread_cache(cache_owner_).get(client_id, ClientCache::Clock::now());
  if (!c) return std::nullopt;
  return *c;
}

void Service::remember(const Client& c, std::uint64_t deletions_before_read) const {
  if (s_.client_cache_ttl <= 0) return;
  auto now = ClientCache::Clock::now();
  thread_cache(cache_owner_).put(c, deletions_before_read, now + std::chrono::seconds(s_.client_cache_ttl), now);
}

awaitable<result<Client>> Service::cached_client(redis::Connection& redis, std::string client_id) const {
  if (auto hit = cache_hit(client_id)) co_return std::move(*hit);
  const std::uint64_t before = ClientCache::deletions();
  auto c = co_await client(redis, std::move(client_id));
  if (c) remember(*c, before);
  co_return c;
}

awaitable<result<Service::ClientPage>> Service::list_clients(redis::Connection& redis, std::string after,
                                                             std::size_t limit) const {
  const std::string index = key_schema::oauth_client_index(s_.key_prefix);
  redis::Request req;
  req.begin(8)
      .arg("ZRANGE")
      .key(index)
      .arg(after.empty() ? std::string("-") : "(" + after)
      .arg("+")
      .arg("BYLEX")
      .arg("LIMIT")
      .arg("0")
      .arg(std::to_string(limit + 1));
  auto ids = co_await redis.exec(std::move(req), "oauth_client_index");
  if (!ids) co_return ids.error();
  if (ids->size() != 1 || !(*ids)[0].is_array()) co_return make_error_code(errc::redis_error);
  std::vector<std::string> page;
  for (const auto& e : (*ids)[0].elements)
    if (valid_client_id(e.str)) page.push_back(e.str);
  ClientPage out;
  if (page.size() > limit) {
    page.resize(limit);
    out.next = page.back();
  }
  if (page.empty()) co_return out;
  redis::Request reads;
  for (const auto& id : page) add_client_read(reads, id);
  auto r = co_await redis.exec(std::move(reads), "oauth_client_read");
  if (!r) co_return r.error();
  if (r->size() != page.size()) co_return make_error_code(errc::redis_error);
  std::vector<std::string> gone;
  for (std::size_t i = 0; i < page.size(); ++i) {
    auto c = client_of((*r)[i], page[i]);
    if (c)
      out.clients.push_back(std::move(*c));
    else if (c.error() == make_error_code(errc::not_found))
      gone.push_back(page[i]);
    else
      co_return c.error();
  }
  if (!gone.empty()) {
    // Deleted between the two reads, or a delete cut off after its DEL: drop the ids. A
    // failed prune changes nothing the answer says; the next list tries again.
    redis::Request zrem;
    zrem.begin(2 + gone.size()).arg("ZREM").key(index);
    for (const auto& id : gone) zrem.arg(id);
    (void)co_await redis.exec(std::move(zrem), "oauth_client_index_prune");
  }
  co_return out;
}

awaitable<result<void>> Service::delete_client(redis::Connection& redis, std::string client_id) const {
  if (!valid_client_id(client_id)) co_return make_error_code(errc::not_found);
  redis::Request req;
  req.begin(2).arg("DEL").key(key_schema::oauth_client(s_.key_prefix, client_id));
  req.begin(3).arg("ZREM").key(key_schema::oauth_client_index(s_.key_prefix)).arg(client_id);
  auto r = co_await redis.exec(std::move(req), "oauth_client_delete");
  ClientCache::deleted();  // sent, whatever the answer: no thread here trusts a copy any more
  if (!r) co_return r.error();
  if (r->size() != 2 || !(*r)[0].is_integer()) co_return make_error_code(errc::redis_error);
  if ((*r)[0].integer == 0) co_return make_error_code(errc::not_found);
  co_return result<void>{};
}

awaitable<outcome<IssuedCode, AuthorizationFailure>> Service::authorize(redis::Connection& redis,
                                                                        AuthorizationRequest q) const {
  auto fail = [&](errc code, std::string description, std::string_view redirect = {}) {
    AuthorizationFailure f(code, std::move(description));
    if (!redirect.empty()) {
      std::vector<std::pair<std::string, std::string>> params{{"error", error_name(code)},
                                                              {"error_description", f.description}};
      if (!q.state.empty()) params.emplace_back("state", q.state);
      params.emplace_back("iss", s_.issuer);
      f.redirect_to = add_query(redirect, params);
    }
    return f;
  };
  // Errors the backend or the client itself must see: never redirected (RFC 6749 4.1.2.1,
  // RFC 9700 2.1: no open redirector).
  if (!valid_user_id(q.user_id))
    co_return fail(errc::invalid_request, "user_id must be 1-256 bytes of UTF-8 without control characters");
  if (q.client_id.empty()) co_return fail(errc::invalid_request, "client_id is required");
  auto c = co_await cached_client(redis, q.client_id);
  if (!c) {
    if (c.error() == make_error_code(errc::not_found)) co_return fail(errc::invalid_request, "unknown client_id");
    co_return c.error();
  }
  std::string redirect;
  if (q.redirect_uri.empty()) {
    if (c->redirect_uris.size() != 1)
      co_return fail(errc::invalid_request, "redirect_uri is required (the client has several registered)");
    redirect = c->redirect_uris.front();
  } else {
    for (const auto& r : c->redirect_uris)
      if (redirect_uri_matches(r, q.redirect_uri)) redirect = q.redirect_uri;
    if (redirect.empty())
      co_return fail(errc::invalid_request, "redirect_uri does not match a registered redirect URI");
  }
  if (q.state.size() > kMaxStateBytes) co_return fail(errc::invalid_request, "state is longer than 1024 bytes");
  // From here on the error goes back to the client through its redirect URI.
  if (q.response_type != "code")
    co_return fail(errc::unsupported_response_type, "only response_type=code is supported", redirect);
  if (!c->allows_grant("authorization_code"))
    co_return fail(errc::unauthorized_client, "the client is not registered for authorization_code", redirect);
  std::string scope = q.scope.empty() ? c->scope : q.scope;
  if (!scope.empty() && (!valid_scope(scope) || !scope_within(scope, c->scope)))
    co_return fail(errc::invalid_scope, "the requested scope is malformed or exceeds the client's", redirect);
  // OpenID Connect: what the backend says of the login. Malformed input is the backend's
  // mistake (not redirected); an old login is the user's (login_required, redirected).
  const bool openid = scope_within("openid", scope);
  const std::int64_t now = unix_now();
  if (auto why = oidc::check(q.login, now, tokens_.settings().leeway)) co_return fail(errc::invalid_request, *why);
  if (q.max_age) {
    if (*q.max_age < 0) co_return fail(errc::invalid_request, "max_age must be a non-negative integer");
    if (!q.login.auth_time) co_return fail(errc::invalid_request, "max_age needs auth_time (when the user logged in)");
    if (now - *q.login.auth_time > *q.max_age)
      co_return fail(errc::login_required, "the login is older than max_age: authenticate the user again", redirect);
  }
  if (openid && tokens_.signing_ring().signer(now).symmetric())
    co_return fail(errc::invalid_scope, "openid needs an asymmetric signing key (the signing ring signs with HS256)",
                   redirect);
  if (q.code_challenge.empty()) {
    if (!q.code_challenge_method.empty())
      co_return fail(errc::invalid_request, "code_challenge_method without code_challenge", redirect);
    if (c->is_public() || s_.require_pkce)
      co_return fail(errc::invalid_request, "PKCE is required: send code_challenge with code_challenge_method=S256",
                     redirect);
  } else {
    if (q.code_challenge_method != "S256")
      co_return fail(errc::invalid_request, "code_challenge_method must be S256 (plain is not supported)", redirect);
    auto raw = crypto::base64url_decode(q.code_challenge);
    if (q.code_challenge.size() != 43 || !raw || raw->size() != 32)
      co_return fail(errc::invalid_request, "code_challenge must be BASE64URL(SHA256(code_verifier)), 43 characters",
                     redirect);
  }

  std::string uh = user_hash(q.user_id);
  std::uint16_t slot = redis::key_slot(uh);
  IssuedCode out;
  out.code = key_schema::new_handle(key_schema::Handle::authorization_code, slot);
  std::string key = code_key(out.code, slot);
  std::vector<std::string> keys{key};
  // "ct": created at (us), on Redis's clock: a "revoke all" of the user after it refuses the code.
  std::vector<std::string> args{std::to_string(s_.code_ttl), "ct", "c", c->client_id,
                                // As sent: the token request must repeat it only if it was sent (RFC 6749 4.1.3).
                                "r", q.redirect_uri, "s", scope, "cc", q.code_challenge, "u",
                                ring_.encrypt(q.user_id, key), "uh", uh};
  if (openid) {
    // The nonce goes with the code (its ID token only); the rest is kept for the grant.
    json::object login = json::parse(oidc::stored_json(q.login)).as_object();
    if (!q.login.nonce.empty()) login["n"] = q.login.nonce;
    args.insert(args.end(), {"o", ring_.encrypt(json::serialize(login), key + ":oidc")});
  }
  auto r = co_await redis.eval("hash_create", std::move(keys), std::move(args));
  if (!r) co_return r.error();
  if (r->is_error()) co_return make_error_code(errc::redis_error);
  std::vector<std::pair<std::string, std::string>> params{{"code", out.code}};
  if (!q.state.empty()) params.emplace_back("state", q.state);
  params.emplace_back("iss", s_.issuer);  // RFC 9207: lets the client detect mix-up attacks
  out.redirect_to = add_query(redirect, params);
  out.expires_in = s_.code_ttl;
  co_return out;
}

}  // namespace latchkey::oauth
