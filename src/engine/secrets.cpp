// Reading and creating the key-ring files of the secrets directory.
#include "latchkey/secrets.hpp"
#include "latchkey/clock.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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
  return std::string(what) + " '" + path.string() + "' is missing or unreadable (create it with: latchkey keys init --dir " +
         dir + ")";
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

std::variant<Secrets, std::string> load_secrets(const std::string& dir) {
  fs::path path = fs::path(dir) / kEncryptionRingFile;
  auto text = read_file(path);
  if (!text) return missing("encryption key ring", path, dir);
  auto ring = crypto::KeyRing::parse(*text);
  if (!ring) return "encryption key ring '" + path.string() + "' is invalid (expected {\"keys\": [{\"kid\", \"key\": base64url of 32 bytes}]})";
  auto signing = load_signing_ring(dir);
  if (auto* why = std::get_if<std::string>(&signing)) return std::move(*why);
  return Secrets{std::move(*ring), std::move(std::get<crypto::SigningRing>(signing))};
}

std::optional<std::string> init_secrets(const std::string& dir, std::string* created, crypto::jws::Alg signing_alg) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return "cannot create '" + dir + "': " + ec.message();
  ::chmod(dir.c_str(), 0700);
  const std::pair<const char*, bool> files[] = {{kEncryptionRingFile, true}, {kSigningRingFile, false}};
  for (const auto& [name, encryption] : files) {
    fs::path path = fs::path(dir) / name;
    if (fs::exists(path)) continue;
    std::string text = encryption ? crypto::KeyRing::generate().serialize()
                                  : crypto::SigningRing::generate(signing_alg, unix_now()).serialize();
    if (auto e = write_private(path, text, false)) return e;
    if (created) *created += path.string() + "\n";
  }
  return std::nullopt;
}

std::optional<std::string> store_signing_ring(const std::string& dir, const crypto::SigningRing& ring) {
  return write_private(fs::path(dir) / kSigningRingFile, ring.serialize(), true);
}

}  // namespace latchkey
