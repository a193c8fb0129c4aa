// JWS compact serialization on OpenSSL 3 (EVP for the asymmetric algorithms, the prepared
// HMAC of primitives.cpp for HS256).
#include "latchkey/json_names.hpp"
#include "latchkey/crypto/jws.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <stdexcept>

namespace latchkey::crypto::jws {
namespace json = boost::json;

namespace {

boost::system::error_code err(errc e) { return make_error_code(e); }

struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const noexcept { BN_free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

constexpr std::size_t kEcCoordinate = 32;  // P-256

bool valid_key_id(std::string_view kid) noexcept {
  if (kid.empty() || kid.size() > 128) return false;
  for (unsigned char c : kid)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

}  // namespace

struct Key::Impl {
  PkeyPtr pkey;                            // asymmetric algorithms
  std::optional<PreparedHmacSha256> hmac;  // HS256
  std::string secret;                      // HS256, for serialization
  bool has_private = false;
  std::size_t signature_size = 0;

  ~Impl() { OPENSSL_cleanse(secret.data(), secret.size()); }
};

const char* alg_name(Alg a) noexcept {
  switch (a) {
    case Alg::EdDSA: return "EdDSA";
    case Alg::ES256: return "ES256";
    case Alg::RS256: return "RS256";
    case Alg::HS256: return "HS256";
  }
  return "?";
}

std::optional<Alg> alg_from_name(std::string_view name) noexcept {
  for (Alg a : kAllAlgs)
    if (name == alg_name(a)) return a;
  return std::nullopt;
}

AlgSet AlgSet::all() noexcept {
  AlgSet s;
  for (Alg a : kAllAlgs) s.add(a);
  return s;
}

std::optional<AlgSet> AlgSet::parse(std::string_view text) {
  AlgSet s;
  while (true) {
    auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    auto a = alg_from_name(item);
    if (!a) return std::nullopt;
    s.add(*a);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return s;
}

const char* reject_name(Reject r) noexcept {
  switch (r) {
    case Reject::too_large: return "too_large";
    case Reject::malformed: return "malformed";
    case Reject::bad_header: return "bad_header";
    case Reject::forbidden_header: return "forbidden_header";
    case Reject::alg_not_allowed: return "alg_not_allowed";
    case Reject::unknown_kid: return "unknown_kid";
    case Reject::alg_key_mismatch: return "alg_key_mismatch";
    case Reject::bad_signature: return "bad_signature";
    case Reject::bad_payload: return "bad_payload";
  }
  return "?";
}

namespace {

// Whether `pkey` has the type, curve and size `alg` requires; its signature size.
std::optional<std::size_t> fits(Alg alg, EVP_PKEY* pkey) {
  switch (alg) {
    case Alg::EdDSA:
      if (!EVP_PKEY_is_a(pkey, "ED25519")) return std::nullopt;
      return 64;
    case Alg::ES256: {
      if (!EVP_PKEY_is_a(pkey, "EC")) return std::nullopt;
      char group[64] = {};
      std::size_t len = 0;
      if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1)
        return std::nullopt;
      if (std::string_view(group, len) != "prime256v1") return std::nullopt;
      return 2 * kEcCoordinate;
    }
    case Alg::RS256:
      if (!EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_get_bits(pkey) < 2048) return std::nullopt;
      return static_cast<std::size_t>(EVP_PKEY_get_size(pkey));
    case Alg::HS256: return std::nullopt;
  }
  return std::nullopt;
}

bool pkey_has_private(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "ED25519")) {
    std::size_t len = 0;
    return EVP_PKEY_get_raw_private_key(pkey, nullptr, &len) == 1 && len > 0;
  }
  BIGNUM* priv = nullptr;
  const char* name = EVP_PKEY_is_a(pkey, "RSA") ? OSSL_PKEY_PARAM_RSA_D : OSSL_PKEY_PARAM_PRIV_KEY;
  bool has = EVP_PKEY_get_bn_param(pkey, name, &priv) == 1;
  BN_clear_free(priv);
  return has;
}

std::string bn_bytes(EVP_PKEY* pkey, const char* name, std::size_t pad = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) return {};
  BnPtr owned(bn);
  std::size_t n = pad ? pad : static_cast<std::size_t>(BN_num_bytes(bn));
  std::string out(n, '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n));
  return out;
}

// ES256 signatures: JWS uses r || s (32 bytes each), OpenSSL DER.
std::optional<std::string> der_from_raw(bytes_view sig) {
  if (sig.size() != 2 * kEcCoordinate) return std::nullopt;
  BIGNUM* r = BN_bin2bn(sig.data(), kEcCoordinate, nullptr);
  BIGNUM* s = BN_bin2bn(sig.data() + kEcCoordinate, kEcCoordinate, nullptr);
  ECDSA_SIG* es = ECDSA_SIG_new();
  if (!r || !s || !es || ECDSA_SIG_set0(es, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(es, &der);
  ECDSA_SIG_free(es);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string raw_from_der(const unsigned char* der, std::size_t len) {
  const unsigned char* p = der;
  ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
  if (!es) throw std::runtime_error("ECDSA signature encoding failed");
  std::string out(2 * kEcCoordinate, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  BN_bn2binpad(ECDSA_SIG_get0_r(es), o, kEcCoordinate);
  BN_bn2binpad(ECDSA_SIG_get0_s(es), o + kEcCoordinate, kEcCoordinate);
  ECDSA_SIG_free(es);
  return out;
}

const EVP_MD* digest_of(Alg alg) { return alg == Alg::EdDSA ? nullptr : EVP_sha256(); }

std::optional<std::string> decode_member(const json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  if (!v || !v->is_string()) return std::nullopt;
  return base64url_decode(v->as_string());
}

}  // namespace

bool Key::has_private() const noexcept { return impl_->has_private; }

Key Key::generate(Alg alg, std::string kid) {
  if (alg == Alg::HS256) {
    std::array<std::uint8_t, 32> secret{};
    random_bytes(secret);
    auto k = from_secret(std::move(kid), std::string_view(reinterpret_cast<const char*>(secret.data()), secret.size()));
    OPENSSL_cleanse(secret.data(), secret.size());
    if (!k) throw std::runtime_error("HS256 key generation failed");
    return std::move(*k);
  }
  EVP_PKEY* raw = nullptr;
  switch (alg) {
    case Alg::EdDSA: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
    case Alg::ES256: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case Alg::RS256: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048)); break;
    case Alg::HS256: break;
  }
  if (!raw) throw std::runtime_error(std::string("key generation failed for ") + alg_name(alg));
  auto impl = std::make_shared<Impl>();
  impl->pkey.reset(raw);
  impl->has_private = true;
  impl->signature_size = *fits(alg, raw);
  return Key(alg, std::move(kid), std::move(impl));
}

result<Key> Key::from_pem(Alg alg, std::string kid, std::string_view pem) {
  if (alg == Alg::HS256 || !valid_key_id(kid)) return err(errc::config_error);
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return err(errc::internal);
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (!raw) {
    bio.reset(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    raw = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  }
  if (!raw) return err(errc::config_error);
  auto impl = std::make_shared<Impl>();
  impl->pkey.reset(raw);
  auto size = fits(alg, raw);
  if (!size) return err(errc::config_error);
  impl->signature_size = *size;
  impl->has_private = pkey_has_private(raw);
  return Key(alg, std::move(kid), std::move(impl));
}

result<Key> Key::from_secret(std::string kid, std::string_view secret) {
  if (secret.size() < 32 || !valid_key_id(kid)) return err(errc::config_error);
  auto impl = std::make_shared<Impl>();
  impl->secret = std::string(secret);
  impl->hmac.emplace(as_bytes(impl->secret));
  impl->has_private = true;
  impl->signature_size = 32;
  return Key(Alg::HS256, std::move(kid), std::move(impl));
}

result<Key> Key::from_jwk(const json::object& jwk, std::optional<Alg> fallback) {
  const auto* kty = jwk.if_contains("kty");
  if (!kty || !kty->is_string()) return err(errc::config_error);
  if (const auto* use = jwk.if_contains("use"); use && (!use->is_string() || use->as_string() != "sig"))
    return err(errc::config_error);
  if (const auto* ops = jwk.if_contains("key_ops")) {
    bool verify = false;
    if (!ops->is_array()) return err(errc::config_error);
    for (const auto& op : ops->as_array()) verify = verify || (op.is_string() && op.as_string() == "verify");
    if (!verify) return err(errc::config_error);
  }
  std::optional<Alg> alg = fallback;
  if (const auto* a = jwk.if_contains("alg")) {
    if (!a->is_string()) return err(errc::config_error);
    alg = alg_from_name(a->as_string());
  }
  if (!alg) return err(errc::config_error);
  std::string kid;
  if (const auto* k = jwk.if_contains("kid"); k && k->is_string())
    kid = std::string(k->as_string());
  else
    kid = "jwk";

  std::string type(kty->as_string());
  if (type == "oct") {
    if (*alg != Alg::HS256) return err(errc::config_error);
    auto k = decode_member(jwk, "k");
    if (!k) return err(errc::config_error);
    return from_secret(std::move(kid), *k);
  }
  EVP_PKEY* raw = nullptr;
  if (type == "OKP") {
    const auto* crv = jwk.if_contains("crv");
    auto x = decode_member(jwk, "x");
    if (!crv || !crv->is_string() || crv->as_string() != "Ed25519" || !x || x->size() != 32)
      return err(errc::config_error);
    raw = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x->data()),
                                      x->size());
  } else if (type == "EC" || type == "RSA") {
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    std::vector<BnPtr> bns;
    std::string point;
    bool ok = bld != nullptr;
    if (ok && type == "EC") {
      const auto* crv = jwk.if_contains("crv");
      auto x = decode_member(jwk, "x");
      auto y = decode_member(jwk, "y");
      ok = crv && crv->is_string() && crv->as_string() == "P-256" && x && y && x->size() == kEcCoordinate &&
           y->size() == kEcCoordinate;
      if (ok) {
        point = "\x04" + *x + *y;
        ok = OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
             OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1;
      }
    } else if (ok) {
      auto n = decode_member(jwk, "n");
      auto e = decode_member(jwk, "e");
      ok = n && e && !n->empty() && !e->empty() && (*n)[0] != '\0';
      if (ok) {
        bns.emplace_back(
            BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr));
        bns.emplace_back(
            BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr));
        ok = bns[0] && bns[1] && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bns[0].get()) == 1 &&
             OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bns[1].get()) == 1;
      }
    }
    OSSL_PARAM* params = ok ? OSSL_PARAM_BLD_to_param(bld) : nullptr;
    EVP_PKEY_CTX* ctx = params ? EVP_PKEY_CTX_new_from_name(nullptr, type.c_str(), nullptr) : nullptr;
    if (ctx && EVP_PKEY_fromdata_init(ctx) == 1) EVP_PKEY_fromdata(ctx, &raw, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    // The point must lie on the curve (RFC 8725 3.4): check it explicitly.
    if (raw && type == "EC") {
      EVP_PKEY_CTX* check = EVP_PKEY_CTX_new_from_pkey(nullptr, raw, nullptr);
      bool on_curve = check && EVP_PKEY_public_check(check) == 1;
      EVP_PKEY_CTX_free(check);
      if (!on_curve) {
        EVP_PKEY_free(raw);
        raw = nullptr;
      }
    }
  }
  if (!raw) return err(errc::config_error);
  auto impl = std::make_shared<Impl>();
  impl->pkey.reset(raw);
  auto size = fits(*alg, raw);
  if (!size) return err(errc::config_error);
  impl->signature_size = *size;
  return Key(*alg, std::move(kid), std::move(impl));
}

std::string Key::sign(std::string_view input) const {
  if (!impl_->has_private) throw std::logic_error("sign() with a verification-only key");
  if (alg_ == Alg::HS256) {
    auto mac = impl_->hmac->mac(as_bytes(input));
    return std::string(reinterpret_cast<const char*>(mac.data()), mac.size());
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, digest_of(alg_), nullptr, impl_->pkey.get()) != 1)
    throw std::runtime_error("signing failed");
  if (alg_ == Alg::RS256) EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING);
  std::size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, input.size()) != 1) throw std::runtime_error("signing failed");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, input.size()) != 1)
    throw std::runtime_error("signing failed");
  sig.resize(len);
  if (alg_ == Alg::ES256) return raw_from_der(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
  return sig;
}

bool Key::verify(std::string_view input, bytes_view signature) const {
  if (signature.size() != impl_->signature_size) return false;
  if (alg_ == Alg::HS256) {
    auto mac = impl_->hmac->mac(as_bytes(input));
    return constant_time_equal(bytes_view(mac), signature);
  }
  std::string der;
  bytes_view sig = signature;
  if (alg_ == Alg::ES256) {
    auto d = der_from_raw(signature);
    if (!d) return false;
    der = std::move(*d);
    sig = as_bytes(der);
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, digest_of(alg_), nullptr, impl_->pkey.get()) != 1) return false;
  if (alg_ == Alg::RS256) EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING);
  return EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), reinterpret_cast<const unsigned char*>(input.data()),
                          input.size()) == 1;
}

std::optional<json::object> Key::public_jwk() const {
  if (alg_ == Alg::HS256) return std::nullopt;
  EVP_PKEY* p = impl_->pkey.get();
  json::object o;
  switch (alg_) {
    case Alg::EdDSA: {
      std::string x(32, '\0');
      std::size_t len = x.size();
      EVP_PKEY_get_raw_public_key(p, reinterpret_cast<unsigned char*>(x.data()), &len);
      o = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", base64url_encode(x)}};
      break;
    }
    case Alg::ES256:
      o = {{"kty", "EC"},
           {"crv", "P-256"},
           {"x", base64url_encode(bn_bytes(p, OSSL_PKEY_PARAM_EC_PUB_X, kEcCoordinate))},
           {"y", base64url_encode(bn_bytes(p, OSSL_PKEY_PARAM_EC_PUB_Y, kEcCoordinate))}};
      break;
    case Alg::RS256:
      o = {{"kty", "RSA"},
           {"n", base64url_encode(bn_bytes(p, OSSL_PKEY_PARAM_RSA_N))},
           {"e", base64url_encode(bn_bytes(p, OSSL_PKEY_PARAM_RSA_E))}};
      break;
    case Alg::HS256: break;
  }
  o["kid"] = kid_;
  o["alg"] = alg_name(alg_);
  o["use"] = "sig";
  return o;
}

std::string Key::private_material() const {
  if (alg_ == Alg::HS256) return base64url_encode(impl_->secret);
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio) throw std::runtime_error("out of memory");
  int ok = impl_->has_private
               ? PEM_write_bio_PrivateKey(bio.get(), impl_->pkey.get(), nullptr, nullptr, 0, nullptr, nullptr)
               : PEM_write_bio_PUBKEY(bio.get(), impl_->pkey.get());
  if (ok != 1) throw std::runtime_error("PEM encoding failed");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  std::string out(data, static_cast<std::size_t>(len));
  OPENSSL_cleanse(data, static_cast<std::size_t>(len));
  return out;
}

namespace {

// Decodes one segment to a JSON object. Boost.JSON rejects invalid UTF-8; duplicate member
// names, which it would resolve to the last one, are refused (RFC 7515 4, RFC 7519 4).
// One parser per thread, reused: constructing a parser per token costs more than parsing.
std::optional<json::object> json_object(std::string_view text, const json::storage_ptr& sp) {
  static thread_local json::parser parser = [] {
    json::parse_options opt;
    opt.max_depth = 16;
    return json::parser({}, opt);
  }();
  parser.reset(sp);
  boost::system::error_code ec;
  parser.write(text.data(), text.size(), ec);
  if (ec) {
    parser.reset();
    return std::nullopt;
  }
  json::value v = parser.release();
  if (!v.is_object()) return std::nullopt;
  if (detail::json_has_duplicate_names(text)) return std::nullopt;
  return std::move(v.as_object());
}

std::optional<json::object> json_segment(std::string_view b64, const json::storage_ptr& sp) {
  auto bytes = base64url_decode(b64);
  if (!bytes) return std::nullopt;
  return json_object(*bytes, sp);
}

}  // namespace

std::variant<Verified, Reject> Verifier::verify(std::string_view compact, const json::storage_ptr& storage) const {
  if (compact.size() > options_.max_bytes) return Reject::too_large;
  auto d1 = compact.find('.');
  if (d1 == std::string_view::npos) return Reject::malformed;
  auto d2 = compact.find('.', d1 + 1);
  if (d2 == std::string_view::npos || compact.find('.', d2 + 1) != std::string_view::npos) return Reject::malformed;
  std::string_view header_b64 = compact.substr(0, d1);
  std::string_view payload_b64 = compact.substr(d1 + 1, d2 - d1 - 1);
  std::string_view sig_b64 = compact.substr(d2 + 1);
  if (header_b64.empty() || sig_b64.empty()) return Reject::malformed;

  auto header = json_segment(header_b64, storage);
  if (!header) return Reject::bad_header;
  for (const char* forbidden : {"jku", "jwk", "x5u", "x5c", "crit", "b64"})
    if (header->contains(forbidden)) return Reject::forbidden_header;
  const auto* alg_v = header->if_contains("alg");
  if (!alg_v || !alg_v->is_string()) return Reject::bad_header;
  auto alg = alg_from_name(alg_v->as_string());
  if (!alg || !options_.allowed.contains(*alg)) return Reject::alg_not_allowed;
  if (const auto* typ = header->if_contains("typ"); typ && !typ->is_string()) return Reject::bad_header;

  const Key* key = nullptr;
  if (const auto* kid_v = header->if_contains("kid")) {
    if (!kid_v->is_string()) return Reject::bad_header;
    std::string_view kid = kid_v->as_string();
    for (const auto& k : keys_)
      if (k.kid() == kid) key = &k;
    if (!key) return Reject::unknown_kid;
    if (key->alg() != *alg) return Reject::alg_key_mismatch;
  } else {
    if (options_.require_kid) return Reject::unknown_kid;
    for (const auto& k : keys_) {
      if (k.alg() != *alg) continue;
      if (key) return Reject::unknown_kid;  // ambiguous: refuse rather than try several
      key = &k;
    }
    if (!key) return Reject::unknown_kid;
  }

  auto sig = base64url_decode(sig_b64);
  if (!sig) return Reject::malformed;
  auto payload = base64url_decode(payload_b64);
  if (!payload) return Reject::malformed;
  if (!key->verify(compact.substr(0, d2), as_bytes(*sig))) return Reject::bad_signature;
  Verified out{key, std::move(*header), std::move(*payload), {}};
  if (options_.json_payload) {
    auto claims = json_object(out.payload, storage);
    if (!claims) return Reject::bad_payload;
    out.claims = std::move(*claims);
  }
  return out;
}

std::string sign_compact(const Key& key, std::string_view header_json, std::string_view payload) {
  std::string out = base64url_encode(header_json);
  out.push_back('.');
  out += base64url_encode(payload);
  std::string sig = key.sign(out);
  out.push_back('.');
  out += base64url_encode(sig);
  return out;
}

}  // namespace latchkey::crypto::jws
