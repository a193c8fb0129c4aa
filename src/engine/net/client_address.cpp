// Forwarded / X-Forwarded-For under trusted_proxies (see client_address.hpp).
#include "latchkey/client_address.hpp"

#include <algorithm>
#include <cctype>

namespace latchkey::net {
namespace ip = boost::asio::ip;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<ip::address> address_of(std::string_view s) {
  boost::system::error_code ec;
  auto a = ip::make_address(std::string(s), ec);
  if (ec) return std::nullopt;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}

// One node of a Forwarded "for=" (RFC 7239 6): 192.0.2.1, "192.0.2.1:80", "[2001:db8::1]:80".
std::optional<ip::address> forwarded_node(std::string_view v) {
  v = trim(v);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (!v.empty() && v.front() == '[') {
    auto close = v.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    return address_of(v.substr(1, close - 1));
  }
  if (std::count(v.begin(), v.end(), ':') == 1) v = v.substr(0, v.find(':'));
  return address_of(v);
}

void split(std::string_view s, char sep, std::vector<std::string_view>& out) {
  while (true) {
    auto at = s.find(sep);
    out.push_back(trim(s.substr(0, at)));
    if (at == std::string_view::npos) return;
    s.remove_prefix(at + 1);
  }
}

}  // namespace

bool Cidr::contains(const ip::address& a) const {
  if (a.is_v4() != network.is_v4()) return false;
  auto match = [this](const auto& x, const auto& y) {
    for (unsigned bit = 0; bit < prefix; ++bit) {
      unsigned byte = bit / 8, mask = 0x80u >> (bit % 8);
      if ((x[byte] & mask) != (y[byte] & mask)) return false;
    }
    return true;
  };
  return a.is_v4() ? match(a.to_v4().to_bytes(), network.to_v4().to_bytes())
                   : match(a.to_v6().to_bytes(), network.to_v6().to_bytes());
}

std::optional<std::vector<Cidr>> parse_cidrs(std::string_view text, std::string& why) {
  std::vector<Cidr> out;
  std::vector<std::string_view> items;
  if (trim(text).empty()) return out;
  split(text, ',', items);
  for (auto item : items) {
    auto slash = item.find('/');
    auto a = address_of(item.substr(0, slash));
    if (!a) {
      why = "'" + std::string(item) + "' is not an address or CIDR block";
      return std::nullopt;
    }
    unsigned max = a->is_v4() ? 32 : 128, prefix = max;
    if (slash != std::string_view::npos) {
      auto digits = item.substr(slash + 1);
      if (digits.empty() || digits.size() > 3 ||
          !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
          std::stoul(std::string(digits)) > max) {
        why = "'" + std::string(item) + "' has no valid prefix length";
        return std::nullopt;
      }
      prefix = static_cast<unsigned>(std::stoul(std::string(digits)));
    }
    out.push_back({*a, prefix});
  }
  return out;
}

std::string client_address(const std::string& peer, const std::vector<std::pair<std::string, std::string>>& headers,
                           const std::vector<Cidr>& trusted) {
  auto trusted_addr = [&](const ip::address& a) {
    return std::any_of(trusted.begin(), trusted.end(), [&](const Cidr& c) { return c.contains(a); });
  };
  auto peer_addr = address_of(peer);
  if (trusted.empty() || !peer_addr || !trusted_addr(*peer_addr)) return peer;
  // The chain as the proxies wrote it, client first; Forwarded wins over X-Forwarded-For.
  bool forwarded = std::any_of(headers.begin(), headers.end(), [](const auto& h) { return h.first == "forwarded"; });
  std::vector<std::optional<ip::address>> chain;
  for (const auto& [name, value] : headers) {
    if (name != (forwarded ? "forwarded" : "x-forwarded-for")) continue;
    std::vector<std::string_view> elements;
    split(value, ',', elements);
    for (auto e : elements) {
      if (!forwarded) {
        chain.push_back(address_of(e));
        continue;
      }
      std::optional<ip::address> node;
      std::vector<std::string_view> pairs;
      split(e, ';', pairs);
      for (auto p : pairs) {
        if (p.size() > 4 && std::tolower(static_cast<unsigned char>(p[0])) == 'f' &&
            std::tolower(static_cast<unsigned char>(p[1])) == 'o' &&
            std::tolower(static_cast<unsigned char>(p[2])) == 'r' && p[3] == '=')
          node = forwarded_node(p.substr(4));
      }
      chain.push_back(node);
    }
  }
  // From the right: skip trusted proxies; the first other hop is the client. A hop that is
  // not an address ("unknown", garbage) stops the walk at the last proxy we trust.
  ip::address last = *peer_addr;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    if (!*it) break;
    last = **it;
    if (!trusted_addr(last)) return last.to_string();
  }
  return last.to_string();
}

}  // namespace latchkey::net
