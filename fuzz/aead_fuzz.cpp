// libFuzzer target: arbitrary bytes presented as a ciphertext must fail uniformly and never
// crash; a round trip of the input as plaintext must succeed.
#include "latchkey/crypto/aead.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto ring = [] {
    latchkey::crypto::AeadKey k;
    k.kid = "fuzz";
    k.key.fill(7);
    return *latchkey::crypto::KeyRing::create({k});
  }();
  std::string_view s(reinterpret_cast<const char*>(data), size);
  auto r = ring.decrypt(s, "ad");
  if (!r && r.error() != latchkey::make_error_code(latchkey::errc::crypto_error)) std::abort();
  auto ct = ring.encrypt(s, "ad");
  auto back = ring.decrypt(ct, "ad");
  if (!back || *back != s) std::abort();
  return 0;
}
