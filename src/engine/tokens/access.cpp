// Access tokens, the pure part: minting and local verification (no I/O; also built into the
// fuzzing targets).
#include "latchkey/config.hpp"
#include "latchkey/tokens.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>

namespace latchkey::tokens {
namespace json = boost::json;

Settings Settings::from(const Config& c) {
  Settings s;
  s.key_prefix = c.key_prefix;
  s.issuer = c.token_issuer;
  s.access_ttl = c.token_access_ttl;
  s.leeway = c.token_leeway;
  s.allowed = crypto::jws::AlgSet::parse(c.token_algorithms).value_or(crypto::jws::AlgSet{});
  s.refresh_idle_ttl = c.token_refresh_idle_ttl;
  s.refresh_absolute_ttl = c.token_refresh_absolute_ttl;
  s.grace = c.token_refresh_grace;
  s.max_bytes = c.token_max_bytes;
  s.max_families = c.token_max_families_per_user;
  s.wait_replicas = c.redis_wait_replicas;
  s.wait_timeout = c.redis_wait_timeout;
  return s;
}

bool reserved_claim(std::string_view name) noexcept {
  static constexpr std::string_view kReserved[] = {
      "iss", "sub", "aud", "exp", "nbf", "iat", "jti",                    // RFC 7519 4.1
      "scope", "client_id", "sid", "typ", "cnf", "act", "may_act",        // RFC 9068, 8693, 7800
      "auth_time", "acr", "amr", "azp", "nonce", "at_hash", "c_hash"};    // OpenID Connect
  return std::find(std::begin(kReserved), std::end(kReserved), name) != std::end(kReserved);
}

namespace {

crypto::jws::VerifyOptions verify_options(const Settings& s) {
  crypto::jws::VerifyOptions o;
  o.allowed = s.allowed;
  o.max_bytes = s.max_bytes;
  o.require_kid = true;
  o.json_payload = true;
  return o;
}

bool typ_is_access_token(std::string_view typ) {
  auto lower = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(static_cast<unsigned char>(x)) == y; });
  };
  return lower(typ, "at+jwt") || lower(typ, "application/at+jwt");  // RFC 9068 2.1, RFC 7515 4.1.9
}

std::optional<std::int64_t> int_claim(const json::object& c, std::string_view name) {
  const auto* v = c.if_contains(name);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(v->as_uint64());
  return std::nullopt;
}

const json::string* string_claim(const json::object& c, std::string_view name) {
  const auto* v = c.if_contains(name);
  return v && v->is_string() ? &v->as_string() : nullptr;
}

}  // namespace

AccessTokens::AccessTokens(const crypto::SigningRing& ring, const Settings& s)
    : ring_(ring), s_(s), verifier_(ring.verification_keys(), verify_options(s)) {}

std::string AccessTokens::mint(const Grant& g, std::string_view jti, std::string_view sid, std::int64_t now) const {
  const auto& key = ring_.signer(now);
  json::object header{{"alg", crypto::jws::alg_name(key.alg())}, {"kid", key.kid()}, {"typ", "at+jwt"}};
  json::object claims{{"iss", s_.issuer}, {"sub", g.user_id}};
  if (!g.audience.empty()) claims["aud"] = g.audience;
  claims["iat"] = now;
  claims["nbf"] = now;
  claims["exp"] = now + s_.access_ttl;
  claims["jti"] = jti;
  claims["sid"] = sid;
  if (!g.scope.empty()) claims["scope"] = g.scope;
  if (g.claims_json != "{}") {
    json::value custom = json::parse(g.claims_json);
    for (auto& [k, v] : custom.as_object())
      if (!reserved_claim(k)) claims[k] = v;
  }
  return crypto::jws::sign_compact(key, json::serialize(header), json::serialize(claims));
}

std::variant<AccessClaims, std::string> AccessTokens::check(std::string_view token, std::int64_t now,
                                                            std::optional<std::string_view> audience) const {
  auto r = verifier_.verify(token);
  if (auto* why = std::get_if<crypto::jws::Reject>(&r)) return std::string(crypto::jws::reject_name(*why));
  auto& v = std::get<crypto::jws::Verified>(r);
  const auto* typ = string_claim(v.header, "typ");
  if (!typ || !typ_is_access_token(*typ)) return std::string("wrong_typ");
  const json::object& c = v.claims;
  const auto* iss = string_claim(c, "iss");
  if (!iss || *iss != s_.issuer) return std::string("wrong_iss");
  const auto* sub = string_claim(c, "sub");
  const auto* jti = string_claim(c, "jti");
  auto exp = int_claim(c, "exp");
  auto iat = int_claim(c, "iat");
  if (!sub || sub->empty() || !jti || jti->empty() || jti->size() > 128 || !exp || !iat)
    return std::string("missing_claim");
  if (now - s_.leeway >= *exp) return std::string("expired");
  if (c.contains("nbf")) {
    auto nbf = int_claim(c, "nbf");
    if (!nbf) return std::string("missing_claim");
    if (now + s_.leeway < *nbf) return std::string("not_yet_valid");
  }
  if (*iat > now + s_.leeway) return std::string("issued_in_future");
  // Audience (RFC 8725 3.9, RFC 9068 4): exact match against the caller's identity.
  if (audience) {
    bool aud_ok = false;
    if (const auto* aud = c.if_contains("aud")) {
      if (aud->is_string()) {
        aud_ok = !audience->empty() && aud->as_string() == *audience;
      } else if (aud->is_array()) {
        for (const auto& a : aud->as_array())
          aud_ok = aud_ok || (a.is_string() && !audience->empty() && a.as_string() == *audience);
      }
    } else {
      aud_ok = audience->empty();
    }
    if (!aud_ok) return std::string("wrong_aud");
  }
  AccessClaims out;
  out.payload_json = std::move(v.payload);
  out.sub = std::string(*sub);
  out.jti = std::string(*jti);
  if (const auto* sid = string_claim(c, "sid")) out.sid = std::string(*sid);
  out.iat = *iat;
  out.exp = *exp;
  return out;
}

}  // namespace latchkey::tokens
