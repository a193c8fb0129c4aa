// SentinelSet: fork/exec of redis-server (data nodes) and redis-server --sentinel.
#include "support/sentinel_set.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace latchkey::test {
namespace {
using namespace std::chrono_literals;

std::string with_auth(const RedisClient& c, const std::string& password, const std::vector<std::string>& args) {
  if (!c.connected()) return "ERR:connect";
  if (!password.empty()) (void)c.command({"AUTH", password});
  return c.command(args);
}

// The value after `field` in a flat field/value array rendered one per line.
std::string field_of(const std::string& rendered, const std::string& field) {
  std::string key = field + "\n";
  std::size_t at = rendered.starts_with(key) ? 0 : rendered.find("\n" + key);
  if (at == std::string::npos) return {};
  std::size_t start = at + key.size() + (at == 0 ? 0 : 1);
  return rendered.substr(start, rendered.find('\n', start) - start);
}

std::vector<std::string> tls_args(std::uint16_t tls_port) {
  const auto& c = TlsCerts::get();
  return {"--tls-port",         std::to_string(tls_port),
          "--tls-cert-file",    c.pem("server"),
          "--tls-key-file",     c.key("server"),
          "--tls-ca-cert-file", c.pem("ca"),
          "--tls-auth-clients", "no",
          "--tls-replication",  "yes"};
}
}  // namespace

SentinelProcess::SentinelProcess(std::string conf_text, const SentinelSetOptions& o, std::uint16_t tls_port)
    : port_(free_port()), password_(o.sentinel_password) {
  char tmpl[] = "/tmp/latchkey-sentinel-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  std::string conf = dir_ + "/sentinel.conf";
  {
    std::ofstream f(conf);
    f << "port " << port_ << "\nbind 127.0.0.1\ndaemonize no\ndir " << dir_ << "\nlogfile " << dir_
      << "/sentinel.log\n";
    if (tls_port != 0) {
      const auto& c = TlsCerts::get();
      f << "tls-port " << tls_port << "\ntls-cert-file " << c.pem("server") << "\ntls-key-file " << c.key("server")
        << "\ntls-ca-cert-file " << c.pem("ca") << "\ntls-auth-clients no\ntls-replication yes\n";
    }
    if (!o.sentinel_password.empty()) f << "requirepass " << o.sentinel_password << "\n";
    f << conf_text;
  }
  child_.spawn({"redis-server", conf, "--sentinel"});
  for (int i = 0; i < 500; ++i) {
    std::string pong = command({"PING"});
    if (pong == "PONG") return;
    std::this_thread::sleep_for(10ms);
  }
  throw std::runtime_error("redis-sentinel did not answer PING on port " + std::to_string(port_));
}

SentinelProcess::~SentinelProcess() {
  child_.kill();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string SentinelProcess::command(const std::vector<std::string>& args) const {
  RedisClient c(port_);
  return with_auth(c, password_, args);
}

SentinelSet::SentinelSet(SentinelSetOptions o) : o_(std::move(o)) {
  std::vector<std::string> auth;
  if (!o_.data_password.empty()) auth = {"--requirepass", o_.data_password, "--masterauth", o_.data_password};
  auto data_node = [&](std::vector<std::string> extra) {
    extra.insert(extra.end(), auth.begin(), auth.end());
    std::uint16_t tp = o_.tls ? free_port() : 0;
    if (o_.tls) {
      auto t = tls_args(tp);
      extra.insert(extra.end(), t.begin(), t.end());
    }
    nodes.push_back(std::make_unique<RedisServer>(extra));
    tls_ports.push_back(tp);
  };
  data_node({});
  const std::uint16_t master = o_.tls ? tls_ports[0] : nodes[0]->port();
  for (int i = 0; i < o_.replicas; ++i) data_node({"--replicaof", "127.0.0.1", std::to_string(master)});

  std::string conf = "sentinel monitor " + o_.master_name + " 127.0.0.1 " + std::to_string(master) +
                     " 2\nsentinel down-after-milliseconds " + o_.master_name + " 1000\nsentinel failover-timeout " +
                     o_.master_name + " 3000\nsentinel parallel-syncs " + o_.master_name + " 1\n";
  if (!o_.data_password.empty()) conf += "sentinel auth-pass " + o_.master_name + " " + o_.data_password + "\n";
  for (int i = 0; i < 3; ++i) {
    std::uint16_t tp = o_.tls ? free_port() : 0;
    sentinels.push_back(std::make_unique<SentinelProcess>(conf, o_, tp));
    sentinel_tls_ports.push_back(tp);
  }

  // Ready when every replica is in sync and every sentinel knows the replicas and the others
  // (a failover needs the quorum of 2 and a replica to promote).
  auto deadline = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    bool ok = true;
    for (std::size_t i = 1; i < nodes.size(); ++i)
      ok = ok &&
           data_command(nodes[i]->port(), {"INFO", "replication"}).find("master_link_status:up") != std::string::npos;
    for (auto& s : sentinels) {
      std::string m = s->command({"SENTINEL", "master", o_.master_name});
      ok = ok && field_of(m, "num-slaves") == std::to_string(o_.replicas) && field_of(m, "num-other-sentinels") == "2";
    }
    if (ok) return;
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("the sentinel set did not settle");
    std::this_thread::sleep_for(50ms);
  }
}

SentinelSet::~SentinelSet() {
  sentinels.clear();
  nodes.clear();
}

std::string SentinelSet::url(const std::string& master_name) const {
  std::string out = o_.tls ? "rediss+sentinel://" : "redis+sentinel://";
  if (!o_.data_password.empty()) out += ":" + o_.data_password + "@";
  for (std::size_t i = 0; i < sentinels.size(); ++i)
    out += (i ? "," : "") + std::string("127.0.0.1:") +
           std::to_string(o_.tls ? sentinel_tls_ports[i] : sentinels[i]->port());
  return out + "/" + (master_name.empty() ? o_.master_name : master_name);
}

RedisServer& SentinelSet::node(std::uint16_t port) {
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i]->port() == port || tls_ports[i] == port) return *nodes[i];
  throw std::runtime_error("no data node on port " + std::to_string(port));
}

std::uint16_t SentinelSet::master_port() const {
  for (const auto& s : sentinels) {
    if (!s->running()) continue;
    std::string r = s->command({"SENTINEL", "get-master-addr-by-name", o_.master_name});
    auto nl = r.find('\n');
    if (r.starts_with("ERR:") || nl == std::string::npos) continue;
    return static_cast<std::uint16_t>(std::stoi(r.substr(nl + 1)));
  }
  return 0;
}

bool SentinelSet::wait_for_new_master(std::uint16_t old, std::chrono::milliseconds max) const {
  auto deadline = std::chrono::steady_clock::now() + max;
  while (std::chrono::steady_clock::now() < deadline) {
    std::uint16_t now = master_port();
    if (now != 0 && now != old) {
      std::uint16_t plain = now;
      for (std::size_t i = 0; i < nodes.size(); ++i)
        if (tls_ports[i] == now) plain = nodes[i]->port();
      if (data_command(plain, {"ROLE"}).starts_with("master")) return true;
    }
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

std::string SentinelSet::data_command(std::uint16_t port, const std::vector<std::string>& args) const {
  RedisClient c(port);
  return with_auth(c, o_.data_password, args);
}

}  // namespace latchkey::test
