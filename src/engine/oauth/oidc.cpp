// OpenID Connect, the pure part (include/latchkey/oidc.hpp): login checks, released claims,
// ID token minting.
#include "latchkey/oidc.hpp"

#include "latchkey/crypto/primitives.hpp"
#include "latchkey/oauth.hpp"
#include "latchkey/utf8.hpp"

#include <boost/json.hpp>
#include <openssl/evp.h>

#include <algorithm>

namespace latchkey::oidc {
namespace json = boost::json;

namespace {

enum class Kind : std::uint8_t { string, boolean, number, object };

struct Standard {
  std::string_view name;
  Kind kind;
  std::string_view scope;  // the scope that releases it (OIDC Core 5.4)
};

// OIDC Core 5.1, without `sub` (latchkey sets it: the user id).
constexpr Standard kStandard[] = {
    {"name", Kind::string, "profile"},
    {"family_name", Kind::string, "profile"},
    {"given_name", Kind::string, "profile"},
    {"middle_name", Kind::string, "profile"},
    {"nickname", Kind::string, "profile"},
    {"preferred_username", Kind::string, "profile"},
    {"profile", Kind::string, "profile"},
    {"picture", Kind::string, "profile"},
    {"website", Kind::string, "profile"},
    {"gender", Kind::string, "profile"},
    {"birthdate", Kind::string, "profile"},
    {"zoneinfo", Kind::string, "profile"},
    {"locale", Kind::string, "profile"},
    {"updated_at", Kind::number, "profile"},
    {"email", Kind::string, "email"},
    {"email_verified", Kind::boolean, "email"},
    {"address", Kind::object, "address"},
    {"phone_number", Kind::string, "phone"},
    {"phone_number_verified", Kind::boolean, "phone"},
};

const Standard* standard(std::string_view name) {
  for (const auto& s : kStandard)
    if (s.name == name) return &s;
  return nullptr;
}

constexpr std::size_t kMaxClaimsBytes = 4096;

bool printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

bool clean_text(std::string_view s) {
  return valid_utf8(s) && std::none_of(s.begin(), s.end(), [](char c) {
           auto u = static_cast<unsigned char>(c);
           return u < 0x20 || u == 0x7f;
         });
}

const json::string* str_member(const json::object& o, std::string_view k) {
  const auto* v = o.if_contains(k);
  return v && v->is_string() ? &v->as_string() : nullptr;
}

}  // namespace

std::optional<std::string> check_claims(const json::object& claims) {
  for (const auto& [k, v] : claims) {
    const Standard* s = standard(k);
    if (!s) {
      if (k == "sub") return "claims must not carry sub (the ID token's sub is user_id)";
      return "claims: '" + std::string(k.substr(0, 64)) + "' is not a standard claim (OpenID Connect Core 5.1)";
    }
    bool ok = false;
    switch (s->kind) {
      case Kind::string: ok = v.is_string() && clean_text(v.as_string()) && v.as_string().size() <= 1024; break;
      case Kind::boolean: ok = v.is_bool(); break;
      case Kind::number: ok = v.is_int64() || v.is_uint64(); break;
      case Kind::object:
        ok = v.is_object() && std::all_of(v.as_object().begin(), v.as_object().end(), [](const auto& m) {
               return m.value().is_string() && clean_text(m.value().as_string());
             });
        break;
    }
    if (!ok) {
      static constexpr const char* kType[] = {"a string of UTF-8 text (at most 1024 bytes)", "a boolean", "an integer",
                                              "an object of strings"};
      return "claims: " + std::string(k) + " must be " + kType[static_cast<int>(s->kind)];
    }
  }
  if (json::serialize(claims).size() > kMaxClaimsBytes) return std::string("claims are longer than 4096 bytes");
  return std::nullopt;
}

std::optional<std::string> check(const Login& l, std::int64_t now, std::int64_t leeway) {
  if (!l.nonce.empty() && (l.nonce.size() > 512 || !printable_ascii(l.nonce)))
    return std::string("nonce must be 1-512 printable ASCII characters");
  if (l.auth_time && (*l.auth_time <= 0 || *l.auth_time > now + leeway))
    return std::string("auth_time must be a Unix time in seconds, not in the future");
  if (!l.acr.empty() && (l.acr.size() > 256 || !clean_text(l.acr)))
    return std::string("acr must be 1-256 bytes of UTF-8 text");
  if (l.amr.size() > 16) return std::string("amr has at most 16 entries");
  for (const auto& m : l.amr)
    if (m.empty() || m.size() > 64 || !clean_text(m))
      return std::string("amr entries must be 1-64 bytes of UTF-8 text");
  boost::system::error_code ec;
  auto v = json::parse(l.claims_json, ec);
  if (ec || !v.is_object()) return std::string("claims must be an object");
  return check_claims(v.as_object());
}

std::string stored_json(const Login& l) {
  json::object o;
  if (l.auth_time) o["at"] = *l.auth_time;
  if (!l.acr.empty()) o["acr"] = l.acr;
  json::array amr;
  for (const auto& m : l.amr) amr.emplace_back(json::string(m));
  if (!amr.empty()) o["amr"] = std::move(amr);
  o["cl"] = l.claims_json;
  return json::serialize(o);
}

std::optional<Login> from_stored_json(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  Login l;
  if (const auto* at = o.if_contains("at")) {
    if (!at->is_int64()) return std::nullopt;
    l.auth_time = at->as_int64();
  }
  if (const auto* acr = str_member(o, "acr")) l.acr = std::string(*acr);
  if (const auto* n = str_member(o, "n")) l.nonce = std::string(*n);
  if (const auto* amr = o.if_contains("amr")) {
    if (!amr->is_array()) return std::nullopt;
    for (const auto& m : amr->as_array()) {
      if (!m.is_string()) return std::nullopt;
      l.amr.emplace_back(m.as_string());
    }
  }
  const auto* cl = str_member(o, "cl");
  if (!cl) return std::nullopt;
  l.claims_json = std::string(*cl);
  return l;
}

json::object released_claims(std::string_view claims_json, std::string_view scope) {
  json::object out;
  boost::system::error_code ec;
  auto v = json::parse(claims_json, ec);
  if (ec || !v.is_object()) return out;
  for (const auto& [k, value] : v.as_object()) {
    const Standard* s = standard(k);
    if (s && oauth::scope_within(s->scope, scope)) out[k] = value;
  }
  return out;
}

std::string left_half_hash(std::string_view token, crypto::jws::Alg alg) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  const EVP_MD* type = alg == crypto::jws::Alg::EdDSA ? EVP_sha512() : EVP_sha256();
  if (EVP_Digest(token.data(), token.size(), md, &n, type, nullptr) != 1) return {};
  return crypto::base64url_encode(crypto::bytes_view(md, n / 2));
}

std::optional<std::string> mint_id_token(const crypto::SigningRing& ring, const IdTokenInput& in) {
  const auto& key = ring.signer(in.iat);
  if (key.symmetric()) return std::nullopt;
  json::object header{{"alg", crypto::jws::alg_name(key.alg())}, {"kid", key.kid()}, {"typ", "JWT"}};
  json::object c{{"iss", in.issuer},    {"sub", in.subject}, {"aud", in.client_id},
                 {"azp", in.client_id}, {"iat", in.iat},     {"exp", in.iat + in.ttl}};
  if (in.login.auth_time) c["auth_time"] = *in.login.auth_time;
  if (!in.login.nonce.empty()) c["nonce"] = in.login.nonce;
  if (!in.login.acr.empty()) c["acr"] = in.login.acr;
  if (!in.login.amr.empty()) {
    json::array amr;
    for (const auto& m : in.login.amr) amr.emplace_back(json::string(m));
    c["amr"] = std::move(amr);
  }
  if (!in.access_token.empty()) c["at_hash"] = left_half_hash(in.access_token, key.alg());
  if (!in.sid.empty()) c["sid"] = in.sid;
  for (auto& [k, v] : released_claims(in.login.claims_json, in.scope)) c[k] = v;
  return crypto::jws::sign_compact(key, json::serialize(header), json::serialize(c));
}

std::vector<std::string> signing_algs(const crypto::SigningRing& ring, std::int64_t now) {
  std::vector<std::string> out;
  for (const auto& k : ring.keys()) {
    if (k.key.symmetric() || k.expired(now)) continue;
    std::string a = crypto::jws::alg_name(k.key.alg());
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  return out;
}

}  // namespace latchkey::oidc
