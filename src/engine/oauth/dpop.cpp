// DPoP proofs (RFC 9449), the pure part: include/latchkey/dpop.hpp.
#include "latchkey/dpop.hpp"

#include "latchkey/crypto/jws.hpp"
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/oauth.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>

namespace latchkey::dpop {
namespace json = boost::json;
using crypto::jws::Alg;

namespace {

std::optional<json::object> decode_object(std::string_view segment) {
  auto raw = crypto::base64url_decode(segment);
  if (!raw || crypto::base64url_encode(*raw) != segment) return std::nullopt;  // canonical only
  boost::system::error_code ec;
  auto v = json::parse(*raw, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

const json::string* str(const json::object& o, std::string_view k) {
  const auto* v = o.if_contains(k);
  return v && v->is_string() ? &v->as_string() : nullptr;
}

// The key type a proof algorithm needs.
std::string_view kty_of(Alg a) {
  switch (a) {
    case Alg::ES256: return "EC";
    case Alg::EdDSA: return "OKP";
    case Alg::RS256: return "RSA";
    case Alg::HS256: break;
  }
  return {};
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// RFC 9449 4.3 (RFC 3986 6.2.2-6.2.3): scheme and host case-insensitive, the default port
// dropped, an empty path is "/"; query and fragment are not compared.
struct Normalized {
  std::string scheme, host;
  std::string_view port, path;
  bool operator==(const Normalized&) const = default;
};

std::optional<Normalized> normalized(std::string_view u) {
  auto p = oauth::split_uri(u.substr(0, u.find('#')));
  if (!p) return std::nullopt;
  Normalized n{lower(p->scheme), lower(p->host), p->port, p->rest.substr(0, p->rest.find('?'))};
  if (n.scheme != "https" && n.scheme != "http") return std::nullopt;
  if ((n.scheme == "https" && n.port == "443") || (n.scheme == "http" && n.port == "80")) n.port = {};
  if (n.path.empty()) n.path = "/";
  return n;
}

}  // namespace

bool same_url(std::string_view a, std::string_view b) {
  auto x = normalized(a), y = normalized(b);
  return x && y && *x == *y;
}

std::string access_token_hash(std::string_view access_token) { return crypto::sha256_base64url(access_token); }

bool valid_nonce_syntax(std::string_view n) noexcept {
  return !n.empty() && n.size() <= 512 && std::all_of(n.begin(), n.end(), [](char c) {
    return c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
  });
}

std::optional<std::string> thumbprint(const json::object& jwk) {
  const auto* kty = str(jwk, "kty");
  if (!kty) return std::nullopt;
  std::vector<std::string_view> members;
  if (*kty == "EC")
    members = {"crv", "kty", "x", "y"};
  else if (*kty == "OKP")
    members = {"crv", "kty", "x"};
  else if (*kty == "RSA")
    members = {"e", "kty", "n"};
  else
    return std::nullopt;
  // RFC 7638 3: the required members in lexicographic order, no whitespace.
  std::string canonical = "{";
  for (auto m : members) {
    const auto* v = str(jwk, m);
    if (!v) return std::nullopt;
    if (canonical.size() > 1) canonical.push_back(',');
    canonical += json::serialize(json::string(m));
    canonical.push_back(':');
    canonical += json::serialize(*v);
  }
  canonical.push_back('}');
  return crypto::sha256_base64url(canonical);
}

std::variant<Proof, std::string> check(std::string_view proof, const Expect& e) {
  if (proof.empty()) return std::string("missing");
  if (proof.size() > kMaxProofBytes) return std::string("too_large");
  auto dot1 = proof.find('.');
  auto dot2 = dot1 == std::string_view::npos ? dot1 : proof.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || proof.find('.', dot2 + 1) != std::string_view::npos)
    return std::string("malformed");
  auto header = decode_object(proof.substr(0, dot1));
  auto claims = decode_object(proof.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = crypto::base64url_decode(proof.substr(dot2 + 1));
  if (!header || !claims || !signature) return std::string("malformed");

  const auto* typ = str(*header, "typ");
  if (!typ || *typ != "dpop+jwt") return std::string("wrong_typ");
  const auto* alg_name = str(*header, "alg");
  // "Ed25519" is EdDSA's fully-specified name (RFC 9864), what current clients send.
  auto alg = !alg_name                ? std::nullopt
             : *alg_name == "Ed25519" ? std::optional<Alg>(Alg::EdDSA)
                                      : crypto::jws::alg_from_name(*alg_name);
  if (!alg || *alg == Alg::HS256) return std::string("alg_not_allowed");
  for (auto forbidden : {"kid", "jku", "x5u", "x5c", "crit", "b64"})
    if (header->contains(forbidden)) return std::string("forbidden_header");
  const auto* jwk_value = header->if_contains("jwk");
  if (!jwk_value || !jwk_value->is_object()) return std::string("no_jwk");
  const auto& jwk = jwk_value->as_object();
  for (auto priv : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
    if (jwk.contains(priv)) return std::string("private_jwk");
  const auto* kty = str(jwk, "kty");
  if (!kty || *kty != kty_of(*alg)) return std::string("jwk_alg_mismatch");
  json::object jwk_for_alg = jwk;
  jwk_for_alg.erase("alg");  // the header's alg decides (a jwk "alg" of Ed25519 is not a name Key knows)
  auto key = crypto::jws::Key::from_jwk(jwk_for_alg, *alg);
  if (!key || key->alg() != *alg) return std::string("bad_jwk");
  auto jkt = thumbprint(jwk);
  if (!jkt) return std::string("bad_jwk");
  if (!key->verify(proof.substr(0, dot2), crypto::as_bytes(*signature))) return std::string("bad_signature");

  Proof out;
  out.jkt = std::move(*jkt);
  const auto* jti = str(*claims, "jti");
  const auto* htm = str(*claims, "htm");
  const auto* htu = str(*claims, "htu");
  const auto* iat = claims->if_contains("iat");
  if (!jti || jti->empty() || jti->size() > 128 || !htm || !htu || !iat || !iat->is_int64())
    return std::string("missing_claim");
  if (*htm != e.method) return std::string("wrong_htm");
  if (!same_url(*htu, e.url)) return std::string("wrong_htu");
  out.iat = iat->as_int64();
  if (out.iat > e.now + e.leeway) return std::string("issued_in_future");
  if (out.iat < e.now - e.max_age - e.leeway) return std::string("too_old");
  if (!e.access_token.empty()) {
    const auto* ath = str(*claims, "ath");
    if (!ath || *ath != access_token_hash(e.access_token)) return std::string("wrong_ath");
  }
  if (const auto* n = claims->if_contains("nonce")) {
    if (!n->is_string() || !valid_nonce_syntax(n->as_string())) return std::string("bad_nonce");
    out.nonce = std::string(n->as_string());
  }
  out.jti = std::string(*jti);
  return out;
}

}  // namespace latchkey::dpop
