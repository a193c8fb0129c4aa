// The server's life: start (listeners planned and bound, one shard per I/O thread with its
// Redis connection), reload (key rings and TLS files, all or nothing), and graceful shutdown.
// Connections and HTTP live in transport.cpp, routing and the access log in dispatch.cpp.
#include "server/shard.hpp"

#include "server/listen_guard.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

namespace latchkey::server {

namespace {
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
}  // namespace

void Shard::begin_shutdown() {
  if (stopping) return;
  stopping = true;
  boost::system::error_code ignored;
  for (auto& a : acceptors) a.socket.close(ignored);
  for (auto& c : conns)
    if (!c.busy) c.socket->cancel(ignored);
  grace.emplace(ioc, server.config.shutdown_grace);
  grace->async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    boost::system::error_code ignored2;
    for (auto& c : conns) c.socket->close(ignored2);
    if (redis) redis->stop();
  });
  maybe_finish();
}

void Shard::maybe_finish() {
  if (!stopping || !conns.empty()) return;
  logouts.stop();
  events.stop();
  flush_access();
  if (access_timer) access_timer->cancel();
  if (redis) redis->stop();
  if (grace) grace->cancel();
}

Server::Server(Config config, Secrets secrets, Router router)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(secrets), std::move(router))) {}

Server::~Server() {
  request_stop();
  wait();
}

std::optional<std::string> Server::start() {
  Impl& s = *impl_;
  s.scripts = std::make_shared<const redis::ScriptSet>(redis::ScriptSet::embedded());
  s.generation = std::make_shared<const Generation>(s.config, std::move(s.initial));
  s.reload_hook = [this](std::string* summary) { return reload(summary); };
  if (!s.config.tls_cert_file.empty()) {
    std::string tls_why;
    s.tls = make_https_context(s.config, tls_why);
    if (!s.tls) return "HTTPS: " + tls_why;
  }
  s.admin_keys = AdminKeys(s.config.admin_api_keys, s.config.admin_read_only_keys);

  // Descriptors: each shard's Redis connection (and its reconnect), the listeners, logs and a
  // margin stay reserved; client connections get the rest, at most max_connections.
  std::string why;
  s.trusted_proxies = net::parse_cidrs(s.config.trusted_proxies, why).value_or(std::vector<net::Cidr>{});
  s.max_connections = s.config.max_connections;
  if (rlimit rl{}; ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    std::size_t reserve = 32 + 4 * static_cast<std::size_t>(s.config.effective_threads());
    std::size_t room = rl.rlim_cur > reserve ? static_cast<std::size_t>(rl.rlim_cur) - reserve : 1;
    if (room < s.max_connections) {
      log::event(log::Level::warn, "max_connections lowered to " + std::to_string(room) + " (descriptor limit " +
                                       std::to_string(rl.rlim_cur) + ", " + std::to_string(reserve) + " reserved)");
      s.max_connections = room;
    }
  }

  // The listeners: `listen`, and `admin_listen` / `metrics_listen` when they name another
  // address (the same host:port as one already planned is that listener).
  auto plan = [&s](const ListenAddress& a, unsigned bit) -> std::optional<std::string> {
    if (a.port != 0)
      for (auto& l : s.listeners)
        if (l.host == a.host && l.port == a.port) {
          l.serves |= bit;
          return std::nullopt;
        }
    boost::system::error_code ec;
    asio::ip::address address = asio::ip::make_address(a.host, ec);
    if (ec) {
      asio::io_context tmp;
      tcp::resolver resolver(tmp);
      auto results = resolver.resolve(a.host, "", ec);
      if (ec || results.empty()) return "listen: cannot resolve host '" + a.host + "'";
      address = results.begin()->endpoint().address();
    }
    s.listeners.push_back({a.host, address, a.port, bit});
    return std::nullopt;
  };
  if (auto err = plan({s.config.listen_host, s.config.listen_port}, public_listener)) return err;
  for (auto [option, bit] :
       {std::pair{&s.config.admin_listen, admin_listener}, {&s.config.metrics_listen, metrics_listener}}) {
    if (!*option)
      s.listeners.front().serves |= bit;
    else if (auto err = plan(**option, bit))
      return err;
  }
  if (s.config.console_listen) {
    // Its own listener (the configuration refuses a shared one): the console's routes and the
    // admin API, which the page calls with its session there.
    const auto before = s.listeners.size();
    if (auto err = plan(*s.config.console_listen, console_listener | admin_listener)) return err;
    if (s.listeners.size() == before) return "console_listen: must be a listener of its own";
  }

  unsigned n = s.config.effective_threads();
  for (unsigned i = 0; i < n; ++i) {
    auto shard = std::make_unique<Shard>(s, i);
    shard->generation = s.generation;
    shard->tls = s.tls;
    std::array<std::uint8_t, 4> rnd{};
    crypto::random_bytes(rnd);
    shard->rid_prefix = crypto::hex_encode(rnd) + "-";
    for (auto& l : s.listeners) {
      boost::system::error_code ec;
      tcp::acceptor acc(shard->ioc);
      tcp::endpoint ep(l.address, l.port);
      acc.open(ep.protocol(), ec);
      if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) acc.set_option(reuse_port(true), ec);
      if (!ec) acc.bind(ep, ec);
      if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
      if (ec) return "listen: cannot listen on " + l.host + ":" + std::to_string(l.port) + ": " + ec.message();
      if (l.port == 0) l.port = acc.local_endpoint().port();  // the other shards join the same port
      shard->acceptors.push_back({std::move(acc), l.serves});
    }

    auto ro = redis::ConnectionOptions::from(s.config);
    ro.scripts = s.scripts;
    ro.metrics = &shard->metrics;
    ro.log = [i](log::Level level, std::string_view msg) {
      log::event(level, "shard " + std::to_string(i) + ": " + std::string(msg));
    };
    shard->redis = std::make_unique<redis::Connection>(shard->ioc.get_executor(), std::move(ro));
    s.all_metrics.push_back(&shard->metrics);
    s.shards.push_back(std::move(shard));
  }
  {
    std::vector<unsigned long> own;
    for (auto& shard : s.shards)
      for (auto& a : shard->acceptors) {
        struct stat st {};
        if (::fstat(a.socket.native_handle(), &st) == 0) own.push_back(static_cast<unsigned long>(st.st_ino));
      }
    for (const auto& l : s.listeners)
      if (auto other = foreign_listener(l.address, l.port, own))
        return "listen: " + l.host + ":" + std::to_string(l.port) + " is already served by another process (" +
               other->address.to_string() + ":" + std::to_string(other->port) +
               ", another latchkey?); refusing to share the port with it";
  }
  for (auto& shard : s.shards) {
    Shard* sh = shard.get();
    sh->redis->start();
    if (sh->index == 0) sh->events.start_trimming();
    for (auto& a : sh->acceptors)
      asio::co_spawn(
          sh->ioc, [sh, &a]() { return sh->accept_loop(a); },
          log::LogFailure{"accept loop of shard " + std::to_string(sh->index)});
    sh->thread = std::thread([sh] { sh->ioc.run(); });
  }
  s.started = true;
  return std::nullopt;
}

std::optional<std::string> Server::reload(std::string* summary) {
  Impl& s = *impl_;
  std::lock_guard lock(s.reload_mu);
  const Config& c = s.config;
  // Everything is loaded and checked first; nothing changes unless all of it is usable.
  std::string warnings;
  auto loaded = load_secrets(c.secrets_dir, c.secrets_allow_insecure_mode, &warnings);
  if (auto* err = std::get_if<std::string>(&loaded)) return "key rings: " + *err;
  if (auto bad = check_signing_algorithms(std::get<Secrets>(loaded), c.token_algorithms)) return "key rings: " + *bad;
  std::shared_ptr<asio::ssl::context> https = s.tls;
  if (s.tls) {
    std::string why;
    https = make_https_context(c, why);
    if (!https) return "HTTPS: " + why;
  }
  if (c.redis.node.tls)
    if (std::string why = redis::check_tls_settings(c.redis_tls); !why.empty()) return "Redis TLS: " + why;

  auto next = std::make_shared<const Generation>(c, std::get<Secrets>(std::move(loaded)));
  if (summary) {
    std::string kids;
    for (const auto& k : next->secrets.signing.keys()) kids += (kids.empty() ? "" : ",") + k.key.kid();
    *summary = "signing keys [" + kids + "], " + std::to_string(next->secrets.encryption.keys().size()) +
               " encryption keys" + (s.tls ? ", HTTPS certificate" : "") +
               (c.redis.node.tls ? ", Redis TLS files (used from the next connection)" : "");
  }
  // Keys that appeared or left, as security events (written by the first shard's recorder).
  std::vector<events::Event> key_events;
  auto diff = [&](const std::vector<std::string>& before, const std::vector<std::string>& after, const char* kind) {
    for (const auto& k : after)
      if (std::find(before.begin(), before.end(), k) == before.end())
        key_events.push_back(
            events::Event(events::Type::key_added, {}, "reloaded").with("key_kind", kind).with("kid", k));
    for (const auto& k : before)
      if (std::find(after.begin(), after.end(), k) == after.end())
        key_events.push_back(
            events::Event(events::Type::key_retired, {}, "reloaded").with("key_kind", kind).with("kid", k));
  };
  auto signing_kids = [](const Secrets& x) {
    std::vector<std::string> v;
    for (const auto& k : x.signing.keys()) v.push_back(k.key.kid());
    return v;
  };
  auto encryption_kids = [](const Secrets& x) {
    std::vector<std::string> v;
    for (const auto& k : x.encryption.keys()) v.push_back(k.kid);
    return v;
  };
  diff(signing_kids(s.generation->secrets), signing_kids(next->secrets), "signing");
  diff(encryption_kids(s.generation->secrets), encryption_kids(next->secrets), "encryption");
  s.generation = next;
  s.tls = https;
  if (!key_events.empty() && !s.shards.empty()) {
    Shard* first = s.shards.front().get();
    asio::post(first->ioc, [first, evs = std::move(key_events)]() mutable {
      for (auto& e : evs) first->events.emit(std::move(e));
    });
  }
  for (auto& shard : s.shards) {
    Shard* sh = shard.get();
    asio::post(sh->ioc, [sh, next, https] {
      sh->generation = next;
      sh->tls = https;
      sh->redis->reload_tls();
    });
  }
  return std::nullopt;
}

std::uint16_t Server::port(unsigned listener) const noexcept {
  for (const auto& l : impl_->listeners)
    if (l.serves & listener) return l.port;
  return 0;
}

std::string Server::describe_listeners() const {
  std::string out;
  for (const auto& l : impl_->listeners) {
    if (!out.empty()) out += ", ";
    bool v6 = l.address.is_v6();
    out += std::string(impl_->tls ? "https://" : "http://") + std::string(v6 ? "[" : "") + l.host + (v6 ? "]" : "") +
           ":" + std::to_string(l.port) + " (" + listeners_name(l.serves) + ")";
  }
  return out;
}

void Server::request_stop() {
  if (!impl_ || impl_->stop_requested.exchange(true)) return;
  for (auto& shard : impl_->shards) {
    Shard* sh = shard.get();
    asio::post(sh->ioc, [sh] { sh->begin_shutdown(); });
  }
}

void Server::wait() {
  for (auto& shard : impl_->shards)
    if (shard->thread.joinable()) shard->thread.join();
}

bool Server::redis_ready() const {
  for (const auto& shard : impl_->shards)
    if (!shard->redis->ready()) return false;
  return !impl_->shards.empty();
}

}  // namespace latchkey::server
