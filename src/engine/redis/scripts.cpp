// ScriptSet: SHA-1 of each embedded Lua script, computed once at start-up.
#include "latchkey/redis/scripts.hpp"

#include "latchkey/crypto/primitives.hpp"

#include <openssl/sha.h>

#include <array>

namespace latchkey::redis {

ScriptSet::ScriptSet(const std::vector<ScriptSource>& sources) {
  for (const auto& s : sources) {
    std::array<std::uint8_t, SHA_DIGEST_LENGTH> digest{};
    SHA1(reinterpret_cast<const unsigned char*>(s.source.data()), s.source.size(), digest.data());
    scripts_.push_back(
        {std::string(s.name), std::string(s.source), crypto::hex_encode(digest), "script:" + std::string(s.name)});
  }
}

ScriptSet ScriptSet::embedded() { return ScriptSet(embedded_scripts()); }

const Script* ScriptSet::find(std::string_view name) const noexcept {
  for (const auto& s : scripts_)
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace latchkey::redis
