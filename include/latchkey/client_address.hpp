// The client's address behind reverse proxies: taken from Forwarded (RFC 7239) or
// X-Forwarded-For only when the TCP peer is one of `trusted_proxies`, as the rightmost address
// of the chain that is not a trusted proxy. Never from headers otherwise (anyone can send them).
#pragma once

#include <boost/asio/ip/address.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace latchkey::net {

struct Cidr {
  boost::asio::ip::address network;
  unsigned prefix = 0;
  bool contains(const boost::asio::ip::address& a) const;
};

// "10.0.0.0/8, 2001:db8::/32, 192.0.2.7" (a bare address is a /32 or /128); nullopt with `why`.
std::optional<std::vector<Cidr>> parse_cidrs(std::string_view text, std::string& why);

// The client address for a request from TCP `peer` with these (lower-case name, value) headers.
std::string client_address(const std::string& peer, const std::vector<std::pair<std::string, std::string>>& headers,
                           const std::vector<Cidr>& trusted);

}  // namespace latchkey::net
