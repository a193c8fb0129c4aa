// Reading and creating the key-ring files of the secrets directory.
#include "latchkey/secrets.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace latchkey {
namespace fs = std::filesystem;

std::variant<Secrets, std::string> load_secrets(const std::string& dir) {
  fs::path path = fs::path(dir) / kEncryptionRingFile;
  std::ifstream f(path, std::ios::binary);
  if (!f)
    return "encryption key ring '" + path.string() + "' is missing or unreadable (create it with: latchkey keys init --dir " + dir + ")";
  std::stringstream ss;
  ss << f.rdbuf();
  auto ring = crypto::KeyRing::parse(ss.str());
  if (!ring) return "encryption key ring '" + path.string() + "' is invalid (expected {\"keys\": [{\"kid\", \"key\": base64url of 32 bytes}]})";
  return Secrets{std::move(*ring)};
}

std::optional<std::string> init_secrets(const std::string& dir, std::string* created) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return "cannot create '" + dir + "': " + ec.message();
  ::chmod(dir.c_str(), 0700);
  fs::path path = fs::path(dir) / kEncryptionRingFile;
  if (fs::exists(path)) return std::nullopt;
  std::string text = crypto::KeyRing::generate().serialize();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return "cannot create '" + path.string() + "': " + std::strerror(errno);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok) return "cannot write '" + path.string() + "'";
  if (created) *created += path.string() + "\n";
  return std::nullopt;
}

}  // namespace latchkey
