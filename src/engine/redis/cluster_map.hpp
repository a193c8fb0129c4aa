// Redis Cluster, the pure part: the slot map (from CLUSTER SLOTS, patched by MOVED), the
// parsing of redirects, the decision a router takes on a request's replies, and the RESP
// surgery it needs (one request's commands, ASKING in front of each). No I/O;
// tests/engine/redis/cluster_map_test.cpp.
#pragma once

#include "latchkey/redis/reply.hpp"
#include "latchkey/redis/url.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey::redis {

// Which master serves each of the 16384 slots.
class SlotMap {
 public:
  // From a CLUSTER SLOTS reply. An empty host in it means "the node you asked" (`asked`);
  // "?" (unknown endpoint) leaves that range unserved. nullopt and `why` for a reply of the
  // wrong shape.
  static std::optional<SlotMap> from_cluster_slots(const Reply& r, const HostPort& asked, std::string& why);

  const HostPort* master_of(std::uint16_t slot) const noexcept;
  void assign(std::uint16_t slot, const HostPort& node);  // a MOVED patch
  bool complete() const noexcept;                         // every slot has a master
  std::size_t served() const noexcept;                    // slots with a master
  // The masters serving at least one slot (a node every slot moved away from is not one).
  std::vector<HostPort> masters() const;

 private:
  std::uint16_t index_of(const HostPort& node);
  static constexpr std::uint16_t kNone = 0xFFFF;
  std::vector<std::uint16_t> owner_ = std::vector<std::uint16_t>(16384, kNone);  // index into nodes_
  std::vector<HostPort> nodes_;
  std::vector<std::uint32_t> slots_of_;  // per index into nodes_: how many slots it serves
};

// "MOVED 3999 127.0.0.1:6381" or "ASK 3999 127.0.0.1:6381".
struct Redirect {
  enum class Kind { moved, ask } kind;
  std::uint16_t slot;
  HostPort to;
};
std::optional<Redirect> parse_redirect(const Reply& r);

// What a router does with the replies of one request sent to one node.
struct ClusterStep {
  enum class Kind {
    done,         // every reply is an answer (error replies such as NOSCRIPT or WRONGTYPE included)
    follow,       // every command was redirected (MOVED or ASK) to the same node: send it there
    retry_later,  // every command was refused for now (TRYAGAIN, CLUSTERDOWN, LOADING, ...): wait, resend
    refresh,      // READONLY: the map names a demoted master; nothing ran; ask for the map again
    unavailable,  // some commands ran and some did not: resending would run those twice
  } kind;
  std::optional<Redirect> redirect;  // follow
};
// `asked`: the node the replies came from. A redirect naming that very node (a node whose
// view of the slot is in flux, or a misconfigured announce address) is no way forward:
// following it would loop until the redirect cap, so it is a refresh (wait, ask for the map).
// `keyless` (bit i: command i named no key, Request::keyless_mask): such a reply (TIME in a
// pipeline with a key's commands) says nothing about where the request belongs and running it
// again is harmless, so it neither counts as a command that ran nor as one redirected.
ClusterStep decide(const Replies& replies, const HostPort* asked = nullptr, std::uint64_t keyless = 0);

// The commands of a RESP request payload, each as its bytes (a view into `payload`); empty
// when the payload is not a sequence of complete RESP arrays of bulk strings.
std::vector<std::string_view> split_commands(std::string_view payload);
// `payload` with ASKING before each of its commands (an ASK redirect holds for one command).
std::string with_asking(std::string_view payload);

}  // namespace latchkey::redis
