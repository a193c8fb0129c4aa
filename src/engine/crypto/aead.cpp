// AES-256-GCM key ring; see crypto/aead.hpp for the ciphertext layout and failure policy.
#include "latchkey/crypto/aead.hpp"
#include "latchkey/clock.hpp"

#include <boost/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <chrono>
#include <memory>
#include <set>

namespace latchkey::crypto {
namespace {

constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kIvLen = 12;
constexpr std::size_t kTagLen = 16;

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

// Fetched once: OpenSSL 3's implicit lookup behind EVP_aes_256_gcm() takes a lock per call.
const EVP_CIPHER* aes_256_gcm() noexcept {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

// One context per thread, reset by each Init: no allocation per operation.
EVP_CIPHER_CTX* thread_ctx() noexcept {
  thread_local CtxPtr ctx(EVP_CIPHER_CTX_new());
  return ctx.get();
}

const unsigned char* uc(const char* p) { return reinterpret_cast<const unsigned char*>(p); }

}  // namespace

bool valid_kid(std::string_view kid) noexcept {
  if (kid.empty() || kid.size() > 64) return false;
  for (char c : kid) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

result<KeyRing> KeyRing::create(std::vector<AeadKey> keys) {
  if (keys.empty()) return make_error_code(errc::config_error);
  std::set<std::string> seen;
  for (const auto& k : keys) {
    if (!valid_kid(k.kid) || !seen.insert(k.kid).second) return make_error_code(errc::config_error);
  }
  return KeyRing(std::move(keys));
}

const AeadKey* KeyRing::find(std::string_view kid) const noexcept {
  for (const auto& k : keys_)
    if (k.kid == kid) return &k;
  return nullptr;
}

std::string KeyRing::encrypt(std::string_view plaintext, std::string_view associated_data) const {
  const AeadKey& k = active();
  std::string out;
  out.resize(2 + k.kid.size() + kIvLen + plaintext.size() + kTagLen);
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  p[0] = kVersion;
  p[1] = static_cast<unsigned char>(k.kid.size());
  std::copy(k.kid.begin(), k.kid.end(), out.begin() + 2);
  unsigned char* iv = p + 2 + k.kid.size();
  random_bytes({iv, kIvLen});
  unsigned char* ct = iv + kIvLen;

  EVP_CIPHER_CTX* ctx = thread_ctx();
  int len = 0;
  bool ok = ctx && EVP_EncryptInit_ex2(ctx, aes_256_gcm(), k.key.data(), iv, nullptr) == 1;
  // The header (version, kid) is authenticated too, so a kid swap cannot go unnoticed.
  ok = ok && EVP_EncryptUpdate(ctx, nullptr, &len, p, static_cast<int>(2 + k.kid.size())) == 1;
  ok = ok && (associated_data.empty() || EVP_EncryptUpdate(ctx, nullptr, &len, uc(associated_data.data()),
                                                           static_cast<int>(associated_data.size())) == 1);
  ok = ok && (plaintext.empty() ||
              EVP_EncryptUpdate(ctx, ct, &len, uc(plaintext.data()), static_cast<int>(plaintext.size())) == 1);
  ok = ok && EVP_EncryptFinal_ex(ctx, ct + plaintext.size(), &len) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagLen, ct + plaintext.size()) == 1;
  if (!ok) {
    std::fputs("latchkey: fatal: AES-256-GCM encryption failed\n", stderr);
    std::abort();
  }
  return out;
}

result<std::string> KeyRing::decrypt(std::string_view ciphertext, std::string_view associated_data) const {
  const auto fail = make_error_code(errc::crypto_error);
  if (ciphertext.size() < 2) return fail;
  auto* p = uc(ciphertext.data());
  if (p[0] != kVersion) return fail;
  std::size_t kid_len = p[1];
  if (ciphertext.size() < 2 + kid_len + kIvLen + kTagLen) return fail;
  const AeadKey* k = find(ciphertext.substr(2, kid_len));
  if (!k) return fail;
  const unsigned char* iv = p + 2 + kid_len;
  const unsigned char* ct = iv + kIvLen;
  std::size_t ct_len = ciphertext.size() - 2 - kid_len - kIvLen - kTagLen;
  std::string plain(ct_len, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plain.data());

  EVP_CIPHER_CTX* ctx = thread_ctx();
  int len = 0;
  bool ok = ctx && EVP_DecryptInit_ex2(ctx, aes_256_gcm(), k->key.data(), iv, nullptr) == 1;
  ok = ok && EVP_DecryptUpdate(ctx, nullptr, &len, p, static_cast<int>(2 + kid_len)) == 1;
  ok = ok && (associated_data.empty() || EVP_DecryptUpdate(ctx, nullptr, &len, uc(associated_data.data()),
                                                           static_cast<int>(associated_data.size())) == 1);
  ok = ok && (ct_len == 0 || EVP_DecryptUpdate(ctx, out, &len, ct, static_cast<int>(ct_len)) == 1);
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTagLen, const_cast<unsigned char*>(ct + ct_len)) == 1;
  ok = ok && EVP_DecryptFinal_ex(ctx, out + ct_len, &len) == 1;
  if (!ok) {
    OPENSSL_cleanse(plain.data(), plain.size());
    return fail;
  }
  return plain;
}

result<KeyRing> KeyRing::parse(std::string_view json_text) {
  const auto bad = make_error_code(errc::config_error);
  boost::system::error_code ec;
  auto doc = boost::json::parse(json_text, ec);
  if (ec || !doc.is_object()) return bad;
  const auto* arr = doc.as_object().if_contains("keys");
  if (!arr || !arr->is_array()) return bad;
  std::vector<AeadKey> keys;
  for (const auto& v : arr->as_array()) {
    if (!v.is_object()) return bad;
    const auto& o = v.as_object();
    const auto* kid = o.if_contains("kid");
    const auto* key = o.if_contains("key");
    if (!kid || !kid->is_string() || !key || !key->is_string()) return bad;
    auto raw = base64url_decode(key->as_string());
    if (!raw || raw->size() != 32) return bad;
    AeadKey k;
    k.kid = std::string(kid->as_string());
    std::copy(raw->begin(), raw->end(), k.key.begin());
    OPENSSL_cleanse(raw->data(), raw->size());
    if (const auto* c = o.if_contains("created_at"); c && c->is_int64()) k.created_at = c->as_int64();
    keys.push_back(std::move(k));
  }
  return create(std::move(keys));
}

std::string KeyRing::serialize() const {
  boost::json::array arr;
  for (const auto& k : keys_) {
    arr.push_back(boost::json::object{{"kid", k.kid}, {"key", base64url_encode(k.key)}, {"created_at", k.created_at}});
  }
  return boost::json::serialize(boost::json::object{{"keys", std::move(arr)}}) + "\n";
}

namespace {
AeadKey fresh_key() {
  AeadKey k;
  // Short: the kid is stored in every ciphertext. 32 random bits keep a ring's ids distinct.
  std::array<std::uint8_t, 4> id{};
  random_bytes(id);
  k.kid = "e" + hex_encode(id);
  random_bytes(k.key);
  k.created_at = unix_now();
  return k;
}
}  // namespace

KeyRing KeyRing::generate() { return KeyRing({fresh_key()}); }

std::string KeyRing::add() {
  AeadKey k = fresh_key();
  while (find(k.kid)) k = fresh_key();
  keys_.push_back(std::move(k));
  return keys_.back().kid;
}

}  // namespace latchkey::crypto
