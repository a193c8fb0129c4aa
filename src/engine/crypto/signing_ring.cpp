// The JWT signing key ring file.
#include "latchkey/crypto/signing_ring.hpp"

#include <boost/json.hpp>

#include <set>

namespace latchkey::crypto {
namespace json = boost::json;

namespace {
std::string new_kid() {
  std::array<std::uint8_t, 6> id{};
  random_bytes(id);
  return "s" + hex_encode(id);
}
}  // namespace

std::optional<SigningRing> SigningRing::parse(std::string_view text, std::string& why) {
  boost::system::error_code ec;
  auto doc = json::parse(text, ec);
  const json::value* arr = (!ec && doc.is_object()) ? doc.as_object().if_contains("keys") : nullptr;
  if (!arr || !arr->is_array() || arr->as_array().empty()) {
    why = "expected {\"keys\": [...]} with at least one key";
    return std::nullopt;
  }
  SigningRing ring;
  std::set<std::string> seen;
  for (const auto& v : arr->as_array()) {
    const auto* o = v.if_object();
    const json::value* kid = o ? o->if_contains("kid") : nullptr;
    const json::value* alg_v = o ? o->if_contains("alg") : nullptr;
    if (!kid || !kid->is_string() || !alg_v || !alg_v->is_string()) {
      why = "every key needs a string kid and alg";
      return std::nullopt;
    }
    std::string k(kid->as_string());
    auto alg = jws::alg_from_name(alg_v->as_string());
    if (!alg) {
      why = "key '" + k + "': alg must be one of EdDSA, ES256, RS256, HS256";
      return std::nullopt;
    }
    if (!seen.insert(k).second) {
      why = "duplicate kid '" + k + "'";
      return std::nullopt;
    }
    result<jws::Key> key = make_error_code(errc::config_error);
    if (*alg == jws::Alg::HS256) {
      const auto* s = o->if_contains("secret");
      auto raw = s && s->is_string() ? base64url_decode(s->as_string()) : std::nullopt;
      if (raw) key = jws::Key::from_secret(k, *raw);
      if (!key) why = "key '" + k + "': HS256 needs \"secret\", base64url of at least 32 random bytes";
    } else {
      const auto* pem = o->if_contains("private_key");
      if (pem && pem->is_string()) key = jws::Key::from_pem(*alg, k, pem->as_string());
      if (key && !key->has_private()) key = make_error_code(errc::config_error);
      if (!key)
        why = "key '" + k + "': \"private_key\" must be a PEM private key for " + jws::alg_name(*alg) +
              " (Ed25519, P-256, or RSA of at least 2048 bits)";
    }
    if (!key) return std::nullopt;
    SigningKey entry{std::move(*key), 0, 0};
    if (const auto* c = o->if_contains("created_at"); c && c->is_int64()) entry.created_at = c->as_int64();
    if (const auto* a = o->if_contains("activates_at"); a && a->is_int64()) entry.activates_at = a->as_int64();
    if (const auto* e = o->if_contains("expires_at"); e && e->is_int64()) entry.expires_at = e->as_int64();
    ring.keys_.push_back(std::move(entry));
  }
  return ring;
}

std::string SigningRing::serialize() const {
  json::array arr;
  for (const auto& k : keys_) {
    json::object o{{"kid", k.key.kid()},
                   {"alg", jws::alg_name(k.key.alg())},
                   {"created_at", k.created_at},
                   {"activates_at", k.activates_at},
                   {"expires_at", k.expires_at}};
    o[k.key.symmetric() ? "secret" : "private_key"] = k.key.private_material();
    arr.push_back(std::move(o));
  }
  return json::serialize(json::object{{"keys", std::move(arr)}}) + "\n";
}

SigningRing SigningRing::generate(jws::Alg alg, std::int64_t now) {
  SigningRing ring;
  ring.add(alg, now, now);
  return ring;
}

std::string SigningRing::add(jws::Alg alg, std::int64_t now, std::int64_t activates_at) {
  std::string kid = new_kid();
  keys_.push_back(SigningKey{jws::Key::generate(alg, kid), now, activates_at});
  return kid;
}

bool SigningRing::remove(std::string_view kid) {
  if (keys_.size() < 2) return false;
  for (auto it = keys_.begin(); it != keys_.end(); ++it) {
    if (it->key.kid() == kid) {
      keys_.erase(it);
      return true;
    }
  }
  return false;
}

bool SigningRing::retire(std::string_view kid, std::int64_t expires_at) {
  SigningKey* target = nullptr;
  bool other_can_sign = false;
  for (auto& k : keys_) {
    if (k.key.kid() == kid)
      target = &k;
    else
      other_can_sign = other_can_sign || k.expires_at == 0;
  }
  if (!target || !other_can_sign) return false;
  target->expires_at = expires_at;
  return true;
}

const SigningKey* SigningRing::find(std::string_view kid) const noexcept {
  for (const auto& k : keys_)
    if (k.key.kid() == kid) return &k;
  return nullptr;
}

const jws::Key& SigningRing::signer(std::int64_t now) const noexcept {
  for (auto it = keys_.rbegin(); it != keys_.rend(); ++it)
    if (it->activates_at <= now && it->expires_at == 0) return it->key;
  for (auto it = keys_.rbegin(); it != keys_.rend(); ++it)
    if (it->expires_at == 0) return it->key;
  return keys_.back().key;
}

std::vector<jws::Key> SigningRing::verification_keys() const {
  std::vector<jws::Key> out;
  for (const auto& k : keys_) out.push_back(k.key);
  return out;
}

json::object SigningRing::jwks(std::int64_t now) const {
  json::array arr;
  for (const auto& k : keys_) {
    if (k.expired(now)) continue;
    if (auto jwk = k.key.public_jwk()) arr.push_back(std::move(*jwk));
  }
  return json::object{{"keys", std::move(arr)}};
}

}  // namespace latchkey::crypto
