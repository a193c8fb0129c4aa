// SO_REUSEPORT lets every shard of one latchkey accept on one port, and would as well let a
// second latchkey (another configuration) join the group and silently take half the traffic.
// After binding, the shards check that no listener but their own is on the port.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace latchkey::server {

// A TCP listener of this host, as /proc/net/tcp{,6} lists it.
struct ListeningSocket {
  boost::asio::ip::address address;
  std::uint16_t port = 0;
  unsigned long inode = 0;
};

// The LISTEN rows of a /proc/net/tcp or /proc/net/tcp6 text (pure; unit-tested).
std::vector<ListeningSocket> parse_proc_net_tcp(const std::string& text, bool v6);

// Another process's listener on `address`:`port` (or a wildcard on either side), when one
// exists: every listener whose socket inode is not in `own`. nullopt when there is none or
// when /proc cannot be read (not Linux): the check then cannot refuse.
std::optional<ListeningSocket> foreign_listener(const boost::asio::ip::address& address, std::uint16_t port,
                                                const std::vector<unsigned long>& own);

}  // namespace latchkey::server
