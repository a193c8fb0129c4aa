// OAuth 2.0 authorization server core: the client registry and authorization codes (the
// engine API behind /v1/oauth/...). The token endpoint, introspection and revocation build
// on these (see docs/api.md#oauth-20 for what exists).
//
// Clients: `client_id` 22 characters (128 CSPRNG bits, base64url); confidential clients get
//   a 256-bit `client_secret`, shown once, stored only as SHA-256. Stored under
//   <prefix>oc:<client_id> (no TTL: clients live until deleted).
// Codes: an opaque handle (redis/slot.hpp, version 3) carrying the user's slot, 256 random
//   bits, stored only as SHA-256 under <prefix>ac:{T}:<hash> for `oauth_code_ttl` seconds,
//   bound to the client, redirect URI, user, scope and PKCE challenge.
#pragma once

#include "latchkey/crypto/aead.hpp"
#include "latchkey/error.hpp"
#include "latchkey/oidc.hpp"
#include "latchkey/tokens.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey {
struct Config;
namespace redis {
class Connection;
}
}  // namespace latchkey

namespace latchkey::oauth {

struct Settings {
  std::string key_prefix = "lk:";
  std::int64_t code_ttl = 60;
  std::int64_t client_cache_ttl = 2;  // s; 0: no cache of client records
  bool require_pkce = true;           // for confidential clients too (RFC 9700 2.1.1 recommends it)
  std::string issuer = "latchkey";    // the `iss` authorization response parameter (RFC 9207)
  tokens::AccessFormat access_format = tokens::AccessFormat::opaque;
  std::string audience;  // `aud` of access tokens; empty: none
  static Settings from(const Config& c);
};

enum class AuthMethod : std::uint8_t { client_secret_basic, client_secret_post, none };
const char* auth_method_name(AuthMethod m) noexcept;
std::optional<AuthMethod> auth_method_from_name(std::string_view s) noexcept;

// Grant types a client may be registered for. `password` and `implicit` do not exist here
// (RFC 9700 2.4, 2.1.2).
inline constexpr std::string_view kGrantTypes[] = {"authorization_code", "refresh_token", "client_credentials"};

struct Client {
  std::string client_id;
  std::string client_name;
  std::vector<std::string> redirect_uris;
  std::vector<std::string> grant_types;
  std::string scope;  // space-separated; what the client may ever be granted
  AuthMethod auth_method = AuthMethod::client_secret_basic;
  std::int64_t created_at = 0;
  std::string secret_hash;             // base64url(SHA-256(secret)); empty for public clients
  bool dpop_bound = false;             // RFC 9449 5.2 dpop_bound_access_tokens: every token request needs a proof
  std::string backchannel_logout_uri;  // OIDC Back-Channel Logout 1.0; empty: none

  bool is_public() const noexcept { return auth_method == AuthMethod::none; }
  bool allows_grant(std::string_view g) const noexcept;
};

// Registration input errors, with RFC 7591 3.2.2 codes.
// Pure rules (unit-tested):
// An absolute URI split as written (no case folding): "scheme://host[:port]rest", no userinfo,
// the port 0-65535 when given; nullopt otherwise. Redirect URIs, DPoP's htu and back-channel
// logout URIs are all read with it.
struct UriParts {
  std::string_view scheme;  // as written ("https", "http", ...)
  std::string_view host;    // as written, [::1] with brackets
  std::string_view port;    // digits, or empty
  std::string_view rest;    // path, query and fragment (from the first '/' or '?'); may be empty
};
std::optional<UriParts> split_uri(std::string_view uri);
// A registrable redirect URI: absolute, https (or http only for a loopback host: 127.0.0.1,
// [::1], localhost), no fragment, no userinfo, at most 2000 bytes, no whitespace.
bool valid_redirect_uri(std::string_view uri, std::string* why = nullptr);
// An issuer RFC 8414 metadata may be published under: an https URL without query or fragment,
// or http for a loopback host (development). Endpoint URLs are built from it, never from the
// request's Host (a cache keyed without Host could be poisoned to send codes elsewhere).
bool publishable_issuer(std::string_view issuer);
// RFC 9700 2.1: exact string match; for a loopback http URI the port may differ (RFC 8252 7.3).
bool redirect_uri_matches(std::string_view registered, std::string_view presented);
// A client id latchkey could have issued: 22 base64url characters (128 bits).
bool valid_client_id(std::string_view id);
// RFC 6749 3.3 scope syntax: scope-tokens separated by single spaces.
bool valid_scope(std::string_view scope);
// Every token of `requested` is in `allowed` (both space-separated).
bool scope_within(std::string_view requested, std::string_view allowed);
// RFC 7636 4.1 / 4.2: a verifier of 43-128 unreserved characters; its S256 challenge.
bool valid_code_verifier(std::string_view v);
std::string s256_challenge(std::string_view verifier);
// `uri` with `params` added to its query (values percent-encoded).
std::string add_query(std::string_view uri, const std::vector<std::pair<std::string, std::string>>& params);

// How a client presented itself at a token, introspection or revocation endpoint (RFC 6749
// 2.3): by HTTP Basic, or by `client_id` (+ `client_secret`) in the body.
struct PresentedClient {
  bool basic = false;  // an Authorization: Basic header was sent
  std::string basic_id, basic_secret;
  std::optional<std::string> body_id, body_secret;
};

enum class ClientAuthFailure : std::uint8_t {
  none,
  malformed,     // invalid_request: two methods at once, or ids that disagree (RFC 6749 2.3)
  no_client,     // invalid_client: no client identified
  wrong_method,  // invalid_client: not the client's registered method (incl. a public client sending a secret)
  bad_secret,    // invalid_client: missing or wrong secret
};
// The client id the request names (Basic wins), if any.
std::optional<std::string> presented_client_id(const PresentedClient& p);
// Which secret methods an endpoint accepts from a confidential client: the token endpoint
// only the registered one (RFC 7591); introspection and revocation either (stock clients such
// as Authlib use Basic there whatever the token endpoint's method; the secret is the same).
enum class MethodRule : std::uint8_t { registered, any_secret };
// Pure decision for a loaded client: the method used must be allowed by `rule`, a public
// client must not send a secret, a confidential one must send the right one (compared as
// SHA-256 digests in constant time).
ClientAuthFailure check_client_auth(const Client& c, const PresentedClient& p,
                                    MethodRule rule = MethodRule::registered);

struct NewClient {
  std::string client_name;
  std::vector<std::string> redirect_uris;
  std::vector<std::string> grant_types = {"authorization_code"};
  std::string scope;
  AuthMethod auth_method = AuthMethod::client_secret_basic;
  bool dpop_bound = false;
  std::string backchannel_logout_uri;
};

struct Registered {
  Client client;
  std::string client_secret;  // only for confidential clients, only here
};

// An authorization request as the backend received it, plus the user it authenticated.
// OpenID Connect: what the backend knows of the login, for the ID token (oidc.hpp).
struct AuthorizationRequest {
  std::string client_id, redirect_uri, response_type, scope, state, code_challenge, code_challenge_method, user_id;
  oidc::Login login;
  std::optional<std::int64_t> max_age;  // OIDC Core 3.1.2.1: refuse (login_required) an older auth_time
};

// A refusal of the authorization endpoint (RFC 6749 4.1.2.1): the code and description, and
// the client's redirect URI carrying them. `redirect_to` is set only when the client and
// redirect URI were valid, so latchkey never becomes an open redirector.
struct AuthorizationFailure : Failure {
  using Failure::Failure;
  std::string redirect_to;
};

struct IssuedCode {
  std::string code;
  std::string redirect_to;
  std::int64_t expires_in = 0;
};

// What the token endpoint answers: the pair, and with scope `openid` an ID token.
struct TokenResponse {
  tokens::Pair pair;
  std::string id_token;
};

// A form-encoded request's parameters (each name at most once).
using Params = std::vector<std::pair<std::string, std::string>>;

class Service {
 public:
  Service(Settings settings, const crypto::KeyRing& ring, const tokens::Service& tokens)
      : s_(std::move(settings)), ring_(ring), tokens_(tokens), cache_owner_(new_cache_owner()) {}
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;
  const Settings& settings() const noexcept { return s_; }

  // Validates and stores a client. Returns the metadata error, or the client and its secret.
  static std::optional<Failure> check(const NewClient& c);
  [[nodiscard]] boost::asio::awaitable<result<Registered>> register_client(redis::Connection& redis, NewClient c) const;
  // errc: not_found, unavailable.
  [[nodiscard]] boost::asio::awaitable<result<Client>> client(redis::Connection& redis, std::string client_id) const;
  // Up to `limit` clients in id order after `after` (empty: from the first); `next` is the
  // cursor of the following page, empty at the end. Ids whose record is gone are pruned.
  struct ClientPage {
    std::vector<Client> clients;
    std::string next;
  };
  [[nodiscard]] boost::asio::awaitable<result<ClientPage>> list_clients(redis::Connection& redis, std::string after,
                                                                        std::size_t limit) const;
  // errc: not_found, unavailable.
  [[nodiscard]] boost::asio::awaitable<result<void>> delete_client(redis::Connection& redis,
                                                                   std::string client_id) const;

  // The authorization endpoint. On success the code; a refusal carries its RFC 6749 code
  // (invalid_request, unsupported_response_type, unauthorized_client, invalid_scope), its
  // description and, once the redirect URI is trusted, where to send the user. errc: unavailable.
  [[nodiscard]] boost::asio::awaitable<outcome<IssuedCode, AuthorizationFailure>> authorize(
      redis::Connection& redis, AuthorizationRequest req) const;

  // Client authentication at the RFC endpoints (RFC 6749 2.3). Failures: invalid_client, or
  // invalid_request for a malformed presentation, each with its reason; unavailable.
  [[nodiscard]] boost::asio::awaitable<outcome<Client>> authenticate(redis::Connection& redis, const PresentedClient& p,
                                                                     MethodRule rule) const;
  // The token endpoint (RFC 6749 4.1.3, 4.4, 6; RFC 7636 4.5) for an authenticated client.
  // `jkt`: the key of the request's accepted DPoP proof (RFC 9449 5), empty when none; the
  // access token is bound to it, and a public client's refresh token too. With scope
  // `openid` the answer has an ID token (OpenID Connect Core 3.1.3.3, 12.2).
  // Failures: the RFC 6749 5.2 codes with their reasons, invalid_dpop_proof (the client
  // requires DPoP and sent none); unavailable.
  // A replayed code or a reused refresh token is reported to `events` (when given).
  [[nodiscard]] boost::asio::awaitable<outcome<TokenResponse>> token(redis::Connection& redis, const Client& client,
                                                                     const Params& form, const events::Scope* events,
                                                                     std::string jkt) const;
  // OpenID Connect UserInfo (Core 5.3): the released claims of the grant an access token
  // (already found active, `t`) came from, with `sub`. Failures: insufficient_scope (no
  // `openid`, or a client's own token), invalid_token (its client deleted, or the grant's
  // login gone); unavailable.
  [[nodiscard]] boost::asio::awaitable<outcome<boost::json::object>> userinfo(redis::Connection& redis,
                                                                              tokens::Introspection t) const;

  // RFC 7662: authenticates the caller (a confidential client, either secret method) and
  // looks the token up in the same round trip. nullopt when the token is not active (unknown,
  // expired, revoked, malformed, or its client deleted). Failures: invalid_client with its
  // reason; unavailable.
  [[nodiscard]] boost::asio::awaitable<outcome<std::optional<tokens::Introspection>>> introspect(
      redis::Connection& redis, const PresentedClient& caller, std::string token) const;
  // RFC 7009: revokes the token if it is the caller's; unknown tokens and other clients'
  // tokens change nothing. errc: unavailable (the revocation may not have happened).
  [[nodiscard]] boost::asio::awaitable<result<void>> revoke(redis::Connection& redis, const Client& caller,
                                                            std::string token) const;

 private:
  // The client record: one HMGET appended to `req`; client_of() reads its reply.
  void add_client_read(redis::Request& req, std::string_view client_id) const;
  [[nodiscard]] static result<Client> client_of(const redis::Reply& r, std::string client_id);
  // The record from this thread's cache (Settings::client_cache_ttl), else read and kept.
  [[nodiscard]] boost::asio::awaitable<result<Client>> cached_client(redis::Connection& redis,
                                                                     std::string client_id) const;
  // This thread's fresh cached copy, if any.
  [[nodiscard]] std::optional<Client> cache_hit(std::string_view client_id) const;
  // Keeps a record read after `deletions_before_read` (ClientCache::deletions()).
  void remember(const Client& c, std::uint64_t deletions_before_read) const;
  static std::uint64_t new_cache_owner() noexcept;
  // The authentication decision on a loaded client (or a failed load).
  [[nodiscard]] static outcome<Client> decide_auth(result<Client> c, const PresentedClient& p, MethodRule rule);
  // <prefix>ac:{T}:<sha256(code)>
  std::string code_key(std::string_view code, std::uint16_t slot) const;
  [[nodiscard]] boost::asio::awaitable<outcome<TokenResponse>> redeem_code(redis::Connection& redis,
                                                                           const Client& client, const Params& form,
                                                                           const events::Scope* events,
                                                                           std::string jkt) const;
  // The ID token of a pair issued to `client` (OIDC Core 3.1.3.6, 12.2).
  [[nodiscard]] outcome<std::string> mint_id_token(const Client& client, const tokens::Pair& pair,
                                                   const oidc::Login& login) const;
  // <prefix>oi:{T}:<family>, and what its GET answered (nullopt: gone, or not readable).
  std::string login_key(const std::string& user_id, const std::string& family_id) const;
  [[nodiscard]] result<std::optional<oidc::Login>> login_of(const redis::Reply& r, const std::string& key) const;
  // The login behind a family (oidc_login key), or nullopt when gone.
  [[nodiscard]] boost::asio::awaitable<result<std::optional<oidc::Login>>> stored_login(
      redis::Connection& redis, const std::string& user_id, const std::string& family_id) const;
  Settings s_;
  const crypto::KeyRing& ring_;
  const tokens::Service& tokens_;
  const std::uint64_t cache_owner_;  // whose entries a thread's client cache holds
};

// The value of a form parameter, if present.
std::optional<std::string_view> param(const Params& form, std::string_view name);

}  // namespace latchkey::oauth
