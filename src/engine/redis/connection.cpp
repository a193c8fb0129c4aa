// Connection: the interface callers use, over one link (standalone, Sentinel: link.cpp) or a
// cluster router (one link per master: cluster_router.cpp); the script helpers (EVALSHA with
// a reload on NOSCRIPT) are written once above both.
#include "latchkey/redis/connection.hpp"

#include "engine/redis/cluster_router.hpp"
#include "engine/redis/link.hpp"
#include "engine/redis/transport.hpp"
#include "latchkey/config.hpp"
#include "latchkey/log.hpp"

#include <algorithm>
#include <charconv>

namespace latchkey::redis {

namespace asio = boost::asio;
using asio::awaitable;

// The link or the router; shared with the coroutines of the helpers below, so a call in
// flight outlives a Connection destroyed at shutdown.
struct Connection::Impl {
  std::unique_ptr<Link> link;
  std::unique_ptr<ClusterRouter> cluster;

  awaitable<result<Replies>> call(Request req, std::string_view op) {
    // One rule on every topology: a command naming keys of two slots is a bug (Redis Cluster
    // refuses it with CROSSSLOT), so a standalone or Sentinel deployment refuses it too, and
    // the whole test suite, run on standalone Redis, proves no call site sends one.
    if (req.command_spans_slots()) {
      log(log::Level::error,
          std::string("a command of ") + std::string(op) + " names keys of two slots (CROSSSLOT); not sent");
      co_return make_error_code(errc::internal);
    }
    if (cluster) co_return co_await cluster->call(std::move(req), op);
    co_return co_await link->call(std::move(req), op);
  }
  const ConnectionOptions& options() const noexcept { return cluster ? cluster->options() : link->options(); }
  // f(link) or f(router): the two answer the same questions.
  template <class F>
  auto either(F f) const {
    return cluster ? f(*cluster) : f(*link);
  }
  void log(log::Level level, std::string_view msg) const {
    if (cluster)
      cluster->log(level, msg);
    else
      link->log(level, msg);
  }
};

Connection::Connection(asio::any_io_executor ex, ConnectionOptions opts) : impl_(std::make_shared<Impl>()) {
  if (opts.durable_link) {
    ConnectionOptions d = opts;
    d.durable_link = false;
    d.reports_health = false;
    if (opts.log)
      d.log = [log = opts.log](log::Level level, std::string_view msg) {
        log(level, "durable link: " + std::string(msg));
      };
    durable_ = std::make_unique<Connection>(ex, std::move(d));
  }
  if (opts.target.cluster())
    impl_->cluster = std::make_unique<ClusterRouter>(ex, std::move(opts));
  else
    impl_->link = std::make_unique<Link>(ex, std::move(opts));
}

Connection::~Connection() { stop(); }

Connection& Connection::durable() noexcept { return durable_ ? *durable_ : *this; }

bool Connection::reload_tls() {
  if (durable_) durable_->reload_tls();
  return impl_->cluster ? impl_->cluster->reload_tls() : impl_->link->reload_tls();
}

void Connection::start() {
  if (durable_) durable_->start();
  if (impl_->cluster)
    impl_->cluster->start();
  else
    impl_->link->start();
}

void Connection::stop() {
  if (durable_) durable_->stop();
  if (!impl_) return;
  if (impl_->cluster)
    impl_->cluster->stop();
  else
    impl_->link->stop();
}

awaitable<result<Replies>> Connection::exec(Request req, std::string op) {
  auto impl = impl_;
  co_return co_await impl->call(std::move(req), op);
}

awaitable<result<void>> Connection::ready_or_failed() {
  auto impl = impl_;
  if (impl->cluster) co_return co_await impl->cluster->ready_or_failed();
  co_return co_await impl->link->ready_or_failed();
}

ConnState Connection::state() const noexcept {
  return impl_->either([](const auto& x) { return x.state(); });
}
std::string Connection::last_error() const {
  return impl_->either([](const auto& x) { return x.last_error(); });
}
bool Connection::refused_eviction_policy() const noexcept {
  return impl_->either([](const auto& x) { return x.refused_eviction_policy(); });
}
bool Connection::refused_credentials() const noexcept {
  return impl_->either([](const auto& x) { return x.refused_credentials(); });
}
bool Connection::refused_configuration() const noexcept {
  return impl_->either([](const auto& x) { return x.refused_configuration(); });
}
std::uint64_t Connection::connects() const noexcept {
  return impl_->either([](const auto& x) { return x.connects(); });
}
std::string Connection::current_endpoint() const {
  return impl_->either([](const auto& x) { return x.current_endpoint(); });
}
std::uint64_t Connection::master_changes() const noexcept {
  return impl_->either([](const auto& x) { return x.master_changes(); });
}

awaitable<result<Reply>> Connection::eval(std::string script, std::vector<std::string> keys,
                                          std::vector<std::string> args) {
  Request nothing;
  auto r = co_await eval_after(std::move(nothing), std::move(script), std::move(keys), std::move(args));
  if (!r) co_return r.error();
  co_return std::move(r->back());
}

namespace {
void add_evalsha(Request& r, const Script& s, const std::vector<std::string>& keys,
                 const std::vector<std::string>& args) {
  r.begin(3 + keys.size() + args.size()).arg("EVALSHA").arg(s.sha1);
  char buf[24];
  auto n = std::to_chars(buf, buf + sizeof buf, keys.size());
  r.arg(std::string_view(buf, static_cast<std::size_t>(n.ptr - buf)));
  for (const auto& k : keys) r.key(k);
  for (const auto& a : args) r.arg(a);
}
bool noscript(const Reply& r) { return r.is_error() && r.error_code() == "NOSCRIPT"; }
}  // namespace

awaitable<result<Replies>> Connection::evals(std::vector<ScriptCall> calls) {
  auto impl = impl_;
  std::vector<const Script*> found;
  found.reserve(calls.size());
  for (const auto& c : calls) {
    const Script* s = impl->options().scripts ? impl->options().scripts->find(c.script) : nullptr;
    if (!s) co_return make_error_code(errc::internal);
    found.push_back(s);
  }
  if (calls.empty()) co_return Replies{};
  Request req;
  for (std::size_t i = 0; i < calls.size(); ++i) add_evalsha(req, *found[i], calls[i].keys, calls[i].args);
  auto r = co_await impl->call(std::move(req), found[0]->op);
  if (!r) co_return r.error();
  if (r->size() != calls.size()) co_return make_error_code(errc::internal);
  std::vector<std::size_t> again;
  for (std::size_t i = 0; i < calls.size(); ++i)
    if (noscript((*r)[i])) again.push_back(i);
  if (again.empty()) co_return std::move(*r);

  impl->log(log::Level::info, "script cache lost (NOSCRIPT); reloading " + found[again[0]]->name);
  Request retry;
  std::vector<const Script*> loaded;
  for (auto i : again)
    if (std::find(loaded.begin(), loaded.end(), found[i]) == loaded.end()) {
      loaded.push_back(found[i]);
      retry.push({"SCRIPT", "LOAD", found[i]->source});
    }
  for (auto i : again) add_evalsha(retry, *found[i], calls[i].keys, calls[i].args);
  auto r2 = co_await impl->call(std::move(retry), found[again[0]]->op);
  if (!r2) co_return r2.error();
  if (r2->size() != loaded.size() + again.size()) co_return make_error_code(errc::internal);
  for (std::size_t j = 0; j < loaded.size(); ++j)
    if ((*r2)[j].is_error()) co_return make_error_code(errc::redis_error);
  for (std::size_t j = 0; j < again.size(); ++j) (*r)[again[j]] = std::move((*r2)[loaded.size() + j]);
  co_return std::move(*r);
}

awaitable<result<Replies>> Connection::eval_after(Request before, std::string script, std::vector<std::string> keys,
                                                  std::vector<std::string> args) {
  auto impl = impl_;
  const Script* s = impl->options().scripts ? impl->options().scripts->find(script) : nullptr;
  if (!s) co_return make_error_code(errc::internal);
  auto evalsha = [&](Request& r) { add_evalsha(r, *s, keys, args); };

  Request first = before;
  evalsha(first);
  auto r = co_await impl->call(std::move(first), s->op);
  if (!r) co_return r.error();
  if (!noscript(r->back())) co_return std::move(*r);

  impl->log(log::Level::info, "script cache lost (NOSCRIPT); reloading " + s->name);
  std::size_t n_before = r->size() - 1;
  Request retry = std::move(before);
  retry.push({"SCRIPT", "LOAD", s->source});
  evalsha(retry);
  auto r2 = co_await impl->call(std::move(retry), s->op);
  if (!r2) co_return r2.error();
  if ((*r2)[n_before].is_error()) co_return make_error_code(errc::redis_error);
  r2->erase(r2->begin() + static_cast<std::ptrdiff_t>(n_before));
  co_return std::move(*r2);
}

ConnectionOptions ConnectionOptions::from(const Config& c) {
  ConnectionOptions o;
  o.target = c.redis;
  o.tls = c.redis_tls;
  o.sentinel_tls = c.redis_sentinel_tls;
  o.sentinel_user = c.redis_sentinel_username;
  o.sentinel_password = c.redis_sentinel_password;
  o.sentinel_timeout = std::min(c.redis_connect_timeout, std::chrono::milliseconds(500));
  o.call_timeout = c.redis_timeout;
  o.connect_timeout = c.redis_connect_timeout;
  o.reconnect_min = c.redis_reconnect_min;
  o.reconnect_max = c.redis_reconnect_max;
  o.allow_eviction = c.redis_allow_eviction;
  o.durable_link = c.redis_wait_replicas > 0;
  o.cluster_retry_budget = c.redis_cluster_retry_budget;
  o.cluster_max_redirects = c.redis_cluster_max_redirects;
  o.cluster_refresh_interval = c.redis_cluster_refresh_interval;
  return o;
}

std::string check_tls_settings(const TlsSettings& tls) {
  std::string why;
  return TlsContext::make(tls, why) ? std::string() : why;
}

}  // namespace latchkey::redis
