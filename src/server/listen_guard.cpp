// Finds a listener of another process on the port the shards joined (see listen_guard.hpp).
#include "server/listen_guard.hpp"

#include <array>
#include <charconv>
#include <fstream>
#include <sstream>

namespace latchkey::server {

namespace {
constexpr const char* kListen = "0A";  // TCP_LISTEN in /proc/net/tcp's st column

std::optional<std::uint32_t> hex32(std::string_view s) {
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// "0100007F:1F90": the address as the kernel's 32-bit words in host order (little-endian
// here), then the port in hex.
std::optional<std::pair<boost::asio::ip::address, std::uint16_t>> endpoint_of(std::string_view s, bool v6) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto addr = s.substr(0, colon);
  auto port = hex32(s.substr(colon + 1));
  if (!port || *port > 0xffff || addr.size() != (v6 ? 32u : 8u)) return std::nullopt;
  std::array<unsigned char, 16> bytes{};
  for (std::size_t w = 0; w < addr.size() / 8; ++w) {
    auto word = hex32(addr.substr(8 * w, 8));
    if (!word) return std::nullopt;
    for (std::size_t b = 0; b < 4; ++b) bytes[4 * w + b] = static_cast<unsigned char>(*word >> (8 * b));
  }
  if (!v6) {
    return std::pair{boost::asio::ip::address(boost::asio::ip::address_v4({bytes[0], bytes[1], bytes[2], bytes[3]})),
                     static_cast<std::uint16_t>(*port)};
  }
  return std::pair{boost::asio::ip::address(boost::asio::ip::address_v6(bytes)), static_cast<std::uint16_t>(*port)};
}

bool overlaps(const boost::asio::ip::address& a, const boost::asio::ip::address& b) {
  return a == b || a.is_unspecified() || b.is_unspecified();
}
}  // namespace

std::vector<ListeningSocket> parse_proc_net_tcp(const std::string& text, bool v6) {
  std::vector<ListeningSocket> out;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string sl, local, remote, st, queues, timer, retr, uid, timeout, inode;
    if (!(row >> sl >> local >> remote >> st >> queues >> timer >> retr >> uid >> timeout >> inode)) continue;
    if (st != kListen) continue;
    auto ep = endpoint_of(local, v6);
    unsigned long ino = 0;
    auto [p, ec] = std::from_chars(inode.data(), inode.data() + inode.size(), ino);
    if (!ep || ec != std::errc()) continue;
    out.push_back(ListeningSocket{ep->first, ep->second, ino});
  }
  return out;
}

std::optional<ListeningSocket> foreign_listener(const boost::asio::ip::address& address, std::uint16_t port,
                                                const std::vector<unsigned long>& own) {
  for (bool v6 : {false, true}) {
    std::ifstream f(v6 ? "/proc/net/tcp6" : "/proc/net/tcp");
    if (!f) continue;
    std::stringstream ss;
    ss << f.rdbuf();
    for (const auto& l : parse_proc_net_tcp(ss.str(), v6)) {
      if (l.port != port) continue;
      bool mine = false;
      for (auto i : own) mine = mine || i == l.inode;
      if (mine) continue;
      // An IPv6 wildcard listener also takes IPv4 unless it is v6-only; count it.
      if (overlaps(l.address, address) || (l.address.is_v6() && l.address.is_unspecified())) return l;
    }
  }
  return std::nullopt;
}

}  // namespace latchkey::server
