// Finding the master through Sentinel, as a plain state machine fed with replies (the Redis
// Sentinel client guidelines, steps 1 and 2; step 3, the ROLE check, is part of the data
// node's handshake). No sockets: the driver in sentinel.cpp connects to the sentinel this
// names, sends request(), and feeds back the replies or the failure.
//
//  - Each round asks the known sentinels in order until one names the master.
//  - The sentinel that answered moves to the front of the list.
//  - Sentinels learned from `SENTINEL sentinels` are added at the end (at most 16 in all); the
//    configured ones are never dropped.
//  - A round that finds no master says why, and the two cases clients must tell apart stay
//    apart: no sentinel reachable, and sentinels that do not know the master name.
#pragma once

#include "latchkey/redis/reply.hpp"
#include "latchkey/redis/request.hpp"
#include "latchkey/redis/url.hpp"

#include <optional>
#include <string>
#include <vector>

namespace latchkey::redis {

class SentinelResolver {
 public:
  static constexpr std::size_t max_sentinels = 16;

  SentinelResolver(std::vector<HostPort> configured, std::string master_name, std::string user = {},
                   std::string password = {});

  void begin_round();
  // The sentinel to ask now; nullopt once every known one was asked this round.
  std::optional<HostPort> next_sentinel();
  // What to send it: [AUTH], SENTINEL get-master-addr-by-name, SENTINEL sentinels.
  Request request() const;
  // Its replies to request(). The master's address when it named one (the round is over).
  std::optional<HostPort> on_replies(const Replies& replies);
  // It could not be reached, or did not answer within the timeout.
  void on_failure(std::string why);

  enum class Failure { none, unreachable, unknown_master, refused_auth };
  // Why the last round found no master (none while it has not ended, or when it found one).
  Failure failure() const noexcept;
  // One sentence naming the reason, with each sentinel's own (never credentials).
  std::string failure_message() const;

  const std::vector<HostPort>& sentinels() const noexcept { return list_; }
  const std::string& master_name() const noexcept { return master_; }

 private:
  void learn(const Reply& sentinels_reply);
  std::vector<HostPort> list_;
  std::string master_;
  std::string user_, password_;
  std::size_t next_ = 0;    // index into list_ of the next sentinel to ask
  std::size_t asking_ = 0;  // index of the one asked last
  bool found_ = false;
  unsigned unknown_ = 0, unreachable_ = 0, refused_ = 0;
  std::vector<std::string> reasons_;
};

}  // namespace latchkey::redis
