// The security event writer of one shard: events emitted while the shard's thread runs are
// queued, then written together by one pipelined request on the shard's Redis connection,
// posted to run as soon as the current handler yields (so they usually share a write with
// the commands of the requests in flight). Nobody waits for it: a request's answer never
// depends on its event, and an event that cannot be written is counted as lost.
// Also: the JSON-lines copy on stdout (events_stdout), and age trimming (shard 0, every minute).
#pragma once

#include "latchkey/events.hpp"

#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace latchkey::server {

struct Shard;

class EventRecorder final : public events::Sink {
 public:
  explicit EventRecorder(Shard& shard) : shard_(shard) {}
  void emit(events::Event e) override;
  // Shard 0: trims every stream by age now and then every minute, until the shard stops.
  void start_trimming();
  void stop();
  // Events queued and not yet handed to Redis (tests, shutdown).
  std::size_t queued() const noexcept { return queued_; }

  // At most this many events wait for one write; more are lost (counted), so a flood of
  // failures while Redis is slow cannot grow the process's memory.
  static constexpr std::size_t kMaxQueued = 4096;

 private:
  void flush();
  void trim();
  Shard& shard_;
  std::optional<boost::asio::steady_timer> trim_timer_;
  std::vector<events::Event> queue_;
  std::size_t queued_ = 0;
  bool armed_ = false;
  std::int64_t last_us_ = 0;  // each event of this shard strictly after the one before
  bool stopped_ = false;
};

}  // namespace latchkey::server
