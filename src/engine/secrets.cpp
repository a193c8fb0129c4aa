// Reading and creating the key-ring files of the secrets directory.
#include "latchkey/secrets.hpp"
#include "latchkey/clock.hpp"
#include "latchkey/crypto/jws.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <array>
#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace latchkey {
namespace fs = std::filesystem;

namespace {

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string missing(const char* what, const fs::path& path, const std::string& dir) {
  return std::string(what) + " '" + path.string() +
         "' is missing or unreadable (create it with: latchkey keys init --dir " + dir + ")";
}

// Writes `text` to a new 0600 file; with `replace`, through a temporary file and rename.
std::optional<std::string> write_private(const fs::path& path, const std::string& text, bool replace) {
  fs::path target = replace ? fs::path(path.string() + ".tmp") : path;
  if (replace) ::unlink(target.c_str());
  int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return "cannot create '" + target.string() + "': " + std::strerror(errno);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (ok && replace) ok = ::rename(target.c_str(), path.c_str()) == 0;
  if (!ok) return "cannot write '" + path.string() + "'";
  return std::nullopt;
}

// Group or other access to a secret (or its folder): a message, or nothing.
std::optional<std::string> exposed(const fs::path& path, bool folder) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;  // reported as missing by the reader
  if ((st.st_mode & 0077) == 0) return std::nullopt;
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return std::string(folder ? "secrets folder '" : "secret '") + path.string() + "' has mode " + mode +
         " (group or other users can read it): run chmod " + (folder ? "700" : "600") + " '" + path.string() + "'";
}

std::string generate_identifier_key() {
  std::array<std::uint8_t, 32> k{};
  crypto::random_bytes(k);
  return "{\"key\":\"" + crypto::base64url_encode(crypto::bytes_view(k.data(), k.size())) + "\"}\n";
}

// The 32-byte key, or nullopt with `why`.
std::optional<std::string> load_identifier_key(const std::string& dir, std::string& why) {
  fs::path path = fs::path(dir) / kIdentifierKeyFile;
  auto text = read_file(path);
  if (!text) {
    why = "identifier key '" + path.string() + "' is missing or unreadable (create it with: latchkey keys init --dir " +
          dir + "; it adds only the missing file. Upgrading: login counters and rate-limit counters start over once)";
    return std::nullopt;
  }
  boost::system::error_code ec;
  auto v = boost::json::parse(*text, ec);
  const auto* o = ec ? nullptr : v.if_object();
  const auto* k = o ? o->if_contains("key") : nullptr;
  auto raw = k && k->is_string() ? crypto::base64url_decode(k->as_string()) : std::nullopt;
  if (!raw || raw->size() != 32) {
    why = "identifier key '" + path.string() + "' is invalid (expected {\"key\": base64url of 32 bytes})";
    return std::nullopt;
  }
  return raw;
}

}  // namespace

std::variant<crypto::SigningRing, std::string> load_signing_ring(const std::string& dir) {
  fs::path path = fs::path(dir) / kSigningRingFile;
  auto text = read_file(path);
  if (!text) return missing("signing key ring", path, dir);
  std::string why;
  auto ring = crypto::SigningRing::parse(*text, why);
  if (!ring) return "signing key ring '" + path.string() + "' is invalid: " + why;
  return std::move(*ring);
}

std::variant<Secrets, std::string> load_secrets(const std::string& dir, bool allow_insecure_mode,
                                                std::string* warnings) {
  std::vector<std::pair<fs::path, bool>> secrets{{fs::path(dir), true},
                                                 {fs::path(dir) / kEncryptionRingFile, false},
                                                 {fs::path(dir) / kSigningRingFile, false},
                                                 {fs::path(dir) / kIdentifierKeyFile, false}};
  for (const auto& [p, folder] : secrets)
    if (auto why = exposed(p, folder)) {
      if (!allow_insecure_mode) return *why + " (or set secrets_allow_insecure_mode=true to load it anyway)";
      if (warnings) *warnings += *why + "\n";
    }
  fs::path path = fs::path(dir) / kEncryptionRingFile;
  auto text = read_file(path);
  if (!text) return missing("encryption key ring", path, dir);
  auto ring = crypto::KeyRing::parse(*text);
  if (!ring)
    return "encryption key ring '" + path.string() +
           "' is invalid (expected {\"keys\": [{\"kid\", \"key\": base64url of 32 bytes}]})";
  auto signing = load_signing_ring(dir);
  if (auto* why = std::get_if<std::string>(&signing)) return std::move(*why);
  std::string why;
  auto ids = load_identifier_key(dir, why);
  if (!ids) return why;
  return Secrets{std::move(*ring), std::move(std::get<crypto::SigningRing>(signing)), std::move(*ids)};
}

std::optional<std::string> init_secrets(const std::string& dir, std::string* created, crypto::jws::Alg signing_alg) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return "cannot create '" + dir + "': " + ec.message();
  ::chmod(dir.c_str(), 0700);
  const char* files[] = {kEncryptionRingFile, kSigningRingFile, kIdentifierKeyFile};
  for (const char* name : files) {
    fs::path path = fs::path(dir) / name;
    if (fs::exists(path)) continue;
    std::string text = name == kEncryptionRingFile ? crypto::KeyRing::generate().serialize()
                       : name == kSigningRingFile  ? crypto::SigningRing::generate(signing_alg, unix_now()).serialize()
                                                   : generate_identifier_key();
    if (auto e = write_private(path, text, false)) return e;
    if (created) *created += path.string() + "\n";
  }
  return std::nullopt;
}

std::optional<std::string> store_signing_ring(const std::string& dir, const crypto::SigningRing& ring) {
  return write_private(fs::path(dir) / kSigningRingFile, ring.serialize(), true);
}

std::optional<std::string> add_encryption_key(const std::string& dir, std::string& kid) {
  fs::path path = fs::path(dir) / kEncryptionRingFile;
  auto text = read_file(path);
  if (!text) return missing("encryption key ring", path, dir);
  auto ring = crypto::KeyRing::parse(*text);
  if (!ring) return "encryption key ring '" + path.string() + "' is invalid";
  kid = ring->add();
  return write_private(path, ring->serialize(), true);
}

std::optional<std::string> add_admin_key(const std::string& path, std::string& key) {
  key = crypto::random_token(32);
  std::error_code ec;
  if (!fs::exists(path, ec)) return write_private(path, key + "\n", false);
  if (auto e = exposed(path, false)) return e;
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot read '" + path + "'";
  std::stringstream text;
  text << in.rdbuf();
  std::string keys = text.str();
  while (!keys.empty() && (keys.back() == '\n' || keys.back() == '\r' || keys.back() == ' ' || keys.back() == ','))
    keys.pop_back();
  return write_private(path, (keys.empty() ? key : keys + "," + key) + "\n", true);
}

std::optional<std::string> check_signing_algorithms(const Secrets& secrets, std::string_view token_algorithms) {
  auto allowed = crypto::jws::AlgSet::parse(std::string(token_algorithms));
  for (const auto& k : secrets.signing.keys())
    if (!allowed || !allowed->contains(k.key.alg()))
      return "signing key '" + k.key.kid() + "' uses " + std::string(crypto::jws::alg_name(k.key.alg())) +
             ", which 'token_algorithms' (" + std::string(token_algorithms) + ") does not allow";
  return std::nullopt;
}

}  // namespace latchkey
