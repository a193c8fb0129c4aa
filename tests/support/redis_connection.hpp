// Test harness for redis::Connection against real processes: options with short deadlines,
// the first outcome of a start, and one command through the connection.
#pragma once

#include "support/asio_run.hpp"

#include "latchkey/log.hpp"
#include "latchkey/redis/connection.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace latchkey::test {

// Options for `url` with deadlines short enough for bounded fault scenarios.
inline redis::ConnectionOptions quick_options(const std::string& url) {
  using namespace std::chrono_literals;
  redis::ConnectionOptions o;
  o.target = *redis::parse_target(url);
  o.call_timeout = 500ms;
  o.connect_timeout = 500ms;
  o.sentinel_timeout = 300ms;
  o.reconnect_min = 20ms;
  o.reconnect_max = 100ms;
  o.scripts = std::make_shared<const redis::ScriptSet>(redis::ScriptSet::embedded());
  return o;
}

// Starts the connection and waits for the first outcome: "" when ready, else last_error().
inline std::string first_outcome(boost::asio::io_context& ioc, redis::Connection& c,
                                 std::chrono::milliseconds max = std::chrono::seconds(15)) {
  c.start();
  auto r = run_awaitable(ioc, c.ready_or_failed(), max);
  return r ? std::string() : c.last_error();
}

// Every line the connection logs goes to `lines` (which must outlive it).
inline void capture_log(redis::ConnectionOptions& o, std::vector<std::string>& lines) {
  o.log = [&lines](log::Level, std::string_view msg) { lines.emplace_back(msg); };
}

inline boost::asio::awaitable<result<redis::Replies>> command(redis::Connection& c, std::vector<std::string> args) {
  redis::Request r;
  r.push(args);
  co_return co_await c.exec(std::move(r), "test");
}

}  // namespace latchkey::test
