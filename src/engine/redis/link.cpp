// Link: one socket to one Redis node and everything that keeps it usable: the transport (TCP
// or TLS), the reader, writer and watchdog coroutines, the handshake, deadlines, and the
// reconnect loop that asks the topology (the URL's node, or the master the sentinels name)
// where to go. The pure matching logic lives in Multiplexer.
#include "engine/redis/link.hpp"

#include "engine/redis/errors.hpp"
#include "engine/redis/handshake.hpp"
#include "engine/redis/topology.hpp"
#include "engine/redis/transport.hpp"
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/log.hpp"
#include "latchkey/metrics.hpp"
#include "latchkey/redis/resp_reader.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <random>

namespace latchkey::redis {

namespace asio = boost::asio;
using asio::awaitable;
using namespace asio::experimental::awaitable_operators;
namespace {
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);
using clock = std::chrono::steady_clock;
}  // namespace

struct Link::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::any_io_executor e, ConnectionOptions o)
      : ex(e),
        opts(std::move(o)),
        tls(make_tls(opts, tls_error)),
        link(e, tls),
        topology(opts.target, SentinelAccess{opts.sentinel_user, opts.sentinel_password,
                                             opts.sentinel_tls ? tls : nullptr, opts.sentinel_timeout}),
        write_kick(e),
        hold(e),
        backoff(e),
        outcome_signal(e) {
    outcome_signal.expires_at(asio::steady_timer::time_point::max());
    std::array<std::uint8_t, 8> seed{};
    crypto::random_bytes(seed);
    std::uint64_t s = 0;
    for (auto b : seed) s = (s << 8) | b;
    rng.seed(s);  // jitter only; not security-relevant
  }

  static std::shared_ptr<const TlsContext> make_tls(const ConnectionOptions& o, std::string& error) {
    if (!o.target.node.tls) return nullptr;
    return TlsContext::make(o.tls, error);
  }

  asio::any_io_executor ex;
  ConnectionOptions opts;
  std::string tls_error;  // set when the TLS settings cannot be used (then nothing connects)
  std::shared_ptr<const TlsContext> tls;
  Transport link;
  Topology topology;
  asio::steady_timer write_kick;  // the writer sleeps on it; cancel() wakes it
  asio::steady_timer hold;        // the handshake coroutine parks on it while ready
  asio::steady_timer backoff;
  // ready_or_failed() waiters park on it; signal_outcome() wakes them when the connection
  // becomes ready or an attempt fails.
  asio::steady_timer outcome_signal;
  std::uint64_t failed_attempts = 0;

  void signal_outcome() {
    outcome_signal.cancel();
    outcome_signal.expires_at(asio::steady_timer::time_point::max());
  }
  Multiplexer mux;
  RespReader reader;
  std::array<char, 16 * 1024> read_buf{};
  bool replied = false;  // the current link has answered at least once (io_failure)
  std::atomic<ConnState> st{ConnState::connecting};
  bool stopping = false;
  bool eviction_refused = false;
  bool credentials_refused = false;  // AUTH refused, or a password needed and none given
  bool configuration_refused = false;
  bool was_ready = false;
  std::string last_error = "not connected yet";
  std::uint64_t connects = 0;
  std::uint64_t master_changes = 0;
  std::mt19937_64 rng;
  Endpoint current;
  std::optional<HostPort> last_master;
  // A cluster node link's node, as the per-node metrics name it (host:port).
  const std::string node_label = HostPort{opts.target.node.host, opts.target.node.port}.describe();

  void log(log::Level level, std::string_view msg) {
    if (opts.log) opts.log(level, msg);
  }

  // Ends the current connection: pending calls fail now with `fail` (their replies can no
  // longer arrive); the supervisor notices through the reader and reconnects.
  void teardown(std::string why, boost::system::error_code fail = make_error_code(errc::unavailable)) {
    if (st == ConnState::ready) log(log::Level::warn, "redis connection lost: " + why);
    if (st != ConnState::stopped) set_state(ConnState::connecting);
    last_error = std::move(why);
    link.close();
    write_kick.cancel();
    hold.cancel();
    mux.fail_all(fail);
  }

  // Every change of state goes through here, so the shard's redis_up gauge follows the
  // connection's health. Stopping (shutdown) is not a failure: the gauge keeps its value, so
  // the shards still draining requests do not report their neighbours down.
  void set_state(ConnState next) {
    const bool changed = st != next;
    st = next;
    if (changed && opts.on_state) opts.on_state(next);
    if (opts.metrics && opts.reports_health && next != ConnState::stopped)
      opts.metrics->set_redis_up(next == ConnState::ready);
  }

  void record(std::string_view op, bool error, clock::time_point start) {
    if (!opts.metrics) return;
    const double seconds = std::chrono::duration<double>(clock::now() - start).count();
    opts.metrics->observe_redis(op, error, seconds,
                                opts.cluster_node ? std::string_view(node_label) : std::string_view());
  }

  // Queues the request and suspends until its replies (or a failure) arrive. The handler is
  // resumed through the executor (post), never inline inside the reader's loop. Deadlines
  // are enforced by the watchdog, which fails everything when the oldest call is overdue.
  template <class Token>
  auto async_roundtrip(Request req, Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code, Replies)>(
        [this](auto handler, Request r) {
          using H = decltype(handler);
          auto h = std::make_shared<H>(std::move(handler));
          mux.add(
              std::move(r),
              [h](boost::system::error_code ec, Replies replies) {
                auto target = asio::get_associated_executor(*h);
                asio::post(target, [h, ec, replies = std::move(replies)]() mutable { (*h)(ec, std::move(replies)); });
              },
              now_ms());
          write_kick.cancel();
        },
        token, std::move(req));
  }

  static std::uint64_t now_ms() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(clock::now().time_since_epoch()).count());
  }

  awaitable<result<Replies>> call(Request req, std::string_view op, bool internal, bool raw = false) {
    auto self = shared_from_this();
    auto start = clock::now();
    if (req.empty()) co_return make_error_code(errc::internal);
    if (stopping || !link.is_open() || (!internal && st != ConnState::ready)) {
      record(op, true, start);
      co_return make_error_code(errc::unavailable);
    }
    auto [ec, replies] = co_await async_roundtrip(std::move(req), tuple_awaitable);
    bool any_error = static_cast<bool>(ec);
    for (const auto& r : replies) any_error = any_error || r.is_error();
    record(op, any_error, start);
    if (ec) co_return ec;
    if (!internal && !raw) {
      // Replies saying the command did not run on this node (errors.hpp): the caller gets
      // unavailable, and a demoted master is left so the next connection asks again.
      switch (classify(replies)) {
        case ReplyClass::wrong_node:
          for (const auto& r : replies)
            if (classify(r) == ReplyClass::wrong_node) {
              teardown("the node stopped being the master (" + r.str.substr(0, 80) + ")");
              break;
            }
          co_return make_error_code(errc::unavailable);
        case ReplyClass::not_run: co_return make_error_code(errc::unavailable);
        case ReplyClass::value:
        case ReplyClass::missing_script: break;
      }
    }
    co_return std::move(replies);
  }

  // Fails every pending call once the oldest has waited longer than call_timeout, and tears the
  // connection down: replies queued behind a frozen server would all be late as well.
  awaitable<void> watchdog() {
    asio::steady_timer tick(ex);
    auto period = std::max<std::chrono::milliseconds>(std::chrono::milliseconds(5), opts.call_timeout / 10);
    for (;;) {
      tick.expires_after(period);
      auto [ec] = co_await tick.async_wait(tuple_awaitable);
      if (ec) co_return;
      auto oldest = mux.oldest_stamp();
      if (oldest && now_ms() - *oldest > static_cast<std::uint64_t>(opts.call_timeout.count())) {
        teardown("a call timed out after " + std::to_string(opts.call_timeout.count()) + " ms",
                 make_error_code(errc::timeout));
        co_return;
      }
    }
  }

  // Why a read or a write failed, with the likely cause when nothing was read yet: a TLS 1.3
  // server refuses a missing client certificate after the handshake, so the refusal reaches
  // the client as a failed first read or write (alert, close or reset, whichever wins).
  std::string io_failure(std::string_view op, boost::system::error_code ec) const {
    std::string what =
        ec == asio::error::eof ? "connection closed by the server" : std::string(op) + " failed: " + ec.message();
    if (replied) return what;
    if (link.tls())
      return what +
             " before any reply (a TLS server that wants a client certificate closes so: "
             "redis_tls_cert_file and redis_tls_key_file)";
    return what + " before any reply (is it a TLS port? then use rediss://)";
  }

  awaitable<void> read_loop() {
    replied = false;
    for (;;) {
      auto [ec, n] = co_await link.read_some(asio::buffer(read_buf));
      if (ec) {
        if (ec != asio::error::operation_aborted) teardown(io_failure("read", ec));
        co_return;
      }
      reader.feed({read_buf.data(), n});
      for (;;) {
        auto r = reader.next();
        if (!r) {
          teardown(!replied && !link.tls() ? "malformed RESP from the server (is it a TLS port? then use rediss://)"
                                           : "malformed RESP from the server");
          co_return;
        }
        if (!*r) break;
        replied = true;
        if (!mux.on_reply(std::move(**r))) {
          teardown("a reply arrived that no request was waiting for");
          co_return;
        }
      }
    }
  }

  awaitable<void> write_loop() {
    for (;;) {
      if (!link.is_open()) co_return;
      if (mux.has_unwritten()) {
        std::string buf = mux.take_writes();
        auto [ec, n] = co_await link.write(asio::buffer(buf));
        if (ec) {
          if (ec != asio::error::operation_aborted) teardown(io_failure("write", ec));
          co_return;
        }
        continue;
      }
      write_kick.expires_at(asio::steady_timer::time_point::max());
      co_await write_kick.async_wait(tuple_awaitable);
      auto cs = co_await asio::this_coro::cancellation_state;
      if (cs.cancelled() != asio::cancellation_type::none) co_return;
    }
  }

  // Runs the handshake (one pipelined request: handshake.hpp), then parks until the
  // connection ends.
  awaitable<void> handshake_and_hold() {
    HandshakePlan plan;
    plan.node = &current;
    plan.scripts = opts.scripts.get();
    plan.expect_master = topology.sentinel() || opts.cluster_node;
    plan.allow_eviction = opts.allow_eviction;
    auto r = co_await call(handshake_request(plan), "handshake", true);
    if (!r) {
      // The reader or the watchdog already tore the link down and said why; keep that reason.
      if (link.is_open()) teardown("the handshake failed: " + r.error().message());
      co_return;
    }
    HandshakeVerdict v = check_handshake(plan, *r);
    using O = HandshakeVerdict::Outcome;
    credentials_refused = v.outcome == O::credentials;
    eviction_refused = v.outcome == O::eviction;
    for (const auto& w : v.warnings) log(log::Level::warn, w);
    if (v.outcome != O::ready) {
      teardown(current.describe() + ": " + v.message);
      co_return;
    }
    if (!v.eviction_policy.empty() && v.eviction_policy != "noeviction") {
      // Allowed by redis_allow_eviction. Once per process, not once per shard and reconnect.
      static std::atomic<bool> warned{false};
      if (!warned.exchange(true))
        log(log::Level::warn, "Redis maxmemory-policy is '" + v.eviction_policy +
                                  "': an evicting policy can drop revocations, lockouts and sessions under memory "
                                  "pressure; running anyway (allowed by redis_allow_eviction)");
    }
    set_state(ConnState::ready);
    if (opts.metrics && opts.reports_health) opts.metrics->set_redis_endpoint(current.describe());
    signal_outcome();
    was_ready = true;
    last_error.clear();
    log(log::Level::info, "redis connection ready: " + current.describe() + (link.tls() ? " (TLS)" : ""));
    hold.expires_at(asio::steady_timer::time_point::max());
    co_await hold.async_wait(tuple_awaitable);
  }

  // Sentinel: while ready, asks the sentinels every sentinel_check_interval which node is the
  // master, and leaves this one when they name another. The ROLE check of the handshake cannot
  // catch a master that was frozen during a failover and resumes believing it is still the
  // master (it answers ROLE master to a handshake that reached it just before); the
  // sentinels' view can. Unreachable sentinels change nothing: the link keeps serving.
  awaitable<void> sentinel_watch() {
    asio::steady_timer tick(ex);
    for (;;) {
      tick.expires_after(opts.sentinel_check_interval);
      auto [ec] = co_await tick.async_wait(tuple_awaitable);
      if (ec || !link.is_open()) co_return;
      if (st != ConnState::ready) continue;
      std::string why;
      auto node = co_await topology.locate(ex, why);
      if (!node || !link.is_open()) continue;
      if (node->host != current.host || node->port != current.port) {
        HostPort named{node->host, node->port};
        teardown("the sentinels name another master (" + named.describe() + "); leaving " + current.describe());
        co_return;
      }
    }
  }

  // Finds the node (Sentinel: asks the sentinels) and connects to it within connect_timeout.
  awaitable<bool> locate_and_connect() {
    std::string why;
    auto node = co_await topology.locate(ex, why);
    if (!node) {
      configuration_refused = topology.failure() == SentinelResolver::Failure::unknown_master;
      last_error = why;
      co_return false;
    }
    configuration_refused = false;
    if (topology.sentinel()) {
      HostPort master{node->host, node->port};
      if (last_master && *last_master != master) {
        ++master_changes;
        if (opts.metrics && opts.reports_health) opts.metrics->count_master_change();
        log(log::Level::warn,
            "the sentinels name a new master: " + master.describe() + " (was " + last_master->describe() + ")");
      }
      last_master = master;
    }
    current = *node;
    asio::steady_timer deadline(ex);
    deadline.expires_after(opts.connect_timeout);
    auto expire = [&]() -> awaitable<void> {
      auto [ec] = co_await deadline.async_wait(tuple_awaitable);
      if (!ec) link.close();
    };
    HostPort where{current.host, current.port};  // named: g++ 12 mishandles braced temporaries in co_await
    auto outcome = co_await (link.connect(std::move(where), why) || expire());
    if (outcome.index() == 1) {
      last_error = "connect to " + current.describe() + (link.tls() ? " (with the TLS handshake)" : "") +
                   " timed out after " + std::to_string(opts.connect_timeout.count()) + " ms" +
                   (link.tls() ? " (is it a plaintext port?)" : "");
      co_return false;
    }
    if (!std::get<0>(outcome)) {
      last_error = why;
      co_return false;
    }
    co_return true;
  }

  awaitable<void> supervise() {
    auto self = shared_from_this();
    auto delay = opts.reconnect_min;
    std::string last_logged;
    while (!stopping) {
      bool connected = false;
      if (!tls_error.empty()) {
        last_error = tls_error;
        configuration_refused = true;
      } else {
        connected = co_await locate_and_connect();
      }
      if (connected && !stopping) {
        reader.reset();
        ++connects;
        was_ready = false;
        if (topology.sentinel())
          co_await (read_loop() || write_loop() || handshake_and_hold() || watchdog() || sentinel_watch());
        else
          co_await (read_loop() || write_loop() || handshake_and_hold() || watchdog());
      }
      if (st != ConnState::stopped) set_state(ConnState::connecting);
      link.close();
      mux.fail_all(make_error_code(errc::unavailable));
      ++failed_attempts;
      signal_outcome();
      if (stopping) break;
      if (opts.log_failures && last_error != last_logged) {
        log(eviction_refused || credentials_refused || configuration_refused ? log::Level::error : log::Level::warn,
            "redis unavailable: " + last_error);
        last_logged = last_error;
      }
      if (was_ready) delay = opts.reconnect_min;
      std::uniform_int_distribution<long> jitter(0, std::max<long>(1, static_cast<long>(delay.count() / 4)));
      backoff.expires_after(delay + std::chrono::milliseconds(jitter(rng)));
      co_await backoff.async_wait(tuple_awaitable);
      delay = std::min(delay * 2, opts.reconnect_max);
    }
    set_state(ConnState::stopped);
  }
};

Link::Link(asio::any_io_executor ex, ConnectionOptions opts) : impl_(std::make_shared<Impl>(ex, std::move(opts))) {}

Link::~Link() { stop(); }

std::shared_ptr<const TlsContext> reloaded_tls(const ConnectionOptions& o) {
  std::string why;
  auto fresh = TlsContext::make(o.tls, why);
  if (!fresh && o.log) o.log(log::Level::error, "TLS files not reloaded (" + why + "); the previous ones stay in use");
  return fresh;
}

bool Link::reload_tls() {
  Impl& im = *impl_;
  if (!im.opts.target.node.tls) return true;
  auto fresh = reloaded_tls(im.opts);
  if (!fresh) return false;
  im.tls = fresh;
  im.tls_error.clear();
  im.link.set_tls(fresh);
  if (im.opts.sentinel_tls) im.topology.set_sentinel_tls(fresh);
  return true;
}

void Link::start() {
  asio::co_spawn(
      impl_->ex, [impl = impl_]() { return impl->supervise(); }, log::LogFailure{"redis connection supervisor"});
}

void Link::stop() {
  if (!impl_ || impl_->stopping) return;
  impl_->stopping = true;
  impl_->set_state(ConnState::stopped);
  impl_->backoff.cancel();
  impl_->teardown("stopped");
  impl_->mux.fail_all(make_error_code(errc::unavailable));
}

awaitable<result<Replies>> Link::call(Request req, std::string_view op, bool raw) {
  auto impl = impl_;
  co_return co_await impl->call(std::move(req), op, false, raw);
}

void Link::log(log::Level level, std::string_view msg) const { impl_->log(level, msg); }
const ConnectionOptions& Link::options() const noexcept { return impl_->opts; }
ConnState Link::state() const noexcept { return impl_->st; }
std::string Link::last_error() const { return impl_->last_error; }
bool Link::refused_eviction_policy() const noexcept { return impl_->eviction_refused; }
bool Link::refused_credentials() const noexcept { return impl_->credentials_refused; }
bool Link::refused_configuration() const noexcept {
  return impl_->credentials_refused || impl_->eviction_refused || impl_->configuration_refused;
}
std::string Link::current_endpoint() const {
  return impl_->current.host.empty() ? impl_->opts.target.describe() : impl_->current.describe();
}
std::uint64_t Link::master_changes() const noexcept { return impl_->master_changes; }
std::uint64_t Link::connects() const noexcept { return impl_->connects; }
std::uint64_t Link::failed_attempts() const noexcept { return impl_->failed_attempts; }

awaitable<result<void>> Link::ready_or_failed() {
  auto impl = impl_;
  const std::uint64_t failures_before = impl->failed_attempts;
  for (;;) {
    if (impl->st == ConnState::ready) co_return result<void>{};
    if (impl->failed_attempts > failures_before || impl->st == ConnState::stopped)
      co_return make_error_code(errc::unavailable);
    co_await impl->outcome_signal.async_wait(tuple_awaitable);
  }
}

}  // namespace latchkey::redis
