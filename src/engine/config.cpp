// Config loading: the option table, its sources and their precedence.
#include "latchkey/client_address.hpp"
#include "latchkey/config.hpp"
#include "latchkey/ratelimit.hpp"
#include "latchkey/crypto/jws.hpp"

#include <algorithm>
#include <bitset>
#include <charconv>
#include <fstream>
#include <sstream>
#include <thread>

namespace latchkey {
namespace {

// The parser of one option's value into its typed field, and the range it accepts (shown in
// the generated reference; empty for free-form values).
struct Setter {
  std::function<bool(Config&, const std::string& value, std::string& why)> fn;
  std::string range;
  template <class F>
  Setter(F f, std::string r = {}) : fn(std::move(f)), range(std::move(r)) {}
  bool operator()(Config& c, const std::string& v, std::string& why) const { return fn(c, v, why); }
};

std::string range_text(std::uint64_t min, std::uint64_t max) {
  return std::to_string(min) + " to " + std::to_string(max);
}

struct Option {
  OptionDoc doc;
  Setter set;
};

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

template <class T>
bool parse_uint(const std::string& v, T& out, T min, T max, std::string& why) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size()) {
    why = "expected a non-negative integer, got '" + v + "'";
    return false;
  }
  if (n < min || n > max) {
    why = "must be between " + std::to_string(min) + " and " + std::to_string(max);
    return false;
  }
  out = static_cast<T>(n);
  return true;
}

// A duration option, written as a whole number of the field's unit (the option's name or
// doc line says which: milliseconds for `*_timeout`-style transport options, seconds for
// TTLs and windows).
template <class Duration>
Setter duration_setter(Duration Config::*field, std::uint64_t min, std::uint64_t max) {
  return Setter(
      [=](Config& c, const std::string& v, std::string& why) {
        std::uint64_t n = 0;
        if (!parse_uint<std::uint64_t>(v, n, min, max, why)) return false;
        c.*field = Duration(static_cast<typename Duration::rep>(n));
        return true;
      },
      range_text(min, max));
}

Setter size_setter(std::size_t Config::*field, std::size_t min, std::size_t max) {
  return Setter([=](Config& c, const std::string& v,
                    std::string& why) { return parse_uint<std::size_t>(v, c.*field, min, max, why); },
                range_text(min, max));
}

// "a, b or c", for the accepted words of an option.
template <class Words, class Word>
std::string word_list(const Words& words, Word word) {
  std::string list;
  for (std::size_t i = 0; i < words.size(); ++i)
    list += (i == 0 ? "" : i + 1 == words.size() ? " or " : ", ") + word(words[i]);
  return list;
}

// One of a fixed set of words (case-sensitive, as documented).
Setter choice_setter(std::string Config::*field, std::vector<std::string> choices) {
  std::string list = word_list(choices, [](const std::string& w) { return w; });
  return Setter(
      [=](Config& c, const std::string& v, std::string& why) {
        if (std::find(choices.begin(), choices.end(), v) == choices.end()) {
          why = "expected " + list + ", got '" + v + "'";
          return false;
        }
        c.*field = v;
        return true;
      },
      list);
}

// A count (sessions, failures, prefix bits).
Setter count_setter(std::int64_t Config::*field, std::int64_t min, std::int64_t max) {
  const auto lo = static_cast<std::uint64_t>(min), hi = static_cast<std::uint64_t>(max);
  return Setter(
      [=](Config& c, const std::string& v, std::string& why) {
        std::uint64_t n = 0;
        if (!parse_uint<std::uint64_t>(v, n, lo, hi, why)) return false;
        c.*field = static_cast<std::int64_t>(n);
        return true;
      },
      range_text(lo, hi));
}

// A word of a fixed set, each meaning one value of a Redis TLS settings field.
template <class T>
Setter mapped_setter(T redis::TlsSettings::*field, std::vector<std::pair<std::string, T>> words) {
  std::string list = word_list(words, [](const auto& w) { return w.first; });
  return Setter(
      [=](Config& c, const std::string& v, std::string& why) {
        for (const auto& [word, value] : words)
          if (v == word) {
            c.redis_tls.*field = value;
            return true;
          }
        why = "expected " + list + ", got '" + v + "'";
        return false;
      },
      list);
}

// A free-form text field (a path or a name).
Setter text_setter(std::string Config::*field) {
  return Setter([=](Config& c, const std::string& v, std::string&) {
    c.*field = v;
    return true;
  });
}

// A free-form text field of the Redis TLS settings (a path or a name).
Setter tls_text_setter(std::string redis::TlsSettings::*field) {
  return Setter([=](Config& c, const std::string& v, std::string&) {
    c.redis_tls.*field = v;
    return true;
  });
}

std::optional<ListenAddress> parse_listen_address(const std::string& v, std::string& why) {
  auto colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    why = "expected host:port, got '" + v + "'";
    return std::nullopt;
  }
  ListenAddress a;
  a.host = v.substr(0, colon);
  if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']') a.host = a.host.substr(1, a.host.size() - 2);
  if (!parse_uint<std::uint16_t>(v.substr(colon + 1), a.port, 0, 65535, why)) return std::nullopt;
  return a;
}

Setter listen_setter(std::optional<ListenAddress> Config::*field) {
  return Setter(
      [=](Config& c, const std::string& v, std::string& why) {
        if (v.empty()) {
          (c.*field).reset();
          return true;
        }
        auto a = parse_listen_address(v, why);
        if (!a) return false;
        c.*field = std::move(*a);
        return true;
      },
      "host:port, or empty");
}

Setter uint_setter(unsigned Config::*field, unsigned min, unsigned max) {
  return Setter([=](Config& c, const std::string& v,
                    std::string& why) { return parse_uint<unsigned>(v, c.*field, min, max, why); },
                range_text(min, max));
}

Setter bool_setter(bool Config::*field) {
  return Setter(
      [=](Config& c, const std::string& v, std::string& why) {
        if (v == "true" || v == "1" || v == "yes" || v == "on") {
          c.*field = true;
        } else if (v == "false" || v == "0" || v == "no" || v == "off") {
          c.*field = false;
        } else {
          why = "expected true or false, got '" + v + "'";
          return false;
        }
        return true;
      },
      "true or false");
}

const std::vector<Option>& options() {
  static const std::vector<Option> table{
      {{"listen", "127.0.0.1:8080",
        "Address and port of the public HTTP listener (`host:port`; port 0 picks a free port): OAuth endpoints, "
        "`/.well-known/*`, health, and whatever `admin_listen` and `metrics_listen` do not take elsewhere.",
        false},
       [](Config& c, const std::string& v, std::string& why) {
         auto a = parse_listen_address(v, why);
         if (!a) return false;
         c.listen_host = a->host;
         c.listen_port = a->port;
         return true;
       }},
      {{"admin_listen", "",
        "Address and port (`host:port`) of the listener serving the admin API (`/v1/...`), so it can stay on a private "
        "interface while `listen` is exposed. Empty: served on `listen`.",
        false},
       listen_setter(&Config::admin_listen)},
      {{"metrics_listen", "",
        "Address and port (`host:port`) of the listener serving `/metrics`. Empty: served on `listen`. Health "
        "(`/healthz`, `/readyz`) is answered on every listener.",
        false},
       listen_setter(&Config::metrics_listen)},
      {{"console_listen", "",
        "Address and port (`host:port`) of the admin console in the browser (`/console/`), a listener of its own: "
        "an admin API key is exchanged there for a console session (cookie), and the page calls the admin API with "
        "it. Empty: no console. A host other than loopback needs `tls_cert_file` (HTTPS).",
        false},
       listen_setter(&Config::console_listen)},
      {{"console_idle_ttl", "900", "Idle timeout of a console session (s).", false},
       duration_setter(&Config::console_idle_ttl, 60, 86400)},
      {{"console_absolute_ttl", "28800", "Absolute lifetime of a console session (s), however active.", false},
       duration_setter(&Config::console_absolute_ttl, 60, 604800)},
      {{"tls_cert_file", "",
        "PEM certificate chain of latchkey's own HTTPS: with `tls_key_file`, every listener serves HTTPS only "
        "(TLS 1.2 and 1.3, forward-secret AEAD ciphers, ALPN http/1.1). Empty: plain HTTP (behind a TLS proxy).",
        false},
       text_setter(&Config::tls_cert_file)},
      {{"tls_key_file", "", "PEM private key of `tls_cert_file`.", false}, text_setter(&Config::tls_key_file)},
      {{"tls_client_ca_file", "",
        "PEM certificate authorities of client certificates: when set, every HTTPS client must present a "
        "certificate they issued (mutual TLS from backends). Needs `tls_cert_file`.",
        false},
       text_setter(&Config::tls_client_ca_file)},
      {{"threads", "0",
        "I/O threads (shards), each with its own event loop and Redis connection; 0 means one per core.", false},
       uint_setter(&Config::threads, 0, 256)},
      {{"redis_url", "redis://127.0.0.1:6379/0",
        "Redis: `redis://[[user]:password@]host[:port][/db]`, `rediss://...` (TLS), "
        "`redis+sentinel://[[user]:password@]host[:port],host[:port]/<master-name>[/db]` or `rediss+sentinel://...` "
        "(the master a sentinel names; sentinel port 26379 by default), "
        "`redis+cluster://[[user]:password@]host[:port],host[:port]` or `rediss+cluster://...` (Redis Cluster, "
        "database 0 only; the nodes named are seeds, the rest is learned). The user info is the data nodes' "
        "credentials. Contains a password when AUTH is used, so it is a secret option.",
        true},
       [](Config& c, const std::string& v, std::string& why) {
         auto t = redis::parse_target(v, &why);
         if (!t) return false;
         c.redis = *t;
         return true;
       }},
      {{"redis_tls_ca_file", "",
        "PEM file of the certificate authorities a `rediss://` server's certificate must chain to; when set, only "
        "they are trusted. Empty: the system's trust store.",
        false},
       tls_text_setter(&redis::TlsSettings::ca_file)},
      {{"redis_tls_cert_file", "",
        "PEM client certificate for mutual TLS to Redis (`tls-auth-clients yes`); needs `redis_tls_key_file`.", false},
       tls_text_setter(&redis::TlsSettings::cert_file)},
      {{"redis_tls_key_file", "", "PEM private key of `redis_tls_cert_file`.", false},
       tls_text_setter(&redis::TlsSettings::key_file)},
      {{"redis_tls_verify", "full",
        "How a `rediss://` server is checked: `full` (the chain and the endpoint's name: DNS names against DNS "
        "SANs, IP literals against IP SANs), `ca` (the chain only), `none` (no check: encryption without "
        "authentication, logged as an error at start).",
        false},
       mapped_setter(
           &redis::TlsSettings::verify,
           {{"full", redis::TlsVerify::full}, {"ca", redis::TlsVerify::ca}, {"none", redis::TlsVerify::none}})},
      {{"redis_tls_server_name", "",
        "Name sent as SNI and checked against the certificate instead of each endpoint's own host (for servers "
        "reached by an address their certificate does not name). Empty: each endpoint's host.",
        false},
       tls_text_setter(&redis::TlsSettings::server_name)},
      {{"redis_tls_min_version", "1.2", "Lowest TLS version offered to Redis: `1.2` or `1.3`.", false},
       mapped_setter(&redis::TlsSettings::min_version, {{"1.2", 12}, {"1.3", 13}})},
      {{"redis_sentinel_tls", "true",
        "With `rediss+sentinel://`: speak TLS to the sentinels as well as to the data nodes (false: plaintext "
        "sentinels, TLS data nodes).",
        false},
       bool_setter(&Config::redis_sentinel_tls)},
      {{"redis_sentinel_username", "",
        "ACL user for the sentinels (`AUTH user password`); the URL's user info is for the data nodes.", false},
       [](Config& c, const std::string& v, std::string&) {
         c.redis_sentinel_username = v;
         return true;
       }},
      {{"redis_sentinel_password", "",
        "Password of the sentinels (their `requirepass`, or the ACL user's). Empty: no AUTH to the sentinels.", true},
       [](Config& c, const std::string& v, std::string&) {
         c.redis_sentinel_password = v;
         return true;
       }},
      {{"redis_timeout_ms", "1000",
        "Deadline of every Redis call. A call past it fails (503 to the client) and the connection is re-established.",
        false},
       duration_setter(&Config::redis_timeout, 1, 60000)},
      {{"redis_connect_timeout_ms", "1000", "Deadline of one connection attempt to Redis.", false},
       duration_setter(&Config::redis_connect_timeout, 1, 60000)},
      {{"redis_reconnect_min_ms", "50",
        "First delay before reconnecting to Redis; doubles per failed attempt (with jitter).", false},
       duration_setter(&Config::redis_reconnect_min, 1, 60000)},
      {{"redis_reconnect_max_ms", "2000", "Largest delay between reconnection attempts.", false},
       duration_setter(&Config::redis_reconnect_max, 1, 600000)},
      {{"redis_allow_eviction", "false",
        "Run even when Redis's maxmemory-policy evicts keys. Off by default: every latchkey key has a TTL, so an "
        "evicting policy (even volatile-*) silently drops revocations, lockouts and sessions.",
        false},
       bool_setter(&Config::redis_allow_eviction)},
      {{"redis_wait_replicas", "0",
        "After every revocation write (token revoke, logout everywhere, refresh rotation, reuse detection), `WAIT` "
        "until this many replicas have it; fewer within `redis_wait_timeout_ms` answers 503 instead of a success a "
        "failover could undo. 0: no WAIT (standalone Redis).",
        false},
       uint_setter(&Config::redis_wait_replicas, 0, 16)},
      {{"redis_wait_timeout_ms", "500", "How long a revocation waits for `redis_wait_replicas` replicas.", false},
       duration_setter(&Config::redis_wait_timeout, 1, 60000)},
      {{"redis_cluster_retry_budget_ms", "2000",
        "Redis Cluster: how long one request may wait and resend while its slot is being migrated (`TRYAGAIN`), "
        "the cluster is down (`CLUSTERDOWN`, during a failover) or a node is loading; then 503. Long enough for one "
        "slot migration.",
        false},
       duration_setter(&Config::redis_cluster_retry_budget, 1, 60000)},
      {{"redis_cluster_max_redirects", "5",
        "Redis Cluster: how many `MOVED` / `ASK` redirects one request follows before 503 (a loop guard).", false},
       uint_setter(&Config::redis_cluster_max_redirects, 1, 100)},
      {{"redis_cluster_refresh_ms", "5000",
        "Redis Cluster: how often the slot map is asked for when nothing says it changed (a redirect or a lost node "
        "asks at once, at most every 100 ms).",
        false},
       duration_setter(&Config::redis_cluster_refresh_interval, 100, 600000)},
      {{"key_prefix", "lk:", "Prefix of every Redis key latchkey writes (1-32 characters, no spaces or braces).",
        false},
       [](Config& c, const std::string& v, std::string& why) {
         if (v.empty() || v.size() > 32 || v.find_first_of(" {}\t\r\n") != std::string::npos) {
           why = "must be 1-32 characters without spaces or braces";
           return false;
         }
         c.key_prefix = v;
         return true;
       }},
      {{"admin_api_keys", "(none; required)",
        "Comma-separated API keys accepted as `Authorization: Bearer <key>` on /v1/...; each at least 32 characters. "
        "Compared in constant time. An entry `read:<key>` is a read-only key: it may call the routes that only read "
        "(GET, and POST /v1/tokens/verify) and is refused with 403 `forbidden` on every other; at least one key must "
        "have full access (generated keys never contain `:`).",
        true},
       [](Config& c, const std::string& v, std::string& why) {
         std::vector<std::string> keys, read_only;
         std::stringstream ss(v);
         std::string item;
         while (std::getline(ss, item, ',')) {
           item = trim(item);
           if (item.empty()) continue;
           const bool ro = item.starts_with("read:");
           if (ro) item.erase(0, 5);
           if (item.size() < 32 || item.size() > 256) {
             why = "each key must be 32 to 256 characters (a short key is guessable)";
             return false;
           }
           std::bitset<128> seen;
           for (char ch : item) {
             if (static_cast<unsigned char>(ch) <= 0x20 || static_cast<unsigned char>(ch) >= 0x7f) {
               why = "keys must be printable ASCII without spaces";
               return false;
             }
             seen.set(static_cast<unsigned char>(ch));
           }
           // A random key of 32+ characters (hex or base64) shows far more than 8 distinct
           // ones; "aaaa..." or "abab..." is a placeholder, not a secret.
           if (seen.count() < 8) {
             why = "a key must be random (this one has only " + std::to_string(seen.count()) +
                   " distinct characters); make one with `latchkey keys admin-key --file PATH`";
             return false;
           }
           (ro ? read_only : keys).push_back(item);
         }
         if (keys.empty()) {
           why = read_only.empty() ? "at least one key is required"
                                   : "at least one key must have full access (not only `read:` keys)";
           return false;
         }
         c.admin_api_keys = std::move(keys);
         c.admin_read_only_keys = std::move(read_only);
         return true;
       }},
      {{"secrets_dir", "/etc/latchkey/secrets",
        "Directory of the key rings (`encryption.json`, `signing.json`, `identifiers.json`); create them with "
        "`latchkey keys init --dir DIR`.",
        false},
       [](Config& c, const std::string& v, std::string& why) {
         if (v.empty()) {
           why = "must not be empty";
           return false;
         }
         c.secrets_dir = v;
         return true;
       }},
      {{"secrets_allow_insecure_mode", "false",
        "Load key rings whose folder or files give group or other users access (with a loud warning) instead of "
        "refusing to start. The folder should be 0700 and each file 0600.",
        false},
       bool_setter(&Config::secrets_allow_insecure_mode)},
      {{"max_body_bytes", "65536", "Largest request body accepted; larger bodies get 413 payload_too_large.", false},
       size_setter(&Config::max_body_bytes, 1024, 16 * 1024 * 1024)},
      {{"max_header_bytes", "8192", "Largest request line plus headers accepted; larger get 431.", false},
       size_setter(&Config::max_header_bytes, 1024, 1024 * 1024)},
      {{"read_timeout_ms", "10000",
        "Deadline for reading one whole request once its first byte arrived (slow clients are cut off).", false},
       duration_setter(&Config::read_timeout, 10, 600000)},
      {{"trusted_proxies", "",
        "Reverse proxies (comma-separated addresses or CIDR blocks) whose `Forwarded` / `X-Forwarded-For` headers name "
        "the client: only when the TCP peer is one of them, the client address (OAuth throttle, access log) is the "
        "rightmost address of the chain that is not a trusted proxy. Empty: the TCP peer, always.",
        false},
       [](Config& c, const std::string& v, std::string& why) {
         if (!net::parse_cidrs(v, why)) return false;
         c.trusted_proxies = v;
         return true;
       }},
      {{"first_byte_timeout_ms", "5000",
        "How long a new connection may stay silent before its first request begins (separate from the keep-alive "
        "`idle_timeout_ms`).",
        false},
       duration_setter(&Config::first_byte_timeout, 10, 600000)},
      {{"max_connections", "10000",
        "Client connections open at once, over all threads; lowered at start to what the descriptor limit leaves "
        "beside a reserve for Redis. At the limit the oldest idle connection is closed, or the new one refused.",
        false},
       size_setter(&Config::max_connections, 1, 1000000)},
      {{"max_connections_per_client", "512",
        "Connections one client address (IPv6: per `login_ipv6_prefix` network) may hold; at the cap its oldest idle "
        "one is closed, or the new one refused. 0: no cap. Behind a proxy every client shares its address: raise it or "
        "set 0.",
        false},
       size_setter(&Config::max_connections_per_client, 0, 1000000)},
      {{"idle_timeout_ms", "60000", "How long a keep-alive connection may wait for its next request.", false},
       duration_setter(&Config::idle_timeout, 10, 3600000)},
      {{"shutdown_grace_ms", "10000",
        "On SIGTERM/SIGINT: how long in-flight requests may run before the process exits anyway.", false},
       duration_setter(&Config::shutdown_grace, 0, 600000)},
      {{"log_level", "info", "Least severe event written to stderr (the access log is `access_log`).", false},
       Setter(
           [](Config& c, const std::string& v, std::string& why) {
             auto l = log::level_from_name(v);
             if (!l) {
               why = "expected debug, info, warn or error, got '" + v + "'";
               return false;
             }
             c.log_level = *l;
             return true;
           },
           "debug, info, warn or error")},
      {{"access_log", "true", "Write one JSON line per request to stdout (never a token, a body or a query string).",
        false},
       bool_setter(&Config::access_log)},
      {{"events", "true",
        "Record security events (sessions created and ended, refresh reuse, code replay, revocations, login "
        "failures, lockouts, unlocks, OAuth clients, key changes, admin authentication failures) in capped Redis "
        "streams, read with `GET /v1/events`. Written beside the request's own commands, never waited for: an event "
        "that cannot be written is counted (`latchkey_events_lost_total`), never a failed request.",
        false},
       bool_setter(&Config::events)},
      {{"events_max_length", "100000",
        "Most security events kept (over the 4 streams; each trims to a quarter, within one radix node of 100).",
        false},
       size_setter(&Config::events_max_length, 400, 100000000)},
      {{"events_retention_s", "604800", "How long security events are kept (s); older ones are trimmed every minute.",
        false},
       duration_setter(&Config::events_retention, 60, 31536000)},
      {{"events_stdout", "false",
        "Also write each security event as one JSON line to stdout (`\"type\":\"security_event\"`), for log shippers.",
        false},
       bool_setter(&Config::events_stdout)},
      {{"retry_after_seconds", "1", "Value of `Retry-After` on 503 unavailable answers.", false},
       uint_setter(&Config::retry_after_seconds, 1, 3600)},
      {{"session_idle_ttl", "1800",
        "Default idle timeout of a session (s): unused this long, it is gone. Each validation slides it, never past "
        "the absolute deadline.",
        false},
       duration_setter(&Config::session_idle_ttl, 1, 31536000)},
      {{"session_absolute_ttl", "43200", "Default absolute lifetime of a session (s), whatever its activity.", false},
       duration_setter(&Config::session_absolute_ttl, 1, 31536000)},
      {{"session_max_idle_ttl", "86400", "Largest `idle_ttl` a create request may ask for (s).", false},
       duration_setter(&Config::session_max_idle_ttl, 1, 31536000)},
      {{"session_max_absolute_ttl", "2592000", "Largest `absolute_ttl` a create request may ask for (s).", false},
       duration_setter(&Config::session_max_absolute_ttl, 1, 31536000)},
      {{"session_limit", "5", "Live sessions per user; what happens beyond it is `session_limit_policy`.", false},
       count_setter(&Config::session_limit, 1, 1000)},
      {{"session_limit_policy", "evict_oldest",
        "`evict_oldest` (the oldest session goes; its id is returned in `evicted`) or `reject_new` (409 "
        "session_limit_reached).",
        false},
       choice_setter(&Config::session_limit_policy, {"evict_oldest", "reject_new"})},
      {{"session_touch_interval", "60",
        "Validation slides the idle deadline every time, but rewrites `last_seen_at` at most this often (s).", false},
       duration_setter(&Config::session_touch_interval, 1, 86400)},
      {{"session_rotate_overlap", "0",
        "After a rotation the old token keeps working (as its successor) for this long (s); 0: it stops at once.",
        false},
       duration_setter(&Config::session_rotate_overlap, 0, 300)},
      {{"session_max_data_bytes", "16384",
        "Largest serialized `data` object of a session (bytes); `device` is limited to 2048.", false},
       size_setter(&Config::session_max_data_bytes, 64, 1024 * 1024)},
      {{"session_cookie_name", "__Host-session",
        "Cookie name for cookie mode. The `__Host-` prefix (recommended) requires `session_cookie_secure`.", false},
       [](Config& c, const std::string& v, std::string& why) {
         if (v.empty() || v.size() > 64 ||
             v.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
                 std::string::npos) {
           why = "must be 1-64 characters of letters, digits, '-', '_' or '.'";
           return false;
         }
         c.session_cookie_name = v;
         return true;
       }},
      {{"session_cookie_samesite", "Lax",
        "`SameSite` attribute of the session cookie: Strict, Lax or None (None requires Secure).", false},
       choice_setter(&Config::session_cookie_samesite, {"Strict", "Lax", "None"})},
      {{"session_cookie_secure", "true",
        "Mark the session cookie `Secure` (HTTPS only). Turn off only for plain-HTTP development without the `__Host-` "
        "prefix.",
        false},
       bool_setter(&Config::session_cookie_secure)},
      {{"token_issuer", "latchkey",
        "`iss` of every access token, and the only issuer verification accepts (1-256 printable characters; usually "
        "this server's public URL).",
        false},
       [](Config& c, const std::string& v, std::string& why) {
         if (v.empty() || v.size() > 256 ||
             std::any_of(v.begin(), v.end(), [](unsigned char ch) { return ch < 0x20 || ch == 0x7f; })) {
           why = "must be 1-256 printable characters";
           return false;
         }
         c.token_issuer = v;
         return true;
       }},
      {{"token_access_ttl", "900", "Lifetime of an access token (s).", false},
       duration_setter(&Config::token_access_ttl, 10, 86400)},
      {{"token_leeway", "30", "Clock skew tolerated when checking `exp` and `nbf` (s).", false},
       duration_setter(&Config::token_leeway, 0, 300)},
      {{"token_algorithms", "EdDSA,ES256,RS256,HS256",
        "Allowlist of JWS algorithms verification accepts (comma-separated subset of EdDSA, ES256, RS256, HS256). "
        "Every key of the signing ring must use one of them.",
        false},
       [](Config& c, const std::string& v, std::string& why) {
         if (!crypto::jws::AlgSet::parse(v)) {
           why = "expected a comma-separated subset of EdDSA, ES256, RS256, HS256, got '" + v + "'";
           return false;
         }
         c.token_algorithms = v;
         return true;
       }},
      {{"token_refresh_idle_ttl", "1209600", "A refresh-token family unused for this long expires (s).", false},
       duration_setter(&Config::token_refresh_idle_ttl, 60, 31536000)},
      {{"token_refresh_absolute_ttl", "2592000",
        "A refresh-token family expires this long after the login that created it, however it is used (s).", false},
       duration_setter(&Config::token_refresh_absolute_ttl, 60, 31536000)},
      {{"token_refresh_grace", "10",
        "After a refresh, the token just retired may be presented again for this long and returns the same new pair "
        "(two tabs refreshing at once); any other reuse revokes the family (s). 0 disables.",
        false},
       duration_setter(&Config::token_refresh_grace, 0, 300)},
      {{"token_max_bytes", "8192",
        "Longest token accepted for verification; longer ones are refused before any decoding (bytes).", false},
       size_setter(&Config::token_max_bytes, 1024, 65536)},
      {{"token_max_claims_bytes", "4096", "Largest serialized custom `claims` object of an access token (bytes).",
        false},
       size_setter(&Config::token_max_claims_bytes, 16, 16384)},
      {{"token_max_families_per_user", "100",
        "Refresh-token families (logins) a user may hold; a new login beyond it revokes the oldest family.", false},
       count_setter(&Config::token_max_families_per_user, 1, 10000)},
      {{"oauth_code_ttl", "60", "Lifetime of an authorization code (s; RFC 6749 recommends at most 600).", false},
       duration_setter(&Config::oauth_code_ttl, 1, 600)},
      {{"oauth_client_cache_ttl", "2",
        "How long each I/O thread keeps a client record it read, to authenticate that client's next requests "
        "without reading Redis (s). A deleted client stops authenticating at once on the node that deleted it and "
        "within this time on the others. 0 disables the cache.",
        false},
       duration_setter(&Config::oauth_client_cache_ttl, 0, 60)},
      {{"oauth_require_pkce", "true",
        "Require PKCE (S256) from confidential clients too; public clients always need it. `plain` is never accepted.",
        false},
       bool_setter(&Config::oauth_require_pkce)},
      {{"oauth_dpop_nonce", "false",
        "Require DPoP proofs to carry a server nonce (RFC 9449 8): a proof without a fresh one is refused with "
        "`use_dpop_nonce` and the `DPoP-Nonce` header to retry with. Nonces rotate every minute and are accepted "
        "for two; every node that shares the encryption keys accepts the others'.",
        false},
       bool_setter(&Config::oauth_dpop_nonce)},
      {{"oauth_backchannel_logout_ca_file", "",
        "PEM file of the CAs whose certificates latchkey trusts when it POSTs logout tokens to https "
        "`backchannel_logout_uri`s (OpenID Connect Back-Channel Logout); empty: the system's trusted CAs.",
        false},
       [](Config& c, const std::string& v, std::string& why) {
         if (v.size() > 4096) {
           why = "must be a file path";
           return false;
         }
         c.oauth_backchannel_logout_ca_file = v;
         return true;
       }},
      {{"oauth_dpop_proof_max_age", "60",
        "How old a DPoP proof's `iat` may be (s, plus token_leeway); its `jti` is remembered that long, so a "
        "replay is refused.",
        false},
       duration_setter(&Config::oauth_dpop_proof_max_age, 10, 600)},
      {{"oauth_access_token_format", "opaque",
        "Access tokens of the OAuth token endpoint: `opaque` (a random handle, stored hashed; resource servers "
        "introspect it) or `jwt` (RFC 9068, signed by the token key ring; resource servers may verify it locally).",
        false},
       choice_setter(&Config::oauth_access_token_format, {"opaque", "jwt"})},
      {{"oauth_access_token_audience", "",
        "`aud` of OAuth JWT access tokens (RFC 9068 wants the resource server's identifier); empty: no `aud`. "
        "Introspection reports it for opaque tokens too.",
        false},
       [](Config& c, const std::string& v, std::string& why) {
         if (v.size() > 256 ||
             std::any_of(v.begin(), v.end(), [](unsigned char ch) { return ch <= 0x20 || ch == 0x7f; })) {
           why = "must be at most 256 printable characters without spaces";
           return false;
         }
         c.oauth_access_token_audience = v;
         return true;
       }},
      {{"oauth_authorization_endpoint", "",
        "URL of the backend's authorization page (where users log in and consent), published as "
        "`authorization_endpoint` in the RFC 8414 metadata; empty: not published.",
        false},
       [](Config& c, const std::string& v, std::string& why) {
         if (!v.empty() && !v.starts_with("https://") && !v.starts_with("http://")) {
           why = "must be an http(s) URL";
           return false;
         }
         c.oauth_authorization_endpoint = v;
         return true;
       }},
      {{"ratelimit_policies", "",
        "Named rate-limit policies for `POST /v1/ratelimit/check`: comma-separated "
        "`name:algorithm:limit/window_seconds[:burst=N][:shadow][:fail_open]` (algorithm fixed_window, sliding_window "
        "or gcra; `shadow` decides and counts but never denies; `fail_open` admits when Redis is unavailable instead "
        "of answering 503). Example: `login:sliding_window:10/60,api:gcra:100/1:burst=20:fail_open`.",
        false},
       [](Config& c, const std::string& v, std::string& why) {
         if (!ratelimit::parse_policies(v, why)) return false;
         c.ratelimit_policies = v;
         return true;
       }},
      {{"oauth_ratelimit_policy", "",
        "Name of a `ratelimit_policies` policy applied to `/oauth2/token`, `/oauth2/introspect` and `/oauth2/revoke` "
        "per client address (429 `rate_limited` with `Retry-After` beyond it); empty: none.",
        false},
       [](Config& c, const std::string& v, std::string& why) {
         if (v.size() > 64) {
           why = "must name a policy of ratelimit_policies";
           return false;
         }
         c.oauth_ratelimit_policy = v;
         return true;
       }},
      {{"login_max_failures", "5",
        "Failed logins of an account (or of a trusted device) within `login_failure_window` that lock it.", false},
       count_setter(&Config::login_max_failures, 1, 1000)},
      {{"login_ip_max_failures", "50",
        "Failed logins from one IP, whatever the accounts, within `login_failure_window` that block the IP for that "
        "window.",
        false},
       count_setter(&Config::login_ip_max_failures, 1, 100000)},
      {{"login_failure_window", "900", "Window in which failed logins are counted (s).", false},
       duration_setter(&Config::login_failure_window, 1, 86400)},
      {{"login_lockout_base", "60",
        "First lockout of an account (s); each further lockout doubles it, up to `login_lockout_max`.", false},
       duration_setter(&Config::login_lockout_base, 1, 86400)},
      {{"login_lockout_max", "3600", "Longest lockout (s).", false},
       duration_setter(&Config::login_lockout_max, 1, 604800)},
      {{"login_attempt_timeout", "10",
        "A `logins/check` that answered allowed holds one of the account's (and the IP's) `login_max_failures` slots "
        "until its failure or success is reported, or this long (s); parallel guesses cannot outrun the lock.",
        false},
       duration_setter(&Config::login_attempt_timeout, 1, 3600)},
      {{"login_ipv6_prefix", "64",
        "IPv6 clients are counted per network of this many leading bits (an attacker owning a /64 has 2^64 addresses); "
        "IPv4-mapped IPv6 counts as IPv4.",
        false},
       count_setter(&Config::login_ipv6_prefix, 32, 128)},
      {{"login_canonical_user_id", "true",
        "Count failed logins per account name after Unicode NFKC case folding and trimming (`Bob@X`, `bob@x ` and "
        "`ｂｏｂ@ｘ` are one account); turn off only if your backend's user ids are case-sensitive and already "
        "canonical.",
        false},
       bool_setter(&Config::login_canonical_user_id)},
      {{"login_device_ttl", "2592000",
        "Lifetime of a device token (issued at each successful login; lets that device keep logging in while its "
        "account is locked for others) (s).",
        false},
       duration_setter(&Config::login_device_ttl, 60, 31536000)},
  };
  return table;
}

const Option* find_option(std::string_view name) {
  for (const auto& o : options())
    if (o.doc.name == name) return &o;
  return nullptr;
}

std::string env_name(std::string_view option) {
  std::string out = "LATCHKEY_";
  for (char c : option) out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

struct Setting {
  std::string name;
  std::string value;
  std::string source;
  bool from_file;  // value names a file holding the secret
};

}  // namespace

namespace {
// A config file's value: `"text"` or `'text'` as written inside the quotes (a `#` in them is
// kept); otherwise up to a `#` after white space (an inline comment), trimmed. nullopt for an
// unterminated quote or text after the closing one.
std::optional<std::string> file_value(std::string_view raw) {
  std::string v = trim(std::string(raw));
  if (!v.empty() && (v.front() == '"' || v.front() == '\'')) {
    auto close = v.find(v.front(), 1);
    if (close == std::string::npos) return std::nullopt;
    std::string rest = trim(v.substr(close + 1));
    if (!rest.empty() && rest.front() != '#') return std::nullopt;
    return v.substr(1, close - 1);
  }
  for (std::size_t i = 1; i < v.size(); ++i)
    if (v[i] == '#' && (v[i - 1] == ' ' || v[i - 1] == '\t')) return trim(v.substr(0, i));
  return v;
}

// Levenshtein distance, for "did you mean" (option names are short).
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}
}  // namespace

std::string nearest_option(std::string_view name) {
  std::string best;
  std::size_t best_d = std::max<std::size_t>(2, name.size() / 4) + 1;
  for (const auto& o : options()) {
    std::size_t d = edit_distance(name, o.doc.name);
    if (d < best_d) {
      best_d = d;
      best = o.doc.name;
    }
  }
  return best;
}

Config::Config() {
  // Each option's documented default through its own parser: declared once, in the table.
  // A default that is not a value ("(none; required)") leaves its field empty.
  for (const auto& o : options()) {
    std::string why;
    (void)o.set(*this, o.doc.default_value, why);
  }
}

unsigned Config::effective_threads() const noexcept {
  if (threads != 0) return threads;
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

// Every file an option names (empty: none) must be readable at start.
std::optional<ConfigError> check_readable(const ConfigInputs& in,
                                          std::initializer_list<std::pair<const char*, const std::string*>> files) {
  for (auto [name, path] : files)
    if (!path->empty() && in.read_file && !in.read_file(*path))
      return ConfigError{"option '" + std::string(name) + "': cannot read file '" + *path + "'"};
  return std::nullopt;
}

// The TLS options only mean something with a TLS URL, the client certificate needs its key,
// and every file named must be readable: each mistake stops start-up with one message.
std::optional<ConfigError> check_redis_tls(const Config& cfg, const ConfigInputs& in) {
  const redis::TlsSettings& t = cfg.redis_tls;
  const redis::TlsSettings defaults;
  bool any_set = !t.ca_file.empty() || !t.cert_file.empty() || !t.key_file.empty() || t.verify != defaults.verify ||
                 !t.server_name.empty() || t.min_version != defaults.min_version;
  if (any_set && !cfg.redis.node.tls)
    return ConfigError{
        "options 'redis_tls_*' are set but redis_url does not use TLS (rediss://, rediss+sentinel:// or "
        "rediss+cluster://)"};
  if (t.cert_file.empty() != t.key_file.empty())
    return ConfigError{"options 'redis_tls_cert_file' and 'redis_tls_key_file': give both (mutual TLS) or neither"};
  if (!cfg.redis.sentinel() && (!cfg.redis_sentinel_username.empty() || !cfg.redis_sentinel_password.empty()))
    return ConfigError{"options 'redis_sentinel_username' / 'redis_sentinel_password' need a redis+sentinel:// URL"};
  if (!cfg.redis_sentinel_username.empty() && cfg.redis_sentinel_password.empty())
    return ConfigError{"option 'redis_sentinel_username': needs redis_sentinel_password"};
  return check_readable(
      in,
      {{"redis_tls_ca_file", &t.ca_file}, {"redis_tls_cert_file", &t.cert_file}, {"redis_tls_key_file", &t.key_file}});
}

std::variant<Config, ConfigError> load_config(const ConfigInputs& in) {
  std::vector<Setting> settings;
  auto classify = [&](std::string name, std::string value, const std::string& source) -> std::optional<ConfigError> {
    std::replace(name.begin(), name.end(), '-', '_');
    bool from_file = false;
    if (!find_option(name) && name.size() > 5 && name.ends_with("_file")) {
      name.resize(name.size() - 5);
      from_file = true;
    }
    const Option* opt = find_option(name);
    if (!opt) {
      std::string near = nearest_option(name);
      return ConfigError{source + ": unknown option '" + name + "'" +
                         (near.empty() ? "" : " (did you mean '" + near + "'?)")};
    }
    if (from_file && !opt->doc.secret)
      return ConfigError{source + ": option '" + name + "' cannot be read from a file"};
    settings.push_back({name, std::move(value), source, from_file});
    return std::nullopt;
  };

  if (in.file_text) {
    std::istringstream lines(*in.file_text);
    std::string line;
    int lineno = 0;
    while (std::getline(lines, line)) {
      ++lineno;
      std::string t = trim(line);
      if (t.empty() || t.front() == '#') continue;
      auto eq = t.find('=');
      std::string where = in.file_name + ":" + std::to_string(lineno);
      if (eq == std::string::npos) return ConfigError{where + ": expected 'name = value'"};
      auto value = file_value(t.substr(eq + 1));
      if (!value)
        return ConfigError{where + ": a quoted value must end with its quote, and nothing but a comment may follow"};
      if (auto e = classify(trim(t.substr(0, eq)), *value, where)) return *e;
    }
  }
  for (const auto& [k, v] : in.environment) {
    if (!k.starts_with("LATCHKEY_")) continue;
    std::string name = k.substr(9);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (auto e = classify(name, v, "environment variable " + k)) return *e;
  }
  for (std::size_t i = 0; i < in.args.size(); ++i) {
    const std::string& a = in.args[i];
    if (!a.starts_with("--")) return ConfigError{"unexpected argument '" + a + "'"};
    std::string name = a.substr(2), value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else {
      if (i + 1 >= in.args.size()) return ConfigError{"flag --" + name + " needs a value"};
      value = in.args[++i];
    }
    if (name == "config") continue;  // read by the caller
    if (auto e = classify(name, value, "flag --" + name)) return *e;
  }

  Config cfg;
  for (auto& s : settings) {
    const Option* opt = find_option(s.name);
    std::string value = s.value;
    if (s.from_file) {
      auto text = in.read_file ? in.read_file(s.value) : std::nullopt;
      if (!text) return ConfigError{"option '" + s.name + "' (" + s.source + "): cannot read file '" + s.value + "'"};
      value = trim(*text);
    }
    std::string why;
    if (!opt->set(cfg, value, why)) {
      // Never echo a secret's value back.
      if (opt->doc.secret) {
        auto quote = why.find('\'');
        if (quote != std::string::npos) why = why.substr(0, quote) + "(value hidden)";
      }
      return ConfigError{"option '" + s.name + "' (" + s.source + "): " + why};
    }
  }
  if (auto e = check_redis_tls(cfg, in)) return *e;
  if (cfg.tls_cert_file.empty() != cfg.tls_key_file.empty())
    return ConfigError{"options 'tls_cert_file' and 'tls_key_file': give both (HTTPS) or neither"};
  if (!cfg.tls_client_ca_file.empty() && cfg.tls_cert_file.empty())
    return ConfigError{"option 'tls_client_ca_file': needs tls_cert_file and tls_key_file (HTTPS)"};
  if (auto e = check_readable(in, {{"tls_cert_file", &cfg.tls_cert_file},
                                   {"tls_key_file", &cfg.tls_key_file},
                                   {"tls_client_ca_file", &cfg.tls_client_ca_file}}))
    return *e;
  if (cfg.console_listen) {
    const auto& h = cfg.console_listen->host;
    const bool loopback = h == "localhost" || h == "::1" || h.starts_with("127.");
    if (!loopback && cfg.tls_cert_file.empty())
      return ConfigError{"option 'console_listen': a console on '" + h +
                         "' (not loopback) needs HTTPS (tls_cert_file and tls_key_file): its cookie is an admin "
                         "session"};
    for (const auto* other : {&cfg.admin_listen, &cfg.metrics_listen})
      if (*other && **other == *cfg.console_listen && cfg.console_listen->port != 0)
        return ConfigError{"option 'console_listen': must be a listener of its own, not another option's"};
    if (!cfg.admin_listen && h == cfg.listen_host && cfg.console_listen->port == cfg.listen_port &&
        cfg.listen_port != 0)
      return ConfigError{"option 'console_listen': must be a listener of its own, not listen's"};
  }
  if (cfg.console_idle_ttl > cfg.console_absolute_ttl)
    return ConfigError{"option 'console_idle_ttl': must not exceed console_absolute_ttl"};
  if (cfg.console_idle_ttl > cfg.session_max_idle_ttl || cfg.console_absolute_ttl > cfg.session_max_absolute_ttl)
    return ConfigError{
        "options 'console_idle_ttl' and 'console_absolute_ttl': a console session is a session, within "
        "session_max_idle_ttl and session_max_absolute_ttl"};
  if (cfg.redis_reconnect_min > cfg.redis_reconnect_max)
    return ConfigError{"option 'redis_reconnect_min_ms': must not exceed redis_reconnect_max_ms"};
  if (cfg.session_idle_ttl > cfg.session_max_idle_ttl)
    return ConfigError{"option 'session_idle_ttl': must not exceed session_max_idle_ttl"};
  if (cfg.session_absolute_ttl > cfg.session_max_absolute_ttl)
    return ConfigError{"option 'session_absolute_ttl': must not exceed session_max_absolute_ttl"};
  if (cfg.session_cookie_name.starts_with("__Host-") && !cfg.session_cookie_secure)
    return ConfigError{
        "option 'session_cookie_secure': a __Host- cookie must be Secure (rename the cookie or keep Secure)"};
  if (cfg.session_cookie_samesite == "None" && !cfg.session_cookie_secure)
    return ConfigError{"option 'session_cookie_samesite': SameSite=None requires session_cookie_secure=true"};
  if (!cfg.oauth_ratelimit_policy.empty()) {
    std::string why;
    auto policies = ratelimit::parse_policies(cfg.ratelimit_policies, why);
    bool found = false;
    for (const auto& p : policies.value_or(std::vector<ratelimit::Policy>{}))
      found = found || p.name == cfg.oauth_ratelimit_policy;
    if (!found)
      return ConfigError{"option 'oauth_ratelimit_policy': '" + cfg.oauth_ratelimit_policy +
                         "' is not a policy of ratelimit_policies"};
  }
  if (cfg.admin_api_keys.empty())
    return ConfigError{
        "option 'admin_api_keys': at least one admin API key is required (LATCHKEY_ADMIN_API_KEYS, "
        "or admin_api_keys_file pointing at a file of comma-separated keys)"};
  return cfg;
}

std::variant<Config, ConfigError> load_config_from_process(const std::vector<std::string>& args, char** envp) {
  ConfigInputs in;
  in.args = args;
  in.read_file = [](const std::string& path) -> std::optional<std::string> {
    std::ifstream f(path, std::ios::binary);
    if (!f) return std::nullopt;
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  for (char** e = envp; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    in.environment.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  std::optional<std::string> config_path;
  if (auto it = in.environment.find("LATCHKEY_CONFIG"); it != in.environment.end()) {
    config_path = it->second;
    in.environment.erase(it);
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size())
      config_path = args[i + 1];
    else if (args[i].starts_with("--config="))
      config_path = args[i].substr(9);
  }
  if (config_path) {
    in.file_text = in.read_file(*config_path);
    if (!in.file_text) return ConfigError{"cannot read config file '" + *config_path + "'"};
    in.file_name = *config_path;
  }
  return load_config(in);
}

const std::vector<OptionDoc>& option_docs() {
  static const std::vector<OptionDoc> docs = [] {
    std::vector<OptionDoc> d;
    for (const auto& o : options()) d.push_back(o.doc);
    return d;
  }();
  return docs;
}

std::string configuration_markdown() {
  std::string out =
      "# Configuration\n\n"
      "<!-- Generated by `latchkey config --markdown` from src/engine/config.cpp; a test keeps it in step. -->\n\n"
      "Every option can be set, from lowest to highest precedence, by its default, the config file given with\n"
      "`--config FILE` (or `LATCHKEY_CONFIG`; lines of `name = value`; a `#` at the start of a line or after\n"
      "white space starts a comment; a value in `\"...\"` or `'...'` is taken as written inside the quotes), an\n"
      "environment variable `LATCHKEY_<NAME>`, and a flag `--name=value`. The `LATCHKEY_` prefix is reserved:\n"
      "a variable with it that names no option stops start-up (with the nearest option's name, for a typo).\n"
      "Options marked secret can instead be read from a\n"
      "file: `name_file = PATH`, `LATCHKEY_<NAME>_FILE=PATH` or `--name-file=PATH` (surrounding whitespace is\n"
      "trimmed). An invalid value stops start-up with one message naming the option; a secret's value is never\n"
      "echoed.\n\n"
      "| option | environment | default | accepts | secret | meaning |\n"
      "|---|---|---|---|---|---|\n";
  for (const auto& o : options()) {
    std::string shown = o.doc.default_value.empty() ? "(empty)" : "`" + o.doc.default_value + "`";
    out += "| `" + o.doc.name + "` | `" + env_name(o.doc.name) + "` | " + shown + " | " +
           (o.set.range.empty() ? "" : o.set.range) + " | " + (o.doc.secret ? "yes" : "no") + " | " +
           o.doc.description + " |\n";
  }
  return out;
}

std::string configuration_sample() {
  std::string out =
      "# latchkey configuration file: every option at its default, commented out.\n"
      "# Generated by `latchkey config --sample` from src/engine/config.cpp (docs/configuration.md\n"
      "# has the same table). Give the file with --config FILE or LATCHKEY_CONFIG=FILE; lines are\n"
      "# `name = value`; `#` at the start or after white space starts a comment; \"quoted\" values are\n"
      "# taken as written inside the quotes. Environment variables LATCHKEY_<NAME>\n"
      "# and flags --name=value override the file. Options marked secret are better read from a\n"
      "# file of their own: `name_file = PATH` (mode 0600).\n";
  for (const auto& o : options()) {
    out += "\n# " + o.doc.description + (o.set.range.empty() ? "" : " (" + o.set.range + ")") +
           (o.doc.secret ? " (secret)" : "") + "\n";
    if (o.doc.secret)
      out += "#" + o.doc.name + "_file = /etc/latchkey/" + o.doc.name + "\n";
    else
      out += "#" + o.doc.name + " = " + o.doc.default_value + "\n";
  }
  return out;
}

}  // namespace latchkey
