// The security event writer of one shard (events.hpp).
#include "server/events.hpp"

#include "server/shard.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include "latchkey/clock.hpp"
#include "latchkey/key_schema.hpp"

#include <chrono>

namespace latchkey::server {

void EventRecorder::emit(events::Event e) {
  const Config& cfg = shard_.server.config;
  if (!cfg.events && !cfg.events_stdout) return;
  if (e.time_ms == 0) {
    // Strictly increasing within the shard, so events of one request (a failure and the lockout
    // it causes) keep their order even where two share a microsecond.
    const auto us = last_us_ = std::max<std::int64_t>(
        last_us_ + 1,
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    e.time_ms = us / 1000;
    e.time_us_part = us % 1000;
  }
  if (cfg.events_stdout) shard_.log_line(events::to_log_line(e));
  if (!cfg.events || stopped_) return;
  if (queue_.size() >= kMaxQueued) {
    count_events_lost(1);
    return;
  }
  queue_.push_back(std::move(e));
  queued_ = queue_.size();
  if (armed_) return;
  armed_ = true;
  // Runs once the handler that emitted yields: every event of this turn goes in one request.
  asio::post(shard_.ioc, [this] { flush(); });
}

void EventRecorder::flush() {
  armed_ = false;
  if (queue_.empty()) return;
  const Config& cfg = shard_.server.config;
  const events::Codec& codec = shard_.generation->codec;
  const std::string cap = std::to_string(std::max<std::size_t>(1, cfg.events_max_length / events::kPartitions));
  const std::string ttl = std::to_string(cfg.events_retention.count() * 1000);
  redis::Request req;
  std::array<bool, events::kPartitions> touched{};
  for (const auto& e : queue_) {
    unsigned p = events::partition_of(e.user_id, e.ip);
    touched[p] = true;
    auto fields = codec.encode(e);
    req.begin(6 + 2 * fields.size())
        .arg("XADD")
        .key(key_schema::events_stream(cfg.key_prefix, p))
        .arg("MAXLEN")
        .arg("~")
        .arg(cap)
        .arg("*");
    for (const auto& [k, v] : fields) req.arg(k).arg(v);
  }
  // The stream outlives its newest event by the retention, then goes (every key has a TTL).
  for (unsigned p = 0; p < events::kPartitions; ++p)
    if (touched[p]) req.begin(3).arg("PEXPIRE").key(key_schema::events_stream(cfg.key_prefix, p)).arg(ttl);
  const std::size_t n = queue_.size();
  queue_.clear();
  queued_ = 0;
  asio::co_spawn(
      shard_.ioc,
      [this, req = std::move(req), n]() mutable -> awaitable<void> {
        auto r = co_await shard_.redis->exec(std::move(req), "events_write");
        std::size_t written = 0;
        if (r)
          for (std::size_t i = 0; i < n && i < r->size(); ++i)
            if (!(*r)[i].is_error()) ++written;
        count_events_written(written);
        count_events_lost(n - written);
      },
      log::LogFailure{"security event write"});
}

void EventRecorder::start_trimming() {
  if (!shard_.server.config.events) return;
  trim_timer_.emplace(shard_.ioc);
  trim();
}

void EventRecorder::trim() {
  if (stopped_ || !trim_timer_) return;
  const Config& cfg = shard_.server.config;
  if (shard_.redis->ready()) {
    const std::string min_id = std::to_string(unix_now_ms() - cfg.events_retention.count() * 1000);
    redis::Request req;
    for (unsigned p = 0; p < events::kPartitions; ++p)
      req.begin(5).arg("XTRIM").key(key_schema::events_stream(cfg.key_prefix, p)).arg("MINID").arg("~").arg(min_id);
    asio::co_spawn(
        shard_.ioc,
        [this, req = std::move(req)]() mutable -> awaitable<void> {
          (void)co_await shard_.redis->exec(std::move(req), "events_trim");
        },
        log::LogFailure{"security event trim"});
  }
  trim_timer_->expires_after(std::chrono::minutes(1));
  trim_timer_->async_wait([this](boost::system::error_code ec) {
    if (!ec) trim();
  });
}

void EventRecorder::stop() {
  stopped_ = true;
  if (trim_timer_) trim_timer_->cancel();
}

}  // namespace latchkey::server
