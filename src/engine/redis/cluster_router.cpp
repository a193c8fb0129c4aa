// The Redis Cluster router (see cluster_router.hpp).
#include "engine/redis/cluster_router.hpp"

#include "engine/redis/cluster_map.hpp"
#include "engine/redis/link.hpp"
#include "engine/redis/topology.hpp"
#include "engine/redis/transport.hpp"
#include "latchkey/metrics.hpp"
#include "latchkey/redis/slot.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <map>

namespace latchkey::redis {

namespace asio = boost::asio;
using asio::awaitable;

namespace {
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);
using clock = std::chrono::steady_clock;
// However often something asks for it, the map is fetched at most this often.
constexpr std::chrono::milliseconds kMinRefreshGap{100};
}  // namespace

struct ClusterRouter::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::any_io_executor e, ConnectionOptions o) : ex(e), opts(std::move(o)), refresh_timer(e), outcome_signal(e) {
    if (opts.target.node.tls) tls = TlsContext::make(opts.tls, tls_error);
    outcome_signal.expires_at(asio::steady_timer::time_point::max());
  }

  asio::any_io_executor ex;
  ConnectionOptions opts;
  std::string tls_error;
  std::shared_ptr<const TlsContext> tls;  // for the CLUSTER SLOTS requests
  std::optional<SlotMap> map;
  std::map<std::string, std::unique_ptr<Link>> links;  // by host:port
  asio::steady_timer refresh_timer;                    // the refresher sleeps on it
  asio::steady_timer outcome_signal;                   // ready_or_failed() waiters
  bool refresh_wanted = false;
  bool stopping = false;
  ConnState last_state = ConnState::connecting;
  std::uint64_t refreshes = 0, refresh_failures = 0, map_changes = 0;
  std::string last_error = "no slot map yet";

  void log(log::Level level, std::string_view msg) const {
    if (opts.log) opts.log(level, msg);
  }

  void count(Metrics::ClusterEvent e) const {
    if (opts.metrics) opts.metrics->count_cluster(e);
  }
  void count(Metrics::ClusterEvent e, const HostPort& node) const {
    if (!opts.metrics) return;
    opts.metrics->count_cluster(e);
    opts.metrics->count_node(e, node.describe());
  }
  void count_node(Metrics::ClusterEvent e, const HostPort& node) const {
    if (opts.metrics) opts.metrics->count_node(e, node.describe());
  }

  // Asks the refresher for a new map soon (coalesced: many asks, one fetch).
  void want_refresh() {
    if (stopping || refresh_wanted) return;
    refresh_wanted = true;
    refresh_timer.cancel();
  }

  Link& link_for(const HostPort& node) {
    auto name = node.describe();
    auto it = links.find(name);
    if (it != links.end()) return *it->second;
    ConnectionOptions o = opts;
    o.target = Target{};
    o.target.node = opts.target.node;
    o.target.node.host = node.host;
    o.target.node.port = node.port;
    o.target.node.db = 0;
    o.cluster_node = true;
    o.durable_link = false;
    o.reports_health = false;
    o.on_state = [weak = weak_from_this()](ConnState) {
      if (auto self = weak.lock()) self->on_link_state();
    };
    if (opts.log)
      o.log = [log = opts.log, name](log::Level level, std::string_view msg) {
        log(level, "node " + name + ": " + std::string(msg));
      };
    auto link = std::make_unique<Link>(ex, std::move(o));
    link->start();
    return *links.emplace(name, std::move(link)).first->second;
  }

  ConnState state() const noexcept {
    if (stopping) return ConnState::stopped;
    if (!map || !map->complete()) return ConnState::connecting;
    for (const auto& m : map->masters()) {
      auto it = links.find(m.describe());
      if (it == links.end() || !it->second->ready()) return ConnState::connecting;
    }
    return ConnState::ready;
  }

  void report_health() {
    if (!opts.metrics || !opts.reports_health) return;
    opts.metrics->set_redis_up(state() == ConnState::ready);
  }

  // One CLUSTER SLOTS from the first node that answers: the known masters first, then the seeds.
  awaitable<bool> refresh_once() {
    std::vector<HostPort> ask;
    if (map)
      for (const auto& m : map->masters()) ask.push_back(m);
    for (const auto& s : opts.target.seeds)
      if (std::find(ask.begin(), ask.end(), s) == ask.end()) ask.push_back(s);
    std::string why = "no node to ask";
    std::optional<SlotMap> partial;
    for (const auto& node : ask) {
      Request req;
      const auto& ep = opts.target.node;
      if (!ep.password.empty()) {
        if (ep.user.empty())
          req.push({"AUTH", ep.password});
        else
          req.push({"AUTH", ep.user, ep.password});
      }
      req.push({"CLUSTER", "SLOTS"});
      HostPort where = node;
      std::string failed;
      count_node(Metrics::ClusterEvent::refresh, node);
      auto replies = co_await request_once(ex, tls, where, std::move(req), opts.connect_timeout, failed);
      if (stopping) co_return false;
      if (!replies || replies->empty()) {
        why = node.describe() + ": " + failed;
        count_node(Metrics::ClusterEvent::refresh_failure, node);
        continue;
      }
      if (replies->front().is_error() && replies->size() > 1) {
        why = node.describe() + ": AUTH refused (" + replies->front().str.substr(0, 80) + ")";
        count_node(Metrics::ClusterEvent::refresh_failure, node);
        continue;
      }
      std::string bad;
      auto fresh = SlotMap::from_cluster_slots(replies->back(), node, bad);
      if (!fresh) {
        why = node.describe() + ": " + bad;
        count_node(Metrics::ClusterEvent::refresh_failure, node);
        continue;
      }
      if (fresh->complete()) {
        adopt(std::move(*fresh));
        co_return true;
      }
      // A partial map: a failover under way (then every node says so), or a node that left
      // the cluster (del-node resets it: it serves nothing) or has not caught up. Ask the
      // others; keep the fullest in case none does better.
      if (fresh->served() == 0) {
        why = node.describe() + ": serves no slot (not, or no longer, in the cluster)";
        count_node(Metrics::ClusterEvent::refresh_failure, node);
        continue;
      }
      if (!partial || fresh->served() > partial->served()) partial = std::move(fresh);
    }
    if (partial) {
      adopt(std::move(*partial));
      co_return true;
    }
    last_error = "no cluster node gave the slot map: " + why;
    co_return false;
  }

  // Puts a new map in force: links for new masters, none kept for nodes that serve nothing.
  void adopt(SlotMap fresh) {
    bool changed = !map;
    if (map)
      for (std::uint16_t s = 0; s < kSlotCount && !changed; ++s) {
        const HostPort* a = map->master_of(s);
        const HostPort* b = fresh.master_of(s);
        changed = (a == nullptr) != (b == nullptr) || (a && !(*a == *b));
      }
    if (changed && map) {
      ++map_changes;
      if (opts.metrics && opts.reports_health) opts.metrics->count_master_change();
      log(log::Level::info, "cluster slot map changed: " + std::to_string(fresh.served()) + " slots served by " +
                                std::to_string(fresh.masters().size()) + " masters");
    }
    map = std::move(fresh);
    const auto masters = map->masters();
    for (const auto& m : masters) link_for(m);
    for (auto it = links.begin(); it != links.end();) {
      bool master = false;
      for (const auto& m : masters) master = master || m.describe() == it->first;
      if (master) {
        ++it;
        continue;
      }
      it->second->stop();  // its calls in flight fail with unavailable; nothing is resent
      it = links.erase(it);
    }
    if (!map->complete()) last_error = std::to_string(kSlotCount - map->served()) + " slots have no master";
    if (opts.metrics && opts.reports_health) opts.metrics->set_redis_endpoint(describe());
    on_link_state();
  }

  std::string describe() const {
    if (!map) return opts.target.describe();
    const auto masters = map->masters();
    std::string out = "cluster: " + std::to_string(masters.size()) + " masters (";
    for (std::size_t i = 0; i < masters.size(); ++i) out += (i ? ", " : "") + masters[i].describe();
    return out + ")";
  }

  // The refresher: a fetch at start, then whenever asked (at most every kMinRefreshGap) or
  // every cluster_refresh_interval.
  awaitable<void> refresher() {
    auto self = shared_from_this();
    while (!stopping) {
      if (!tls_error.empty()) {
        last_error = tls_error;
      } else {
        ++refreshes;
        refresh_wanted = false;
        count(Metrics::ClusterEvent::refresh);
        if (!co_await refresh_once()) {
          ++refresh_failures;
          count(Metrics::ClusterEvent::refresh_failure);
        }
      }
      report_health();
      signal_outcome();
      if (stopping) break;
      asio::steady_timer gap(ex, kMinRefreshGap);
      co_await gap.async_wait(tuple_awaitable);
      if (refresh_wanted || !map || !map->complete()) continue;
      refresh_timer.expires_after(opts.cluster_refresh_interval);
      co_await refresh_timer.async_wait(tuple_awaitable);
    }
  }

  // Called by every node link when its state changes (on this thread): the router's health
  // follows at once, and a lost link asks for a new map (a failover may be under way).
  void on_link_state() {
    ConnState now = state();
    if (now == last_state) return;
    report_health();
    signal_outcome();
    if (now == ConnState::ready) {
      last_error.clear();
      log(log::Level::info, "redis cluster ready: " + describe());
    } else if (last_state == ConnState::ready && now != ConnState::stopped) {
      for (const auto& [name, link] : links)
        if (!link->ready()) {
          std::string why = link->last_error();
          last_error = "node " + name + ": " + (why.empty() ? "its link is down" : why);
        }
      log(log::Level::warn, "redis cluster not ready: " + last_error);
      want_refresh();
    }
    last_state = now;
  }

  void signal_outcome() {
    outcome_signal.cancel();
    outcome_signal.expires_at(asio::steady_timer::time_point::max());
  }

  awaitable<void> pause(std::chrono::milliseconds d) {
    asio::steady_timer t(ex, d);
    co_await t.async_wait(tuple_awaitable);
  }

  // One request of one slot, through redirects and retries.
  awaitable<result<Replies>> route(Request req, std::uint16_t slot, std::string_view op) {
    auto self = shared_from_this();
    const auto deadline = clock::now() + opts.cluster_retry_budget;
    unsigned redirects = 0;
    std::chrono::milliseconds backoff{5};
    std::optional<HostPort> ask_target;
    for (;;) {
      if (stopping) co_return make_error_code(errc::unavailable);
      const HostPort* owner = ask_target ? &*ask_target : (map ? map->master_of(slot) : nullptr);
      Link* link = owner ? &link_for(*owner) : nullptr;
      if (!link || !link->ready()) {
        // No master known for the slot, or its link is down (a failover under way, a new node
        // still connecting): ask for the map and wait within the budget.
        want_refresh();
        if (clock::now() + backoff > deadline) co_return make_error_code(errc::unavailable);
        count(Metrics::ClusterEvent::retry);
        co_await pause(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(100));
        ask_target.reset();
        continue;
      }
      const HostPort asked = *owner;  // the map may change while the call is out
      const bool asking = ask_target.has_value();
      Request attempt = asking ? Request::from_payload(with_asking(req.payload()), req.size() * 2) : req;
      auto r = co_await link->call(std::move(attempt), op, true);
      if (!r) co_return r.error();  // no answer: the outcome is unknown, never resent
      Replies replies = std::move(*r);
      if (asking) {
        Replies kept;
        for (std::size_t i = 0; i + 1 < replies.size(); i += 2) kept.push_back(std::move(replies[i + 1]));
        replies = std::move(kept);
      }
      ask_target.reset();
      ClusterStep step = decide(replies, &asked, req.keyless_mask());
      switch (step.kind) {
        case ClusterStep::Kind::done: co_return replies;
        case ClusterStep::Kind::unavailable:
          log(log::Level::warn, "a request was partly redirected; answered unavailable rather than run twice");
          co_return make_error_code(errc::unavailable);
        case ClusterStep::Kind::follow:
          if (++redirects > opts.cluster_max_redirects) {
            log(log::Level::warn, "more than " + std::to_string(opts.cluster_max_redirects) + " redirects for slot " +
                                      std::to_string(slot) + "; answered unavailable");
            want_refresh();
            co_return make_error_code(errc::unavailable);
          }
          if (step.redirect->kind == Redirect::Kind::moved) {
            count(Metrics::ClusterEvent::moved, asked);
            if (map) map->assign(step.redirect->slot, step.redirect->to);
            want_refresh();
          } else {
            count(Metrics::ClusterEvent::ask, asked);
            ask_target = step.redirect->to;
          }
          continue;
        case ClusterStep::Kind::refresh: want_refresh(); [[fallthrough]];
        case ClusterStep::Kind::retry_later:
          // The cap is for redirects that chase each other with nothing in between (a loop);
          // an ASK answered TRYAGAIN (a slot mid-migration) waits and starts over, bounded
          // by the budget instead.
          redirects = 0;
          if (clock::now() + backoff > deadline) co_return make_error_code(errc::unavailable);
          count(Metrics::ClusterEvent::retry, asked);
          co_await pause(backoff);
          backoff = std::min(backoff * 2, std::chrono::milliseconds(100));
          continue;
      }
    }
  }

  // A pipeline whose commands name several slots: each run of one slot to its node, in order.
  awaitable<result<Replies>> route_split(Request req, std::string_view op) {
    auto self = shared_from_this();
    auto commands = split_commands(req.payload());
    if (commands.size() != req.size()) co_return make_error_code(errc::internal);
    Replies out;
    std::size_t i = 0;
    while (i < commands.size()) {
      std::optional<std::uint16_t> slot = req.command_slot(i);
      std::size_t j = i + 1;
      for (; j < commands.size(); ++j) {
        auto s = req.command_slot(j);
        if (s && slot && *s != *slot) break;
        if (s) slot = s;
      }
      std::string payload;
      std::uint64_t keyless = 0;
      for (std::size_t k = i; k < j; ++k) {
        payload += commands[k];
        if (req.keyless(k) && k - i < 64) keyless |= std::uint64_t{1} << (k - i);
      }
      Request part = Request::from_payload(std::move(payload), j - i, keyless);
      auto r = co_await route(std::move(part), slot.value_or(0), op);
      if (!r) co_return r.error();
      for (auto& rep : *r) out.push_back(std::move(rep));
      i = j;
    }
    co_return out;
  }
};

ClusterRouter::ClusterRouter(asio::any_io_executor ex, ConnectionOptions opts)
    : impl_(std::make_shared<Impl>(ex, std::move(opts))) {}

ClusterRouter::~ClusterRouter() { stop(); }

void ClusterRouter::start() {
  asio::co_spawn(
      impl_->ex, [impl = impl_]() { return impl->refresher(); }, log::LogFailure{"redis cluster refresher"});
}

void ClusterRouter::stop() {
  if (!impl_ || impl_->stopping) return;
  impl_->stopping = true;
  impl_->refresh_timer.cancel();
  impl_->signal_outcome();
  for (auto& [name, link] : impl_->links) link->stop();
}

awaitable<result<Replies>> ClusterRouter::call(Request req, std::string_view op) {
  auto impl = impl_;
  if (req.empty()) co_return make_error_code(errc::internal);
  // A command spanning slots never gets here (Connection refuses it on every topology).
  // Not ready as a whole may still serve this slot (another master down): route() decides.
  if (impl->stopping || !impl->map) co_return make_error_code(errc::unavailable);
  if (req.spans_slots()) co_return co_await impl->route_split(std::move(req), op);
  const std::uint16_t slot = req.slot().value_or(0);
  co_return co_await impl->route(std::move(req), slot, op);
}

bool ClusterRouter::reload_tls() {
  Impl& im = *impl_;
  if (!im.opts.target.node.tls) return true;
  auto fresh = reloaded_tls(im.opts);
  if (!fresh) return false;
  im.tls = fresh;
  im.tls_error.clear();
  for (auto& [name, link] : im.links) link->reload_tls();
  return true;
}

awaitable<result<void>> ClusterRouter::ready_or_failed() {
  auto impl = impl_;
  const std::uint64_t failures_before = impl->refresh_failures;
  std::uint64_t link_failures_before = 0;
  for (const auto& [name, link] : impl->links) link_failures_before += link->failed_attempts();
  for (;;) {
    auto st = impl->state();
    if (st == ConnState::ready) co_return result<void>{};
    if (st == ConnState::stopped || impl->refresh_failures > failures_before || !impl->tls_error.empty())
      co_return make_error_code(errc::unavailable);
    std::uint64_t link_failures = 0;
    for (const auto& [name, link] : impl->links) link_failures += link->failed_attempts();
    if (link_failures > link_failures_before) {
      for (const auto& [name, link] : impl->links)
        if (!link->ready()) impl->last_error = "node " + name + ": " + link->last_error();
      co_return make_error_code(errc::unavailable);
    }
    asio::steady_timer t(impl->ex, std::chrono::milliseconds(10));
    co_await t.async_wait(tuple_awaitable);
  }
}

void ClusterRouter::log(log::Level level, std::string_view msg) const { impl_->log(level, msg); }
const ConnectionOptions& ClusterRouter::options() const noexcept { return impl_->opts; }
ConnState ClusterRouter::state() const noexcept { return impl_->state(); }
std::string ClusterRouter::last_error() const {
  if (!impl_->tls_error.empty()) return impl_->tls_error;
  return impl_->state() == ConnState::ready ? std::string() : impl_->last_error;
}
bool ClusterRouter::refused_eviction_policy() const noexcept {
  for (const auto& [name, link] : impl_->links)
    if (link->refused_eviction_policy()) return true;
  return false;
}
bool ClusterRouter::refused_credentials() const noexcept {
  for (const auto& [name, link] : impl_->links)
    if (link->refused_credentials()) return true;
  return false;
}
bool ClusterRouter::refused_configuration() const noexcept {
  if (!impl_->tls_error.empty()) return true;
  for (const auto& [name, link] : impl_->links)
    if (link->refused_configuration()) return true;
  return false;
}
std::uint64_t ClusterRouter::connects() const noexcept {
  std::uint64_t n = 0;
  for (const auto& [name, link] : impl_->links) n += link->connects();
  return n;
}
std::string ClusterRouter::current_endpoint() const { return impl_->describe(); }
std::uint64_t ClusterRouter::master_changes() const noexcept { return impl_->map_changes; }

}  // namespace latchkey::redis
