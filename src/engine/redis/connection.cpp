// Connection: the Asio side of the Redis client (socket; reader, writer and watchdog coroutines;
// deadlines, reconnect). The pure matching logic lives in Multiplexer.
#include "latchkey/redis/connection.hpp"
#include "latchkey/log.hpp"

#include "latchkey/crypto/primitives.hpp"
#include "latchkey/metrics.hpp"
#include "latchkey/redis/resp_reader.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <charconv>
#include <atomic>
#include <array>
#include <random>

namespace latchkey::redis {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
namespace {
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);
using clock = std::chrono::steady_clock;

bool is_evicting(std::string_view policy) { return policy != "noeviction"; }
}  // namespace

struct Connection::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::any_io_executor e, ConnectionOptions o)
      : ex(e), opts(std::move(o)), socket(e), write_kick(e), hold(e), backoff(e), outcome_signal(e) {
    outcome_signal.expires_at(asio::steady_timer::time_point::max());
    std::array<std::uint8_t, 8> seed{};
    crypto::random_bytes(seed);
    std::uint64_t s = 0;
    for (auto b : seed) s = (s << 8) | b;
    rng.seed(s);  // jitter only; not security-relevant
  }

  asio::any_io_executor ex;
  ConnectionOptions opts;
  tcp::socket socket;
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
  std::atomic<ConnState> st{ConnState::connecting};
  bool stopping = false;
  bool eviction_refused = false;
  bool credentials_refused = false;  // AUTH refused, or a password needed and none given
  bool was_ready = false;
  std::string last_error = "not connected yet";
  std::uint64_t connects = 0;
  std::mt19937_64 rng;

  void log(log::Level level, std::string_view msg) {
    if (opts.log) opts.log(level, msg);
  }

  // Ends the current connection: pending calls fail now with `fail` (their replies can no
  // longer arrive); the supervisor notices through the reader and reconnects.
  void teardown(std::string why, boost::system::error_code fail = make_error_code(errc::unavailable)) {
    if (st == ConnState::ready) log(log::Level::warn, "redis connection lost: " + why);
    if (st != ConnState::stopped) set_state(ConnState::connecting);
    last_error = std::move(why);
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    write_kick.cancel();
    hold.cancel();
    mux.fail_all(fail);
  }

  // Every change of state goes through here, so the shard's redis_up gauge follows the
  // connection's health. Stopping (shutdown) is not a failure: the gauge keeps its value, so
  // the shards still draining requests do not report their neighbours down.
  void set_state(ConnState next) {
    st = next;
    if (opts.metrics && next != ConnState::stopped) opts.metrics->set_redis_up(next == ConnState::ready);
  }

  void record(std::string_view op, bool error, clock::time_point start) {
    if (!opts.metrics) return;
    opts.metrics->observe_redis(op, error, std::chrono::duration<double>(clock::now() - start).count());
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

  awaitable<result<Replies>> call(Request req, std::string_view op, bool internal) {
    auto self = shared_from_this();
    auto start = clock::now();
    if (req.empty()) co_return make_error_code(errc::internal);
    if (stopping || !socket.is_open() || (!internal && st != ConnState::ready)) {
      record(op, true, start);
      co_return make_error_code(errc::unavailable);
    }
    auto [ec, replies] = co_await async_roundtrip(std::move(req), tuple_awaitable);
    bool any_error = static_cast<bool>(ec);
    for (const auto& r : replies) any_error = any_error || r.is_error();
    record(op, any_error, start);
    if (ec) co_return ec;
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

  awaitable<void> read_loop() {
    for (;;) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(read_buf), tuple_awaitable);
      if (ec) {
        if (ec != asio::error::operation_aborted)
          teardown(ec == asio::error::eof ? "connection closed by the server" : "read failed: " + ec.message());
        co_return;
      }
      reader.feed({read_buf.data(), n});
      for (;;) {
        auto r = reader.next();
        if (!r) {
          teardown("malformed RESP from the server");
          co_return;
        }
        if (!*r) break;
        if (!mux.on_reply(std::move(**r))) {
          teardown("a reply arrived that no request was waiting for");
          co_return;
        }
      }
    }
  }

  awaitable<void> write_loop() {
    for (;;) {
      if (!socket.is_open()) co_return;
      if (mux.has_unwritten()) {
        std::string buf = mux.take_writes();
        auto [ec, n] = co_await asio::async_write(socket, asio::buffer(buf), tuple_awaitable);
        if (ec) {
          if (ec != asio::error::operation_aborted) teardown("write failed: " + ec.message());
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

  // Runs the handshake, then parks until the connection ends.
  awaitable<void> handshake_and_hold() {
    auto fail_with = [this](std::string why) { teardown(std::move(why)); };
    // Any handshake command answered NOAUTH: Redis wants a password the URL does not give.
    auto needs_password = [&](const Reply& rep) {
      if (!rep.is_error() || !rep.str.starts_with("NOAUTH")) return false;
      credentials_refused = true;
      fail_with("Redis requires a password (" + rep.str +
                "): give one in redis_url, redis://:PASSWORD@host:port or redis://USER:PASSWORD@host:port");
      return true;
    };
    const Endpoint& ep = current;
    if (!ep.password.empty()) {
      Request auth;
      if (ep.user.empty())
        auth.push({"AUTH", ep.password});
      else
        auth.push({"AUTH", ep.user, ep.password});
      auto r = co_await call(std::move(auth), "auth", true);
      if (!r) {
        fail_with("AUTH failed: " + r.error().message());
        co_return;
      }
      if (r->front().is_error()) {
        credentials_refused = true;
        fail_with("Redis refused the credentials in redis_url (" + r->front().str + "): check its user and password");
        co_return;
      }
    }
    if (ep.db != 0) {
      Request select;
      select.push(std::vector<std::string>{"SELECT", std::to_string(ep.db)});
      auto r = co_await call(std::move(select), "select", true);
      if (!r) {
        fail_with("SELECT failed: " + r.error().message());
        co_return;
      }
      if (needs_password(r->front())) co_return;
      if (r->front().is_error()) {
        fail_with("SELECT refused: " + r->front().str);
        co_return;
      }
    }
    {
      Request config_get;
      config_get.push(std::vector<std::string>{"CONFIG", "GET", "maxmemory-policy"});
      auto r = co_await call(std::move(config_get), "config_get", true);
      if (!r) {
        fail_with("CONFIG GET failed: " + r.error().message());
        co_return;
      }
      const Reply& rep = r->front();
      if (needs_password(rep)) co_return;
      if (rep.is_error() || !rep.is_array() || rep.elements.size() != 2) {
        log(log::Level::warn,
            "cannot read maxmemory-policy (" + (rep.is_error() ? rep.str : std::string("unexpected reply")) +
                "); make sure the server uses 'noeviction', or revocations, lockouts and sessions can be "
                "evicted before they expire");
      } else if (is_evicting(rep.elements[1].str)) {
        std::string msg = "Redis maxmemory-policy is '" + rep.elements[1].str +
                          "': every key latchkey writes has a TTL, so an evicting policy (even volatile-*) "
                          "silently drops revocations, lockouts and sessions under memory pressure. Set "
                          "'maxmemory-policy noeviction' on the server, or set redis_allow_eviction=true to "
                          "accept that risk.";
        if (!opts.allow_eviction) {
          eviction_refused = true;
          {
            fail_with(msg);
            co_return;
          }
        }
        // Once per process, not once per shard and reconnect.
        static std::atomic<bool> warned{false};
        if (!warned.exchange(true))
          log(log::Level::warn, "Redis maxmemory-policy is '" + rep.elements[1].str +
                                    "': an evicting policy can drop revocations, lockouts and sessions under memory "
                                    "pressure; running anyway (allowed by redis_allow_eviction)");
      }
    }
    eviction_refused = false;
    credentials_refused = false;
    if (opts.scripts && !opts.scripts->all().empty()) {
      Request load;
      for (const auto& s : opts.scripts->all()) load.push({"SCRIPT", "LOAD", s.source});
      auto r = co_await call(std::move(load), "script_load", true);
      if (!r) {
        fail_with("SCRIPT LOAD failed: " + r.error().message());
        co_return;
      }
      for (std::size_t i = 0; i < r->size(); ++i) {
        const Reply& rep = (*r)[i];
        if (rep.is_error() || rep.str != opts.scripts->all()[i].sha1) {
          fail_with("SCRIPT LOAD of " + opts.scripts->all()[i].name + " failed: " + rep.str);
          co_return;
        }
      }
    }
    set_state(ConnState::ready);
    signal_outcome();
    was_ready = true;
    last_error.clear();
    log(log::Level::info, "redis connection ready: " + current.describe());
    hold.expires_at(asio::steady_timer::time_point::max());
    co_await hold.async_wait(tuple_awaitable);
  }

  awaitable<void> wait_timer(asio::steady_timer& t) { co_await t.async_wait(tuple_awaitable); }

  awaitable<boost::system::error_code> resolve_and_connect() {
    tcp::resolver resolver(ex);
    auto [rec, endpoints] =
        co_await resolver.async_resolve(current.host, std::to_string(current.port), tuple_awaitable);
    if (rec) co_return rec;
    auto [cec, ep] = co_await asio::async_connect(socket, endpoints, tuple_awaitable);
    co_return cec;
  }

  awaitable<void> supervise() {
    auto self = shared_from_this();
    auto delay = opts.reconnect_min;
    std::string last_logged;
    while (!stopping) {
      current = opts.endpoint;
      asio::steady_timer deadline(ex);
      deadline.expires_after(opts.connect_timeout);
      auto outcome = co_await (resolve_and_connect() || wait_timer(deadline));
      bool connected = false;
      if (outcome.index() == 1) {
        last_error = "connect to " + current.describe() + " timed out";
      } else if (auto ec = std::get<0>(outcome)) {
        last_error = "connect to " + current.describe() + " failed: " + ec.message();
      } else {
        connected = true;
      }
      if (connected && !stopping) {
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        socket.set_option(asio::socket_base::keep_alive(true), ignored);
        reader.reset();
        ++connects;
        was_ready = false;
        co_await (read_loop() || write_loop() || handshake_and_hold() || watchdog());
      }
      if (st != ConnState::stopped) set_state(ConnState::connecting);
      boost::system::error_code ignored;
      socket.close(ignored);
      mux.fail_all(make_error_code(errc::unavailable));
      ++failed_attempts;
      signal_outcome();
      if (stopping) break;
      if (opts.log_failures && last_error != last_logged) {
        log(eviction_refused || credentials_refused ? log::Level::error : log::Level::warn,
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

  Endpoint current;
};

Connection::Connection(asio::any_io_executor ex, ConnectionOptions opts)
    : impl_(std::make_shared<Impl>(ex, std::move(opts))) {}

Connection::~Connection() { stop(); }

void Connection::start() {
  asio::co_spawn(
      impl_->ex, [impl = impl_]() { return impl->supervise(); }, log::LogFailure{"redis connection supervisor"});
}

void Connection::stop() {
  if (!impl_ || impl_->stopping) return;
  impl_->stopping = true;
  impl_->set_state(ConnState::stopped);
  impl_->backoff.cancel();
  impl_->teardown("stopped");
  impl_->mux.fail_all(make_error_code(errc::unavailable));
}

awaitable<result<Replies>> Connection::exec(Request req, std::string op) {
  auto impl = impl_;
  co_return co_await impl->call(std::move(req), std::move(op), false);
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
    const Script* s = impl->opts.scripts ? impl->opts.scripts->find(c.script) : nullptr;
    if (!s) co_return make_error_code(errc::internal);
    found.push_back(s);
  }
  if (calls.empty()) co_return Replies{};
  Request req;
  for (std::size_t i = 0; i < calls.size(); ++i) add_evalsha(req, *found[i], calls[i].keys, calls[i].args);
  auto r = co_await impl->call(std::move(req), found[0]->op, false);
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
  auto r2 = co_await impl->call(std::move(retry), found[again[0]]->op, false);
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
  const Script* s = impl->opts.scripts ? impl->opts.scripts->find(script) : nullptr;
  if (!s) co_return make_error_code(errc::internal);
  auto evalsha = [&](Request& r) { add_evalsha(r, *s, keys, args); };

  Request first = before;
  evalsha(first);
  auto r = co_await impl->call(std::move(first), s->op, false);
  if (!r) co_return r.error();
  if (!noscript(r->back())) co_return std::move(*r);

  impl->log(log::Level::info, "script cache lost (NOSCRIPT); reloading " + s->name);
  std::size_t n_before = r->size() - 1;
  Request retry = std::move(before);
  retry.push({"SCRIPT", "LOAD", s->source});
  evalsha(retry);
  auto r2 = co_await impl->call(std::move(retry), s->op, false);
  if (!r2) co_return r2.error();
  if ((*r2)[n_before].is_error()) co_return make_error_code(errc::redis_error);
  r2->erase(r2->begin() + static_cast<std::ptrdiff_t>(n_before));
  co_return std::move(*r2);
}

ConnState Connection::state() const noexcept { return impl_->st; }
std::string Connection::last_error() const { return impl_->last_error; }
bool Connection::refused_eviction_policy() const noexcept { return impl_->eviction_refused; }
bool Connection::refused_credentials() const noexcept { return impl_->credentials_refused; }

awaitable<result<void>> Connection::ready_or_failed() {
  auto impl = impl_;
  const std::uint64_t failures_before = impl->failed_attempts;
  for (;;) {
    if (impl->st == ConnState::ready) co_return result<void>{};
    if (impl->failed_attempts > failures_before || impl->st == ConnState::stopped)
      co_return make_error_code(errc::unavailable);
    co_await impl->outcome_signal.async_wait(tuple_awaitable);
  }
}
std::uint64_t Connection::connects() const noexcept { return impl_->connects; }

}  // namespace latchkey::redis
