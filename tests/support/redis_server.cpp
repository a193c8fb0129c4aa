// RedisServer: fork/exec of redis-server, readiness by PING, teardown by pid.
#include "support/redis_server.hpp"

#include <algorithm>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace latchkey::test {

namespace {
// A loopback TCP socket bound to a port the kernel picks; SO_REUSEPORT first when asked.
std::pair<int, std::uint16_t> bind_loopback(bool reuse_port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  if (reuse_port) ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("bind failed");
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return {fd, ntohs(addr.sin_port)};
}
}  // namespace

std::uint16_t free_port() {
  auto [fd, port] = bind_loopback(false);
  ::close(fd);
  return port;
}

std::uint16_t reserved_listen_port() {
  return bind_loopback(true).second;  // the socket stays open until the process ends
}

RedisServer::RedisServer(std::vector<std::string> extra) : port_(free_port()), extra_(std::move(extra)) {
  char tmpl[] = "/tmp/latchkey-redis-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  start();
}

RedisServer::~RedisServer() {
  child_.kill();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void RedisServer::start() {
  if (child_.running()) return;
  // free_port() only says the port was free a moment ago: a parallel test may take it first.
  // A PONG counts only from our own process (INFO's process_id); on a first start whose
  // server could not bind, take another port.
  for (int attempt = 0;; ++attempt) {
    if (spawn()) return;
    if (started_once_ || attempt >= 5)
      throw std::runtime_error("redis-server did not start on port " + std::to_string(port_));
    port_ = free_port();
  }
}

bool RedisServer::spawn() {
  std::vector<std::string> args{"redis-server",
                                "--port",
                                std::to_string(port_),
                                "--bind",
                                "127.0.0.1",
                                "--save",
                                "",
                                "--appendonly",
                                "no",
                                "--dir",
                                dir_,
                                "--daemonize",
                                "no",
                                "--logfile",
                                dir_ + "/redis.log",
                                "--maxmemory-policy",
                                "noeviction",
                                "--enable-debug-command",
                                "local"};
  args.insert(args.end(), extra_.begin(), extra_.end());
  child_.spawn(std::move(args));
  const std::string own = "process_id:" + std::to_string(child_.pid()) + "\r";
  for (int i = 0; i < 500; ++i) {
    if (auto status = child_.exited()) {
      if (WIFEXITED(*status) && WEXITSTATUS(*status) == 127) throw std::runtime_error("redis-server is not installed");
      return false;  // most likely the port was taken
    }
    std::string pong = command({"PING"});
    if (pong == "PONG" || pong.starts_with("ERR:NOAUTH")) {
      std::string info = command({"INFO", "server"});
      if (pong.starts_with("ERR:NOAUTH") || info.find(own) != std::string::npos) {
        started_once_ = true;
        return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("redis-server did not answer PING");
}

namespace {
std::string render(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS: return std::string(r->str, r->len);
    case REDIS_REPLY_ERROR: return "ERR:" + std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER: return std::to_string(r->integer);
    case REDIS_REPLY_NIL: return "(nil)";
    case REDIS_REPLY_ARRAY: {
      std::string out;
      for (std::size_t i = 0; i < r->elements; ++i) {
        if (i) out += "\n";
        out += render(r->element[i]);
      }
      return out;
    }
    default: return "?";
  }
}
}  // namespace

RedisClient::RedisClient(std::uint16_t port) {
  timeval tv{1, 0};
  c_ = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (c_ && !c_->err) {
    redisSetTimeout(c_, timeval{5, 0});
    return;
  }
  if (c_) redisFree(c_);
  c_ = nullptr;
}

RedisClient::~RedisClient() {
  if (c_) redisFree(c_);
}

std::string RedisClient::command(const std::vector<std::string>& args) const {
  if (!c_) return "ERR:connect";
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(redisCommandArgv(c_, static_cast<int>(args.size()), argv.data(), lens.data()));
  std::string out = r ? render(r) : "ERR:io";
  if (r) freeReplyObject(r);
  return out;
}

std::string RedisServer::command(const std::vector<std::string>& args, int db) const {
  RedisClient c(port_);
  if (!c.connected()) return "ERR:connect";
  if (db != 0) (void)c.command({"SELECT", std::to_string(db)});
  return c.command(args);
}

std::string RedisServer::dump_all(bool with_events) const {
  std::string out;
  for (int db = 0; db < 16; ++db) {
    // In key order: KEYS answers in hash-table order, which a rehash (a key added, even one
    // left out here) changes.
    std::string listed = command({"KEYS", "*"}, db);
    std::vector<std::string> keys;
    std::size_t start = 0;
    while (start < listed.size()) {
      auto end = listed.find('\n', start);
      if (end == std::string::npos) end = listed.size();
      keys.push_back(listed.substr(start, end - start));
      start = end + 1;
    }
    std::sort(keys.begin(), keys.end());
    for (const auto& key : keys) {
      if (key.empty()) continue;
      const bool event_stream = key.find("ev:{ev") != std::string::npos;
      if (event_stream && !with_events) continue;
      out += key + "\n";
      std::string type = command({"TYPE", key}, db);
      if (type == "string")
        out += command({"GET", key}, db) + "\n";
      else if (type == "hash")
        out += command({"HGETALL", key}, db) + "\n";
      else if (type == "zset")
        out += command({"ZRANGE", key, "0", "-1", "WITHSCORES"}, db) + "\n";
      else if (type == "set")
        out += command({"SMEMBERS", key}, db) + "\n";
      else if (type == "list")
        out += command({"LRANGE", key, "0", "-1"}, db) + "\n";
      else if (type == "stream")
        out += command({"XRANGE", key, "-", "+"}, db) + "\n";
    }
  }
  return out;
}

}  // namespace latchkey::test
