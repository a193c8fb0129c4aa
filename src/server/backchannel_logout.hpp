// OpenID Connect Back-Channel Logout 1.0, the sending side, one per shard: when latchkey ends a
// user's grant with a client (the user's tokens revoked, one grant revoked by an admin, a
// replayed code, a reused refresh token), it POSTs a signed logout token to the client's
// `backchannel_logout_uri`. Nobody waits for it: the request that ended the grant has its
// answer already. Each delivery makes at most kAttempts attempts (kTimeout each, kBackoff
// between), and its outcome is a security event (`backchannel_logout`: delivered or failed).
// At most kMaxInFlight deliveries per shard; beyond that a delivery fails at once (recorded).
#pragma once

#include "latchkey/events.hpp"

#include <boost/asio/cancellation_signal.hpp>

#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace latchkey::server {

struct Shard;

class BackchannelLogout final : public events::GrantEndSink {
 public:
  explicit BackchannelLogout(Shard& shard) : shard_(shard) {}
  // Never blocks, never fails the caller.
  void ended(events::EndedGrant g) override;
  // Shutdown: no new deliveries, and the ones in flight are cancelled (a slow client never
  // holds the process).
  void stop();
  std::size_t in_flight() const noexcept { return in_flight_; }

  static constexpr int kAttempts = 3;
  static constexpr std::chrono::seconds kTimeout{5};
  static constexpr std::chrono::milliseconds kBackoff{1000};  // doubled after each failure
  static constexpr std::size_t kMaxInFlight = 256;
  static constexpr std::int64_t kTokenTtl = 120;  // s: the logout token's exp - iat

 private:
  Shard& shard_;
  std::size_t in_flight_ = 0;
  std::list<boost::asio::cancellation_signal> cancels_;  // one per delivery in flight
  std::shared_ptr<boost::asio::ssl::context> tls_;       // for https URIs: made on first use
};

}  // namespace latchkey::server
