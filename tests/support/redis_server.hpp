// Test harness: a real redis-server on a free port, started and owned by the test, plus a
// small blocking hiredis client to inspect and disturb it (SCRIPT FLUSH, DEBUG SLEEP, ...).
#pragma once

#include "support/process.hpp"

#include <cstdint>
#include <string>
#include <vector>

struct redisContext;  // hiredis

namespace latchkey::test {

// A port that was free a moment ago (bind to 0, read, close).
std::uint16_t free_port();
// A port for a latchkey listener (which binds with SO_REUSEPORT): kept bound, not listening,
// with SO_REUSEPORT for the rest of the test process, so no parallel test can be handed the
// same port and silently share the listener (the kernel would split connections between
// the two servers).
std::uint16_t reserved_listen_port();

// One blocking hiredis connection, held until destroyed (a test that must keep a client slot
// of its own, or send several commands on one connection). Replies are rendered as by
// RedisServer::command.
class RedisClient {
 public:
  explicit RedisClient(std::uint16_t port);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;
  bool connected() const { return c_ != nullptr; }
  std::string command(const std::vector<std::string>& args) const;

 private:
  redisContext* c_ = nullptr;
};

class RedisServer {
 public:
  // extra: more redis-server arguments, e.g. {"--maxmemory-policy", "allkeys-lru"}.
  explicit RedisServer(std::vector<std::string> extra = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(int db = 0) const { return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db); }

  void start();                   // (re)starts on the same port; waits until it answers PING
  void kill() { child_.kill(); }  // SIGKILL, waits for exit
  void pause() { child_.pause(); }
  void resume() { child_.resume(); }
  bool running() const { return child_.running(); }

  // One command over a fresh blocking connection; returns the reply rendered as text
  // (integers as digits, arrays joined by '\n', nil as "(nil)", errors prefixed "ERR:").
  std::string command(const std::vector<std::string>& args, int db = 0) const;
  // Every key/value in every database, as text (for "no secret at rest" checks).
  // Every key and value. Without `with_events`, the security event streams (<prefix>ev:) are
  // left out: they record an attempt, so a refused request still adds to them while it must
  // change nothing else. With it, their entries too (for checks that nothing is in clear).
  std::string dump_all(bool with_events = false) const;

 private:
  bool spawn();  // false when the server exited at start (the port was taken)
  std::uint16_t port_;
  ChildPid child_;
  bool started_once_ = false;
  std::vector<std::string> extra_;
  std::string dir_;
};

}  // namespace latchkey::test
