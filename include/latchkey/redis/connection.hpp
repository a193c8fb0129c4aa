// One asynchronous Redis connection, owned by one I/O thread (one io_context); all calls must
// come from that thread. Many coroutines may exec() at once: their commands are coalesced
// into one write and replies are matched in order (Multiplexer).
//
// Lifecycle: start() spawns a supervisor that connects, performs the handshake (AUTH, SELECT,
// the maxmemory-policy check, SCRIPT LOAD of every script), then serves calls until any
// failure, and reconnects with exponential backoff and jitter, forever, until stop().
// While not ready, exec() fails at once with errc::unavailable (no queueing behind a dead
// socket). A call that passes its deadline fails with errc::timeout and tears the
// connection down: replies stuck behind a frozen Redis would time out as well.
//
// Beneath it (src/engine/redis/): link.cpp (one socket to one node: the reader, writer,
// watchdog, handshake and reconnect loop), transport.cpp (TCP or TLS, one socket),
// handshake.cpp (the pure handshake request and verdict), errors.cpp (which error replies mean
// "did not run"), topology.cpp (where a link connects: the URL's node, or the master the
// sentinels name, asked again before every attempt), sentinel_resolver.cpp (the pure Sentinel
// state machine), cluster_router.cpp (Redis Cluster: one link per master, each request sent
// by the hash slot of its keys, MOVED / ASK / TRYAGAIN handled) and cluster_map.cpp (its pure
// slot map, redirect parsing and retry decision). Callers see this interface only.
#pragma once

#include "latchkey/error.hpp"
#include "latchkey/redis/multiplexer.hpp"
#include "latchkey/redis/reply.hpp"
#include "latchkey/redis/request.hpp"
#include "latchkey/redis/scripts.hpp"
#include "latchkey/redis/url.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "latchkey/log.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey {
class Metrics;
struct Config;
}  // namespace latchkey

namespace latchkey::redis {

enum class ConnState { connecting, ready, stopped };

struct ConnectionOptions {
  Target target;             // one node, or a master found through sentinels
  TlsSettings tls;           // used when target.node.tls (rediss://, rediss+sentinel://)
  bool sentinel_tls = true;  // rediss+sentinel://: TLS to the sentinels too
  std::string sentinel_user, sentinel_password;
  std::chrono::milliseconds sentinel_timeout{500};  // per sentinel asked
  // While ready, how often the sentinels are asked whether this node is still the master.
  std::chrono::milliseconds sentinel_check_interval{1000};
  std::chrono::milliseconds call_timeout{1000};
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds reconnect_min{50};
  std::chrono::milliseconds reconnect_max{2000};
  bool allow_eviction = false;
  std::shared_ptr<const ScriptSet> scripts;
  Metrics* metrics = nullptr;  // optional; owned by the shard
  // false: failed attempts are not logged; the caller reports them (the start-up check).
  bool log_failures = true;
  // A second link to the same node for writes followed by WAIT (see durable()); asked for
  // when redis_wait_replicas > 0.
  bool durable_link = false;
  // false: this link's state does not move the shard's redis_up gauge (the durable link).
  bool reports_health = true;
  // Cluster (redis+cluster://): how long one request may spend retrying TRYAGAIN, CLUSTERDOWN
  // and LOADING before it is answered unavailable; how many MOVED / ASK it follows; how often
  // the slot map is asked for while nothing says it changed.
  std::chrono::milliseconds cluster_retry_budget{2000};
  unsigned cluster_max_redirects = 5;
  std::chrono::milliseconds cluster_refresh_interval{5000};
  // Set by the router on each node's link: a cluster master (ROLE checked, replies raw), and
  // told of every change of the link's state.
  bool cluster_node = false;
  std::function<void(ConnState)> on_state;
  // msg never contains credentials.
  std::function<void(log::Level level, std::string_view msg)> log;

  // The options redis_url and the redis_* settings give (log, metrics and scripts left unset).
  static ConnectionOptions from(const Config& config);
};

// Empty when the TLS settings can be used (files readable and PEM, key matching the
// certificate, certificate authorities available for verification); otherwise why not. Checked
// at start: a problem here is a configuration error, not an outage.
std::string check_tls_settings(const TlsSettings& tls);

class Connection {
 public:
  Connection(boost::asio::any_io_executor ex, ConnectionOptions opts);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start();
  // Stops reconnecting, fails pending calls with unavailable and closes the socket.
  void stop();

  // Sends every command of `req`; yields their replies in order (error replies included as
  // values), or unavailable / timeout. `op` names the call in metrics and logs (a fixed
  // string such as "token_verify": never a value from the request).
  [[nodiscard]] boost::asio::awaitable<result<Replies>> exec(Request req, std::string op);
  // EVALSHA of a script by name, with one transparent SCRIPT LOAD + retry on NOSCRIPT (safe:
  // a NOSCRIPT reply means the script did not run).
  [[nodiscard]] boost::asio::awaitable<result<Reply>> eval(std::string script, std::vector<std::string> keys,
                                                           std::vector<std::string> args);

  // eval() behind the commands of `before` in one round trip: their replies, then the
  // script's. `before` must be safe to send twice (it is re-sent after a NOSCRIPT).
  [[nodiscard]] boost::asio::awaitable<result<Replies>> eval_after(Request before, std::string script,
                                                                   std::vector<std::string> keys,
                                                                   std::vector<std::string> args);

  // Several scripts in one round trip, one reply each, in order. Calls answered NOSCRIPT did
  // not run: only they are re-sent, behind a SCRIPT LOAD of their scripts.
  struct ScriptCall {
    std::string script;
    std::vector<std::string> keys;
    std::vector<std::string> args;
  };
  [[nodiscard]] boost::asio::awaitable<result<Replies>> evals(std::vector<ScriptCall> calls);

  // The link for writes that are followed by WAIT (redis_wait_replicas). WAIT counts the writes
  // of its own connection and blocks it until the replicas answer, so these writes and their
  // WAIT go on a second link to the same node: a WAIT never stalls the pipelined requests of
  // everyone else. *this when the options asked for no second link.
  Connection& durable() noexcept;

  // Re-reads the TLS files of the options (a reload): the next connection uses them, the open
  // one keeps its session. Call on the connection's thread. False (and the old files stay in
  // use) when they cannot be used; check_tls_settings says why.
  bool reload_tls();

  // Completes when the connection is ready (success), or when an attempt to make it ready
  // fails after the call (unavailable; last_error() and refused_*() say why), or it stops:
  // what a caller that must know waits for, instead of polling.
  [[nodiscard]] boost::asio::awaitable<result<void>> ready_or_failed();

  ConnState state() const noexcept;
  bool ready() const noexcept { return state() == ConnState::ready; }
  // Why the last connect or handshake failed (empty when ready); no credentials.
  std::string last_error() const;
  // True when the last handshake failed because the server evicts keys and the operator did
  // not allow it: a configuration problem, not an outage.
  bool refused_eviction_policy() const noexcept;
  // True when the last handshake failed because Redis refused the credentials of the URL, or
  // wants a password and none was given: a configuration problem too.
  bool refused_credentials() const noexcept;
  // True when the last attempt failed for a reason no retry can mend: refused credentials, an
  // evicting policy, unusable TLS files, or sentinels that do not know the master's name.
  bool refused_configuration() const noexcept;
  std::uint64_t connects() const noexcept;
  // The data node of the current (or last) connection, safe to log: under Sentinel, the master.
  std::string current_endpoint() const;
  // Sentinel: how many times the master's address changed since start (failovers seen).
  std::uint64_t master_changes() const noexcept;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
  std::unique_ptr<Connection> durable_;
};

}  // namespace latchkey::redis
