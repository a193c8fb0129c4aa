// Configuration: one table of options, each settable (lowest precedence first) by its
// default, the config file (`name = value` lines, `#` comments), an environment variable
// LATCHKEY_<NAME>, and a command-line flag --name=value (or --name value). Secret options
// can instead be read from a file: <name>_file / LATCHKEY_<NAME>_FILE / --<name>-file.
// Loading is pure (file text, environment and arguments are inputs), so it is unit-tested;
// the first invalid option stops loading with one message naming it.
#pragma once

#include "latchkey/log.hpp"

#include "latchkey/error.hpp"
#include "latchkey/redis/url.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <variant>
#include <string>
#include <vector>

namespace latchkey {

// A listener's address (`host:port`; port 0 picks a free port).
struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
  bool operator==(const ListenAddress&) const = default;
};

// Every field an option sets gets its default from the option table (src/engine/config.cpp),
// the one place an option is declared: name, default, accepted range, documentation line.
// Config() applies those defaults; the generated reference and the sample file show them.
struct Config {
  Config();

  std::string listen_host{};
  std::uint16_t listen_port{};
  // The admin API (/v1/...) and /metrics on listeners of their own; unset: served on `listen`.
  std::optional<ListenAddress> admin_listen;
  std::optional<ListenAddress> metrics_listen;
  // The browser console (/console/) on a listener of its own; unset: no console.
  std::optional<ListenAddress> console_listen;
  std::chrono::seconds console_idle_ttl{}, console_absolute_ttl{};
  // HTTPS on every listener when both are set; mutual TLS with tls_client_ca_file.
  std::string tls_cert_file{}, tls_key_file{}, tls_client_ca_file{};
  unsigned threads{};            // 0: one per core
  redis::Target redis;           // redis_url, parsed (redis://127.0.0.1:6379/0 by default)
  redis::TlsSettings redis_tls;  // redis_tls_*: used by rediss:// and rediss+sentinel:// URLs
  bool redis_sentinel_tls{};     // rediss+sentinel://: TLS to the sentinels too
  std::string redis_sentinel_username{};
  std::string redis_sentinel_password{};
  std::chrono::milliseconds redis_timeout{};
  std::chrono::milliseconds redis_connect_timeout{};
  std::chrono::milliseconds redis_reconnect_min{};
  std::chrono::milliseconds redis_reconnect_max{};
  bool redis_allow_eviction{};
  unsigned redis_wait_replicas{};  // WAIT for this many replicas after revocation writes
  std::chrono::milliseconds redis_wait_timeout{};
  std::chrono::milliseconds redis_cluster_retry_budget{};  // redis+cluster://: TRYAGAIN etc. retried this long
  unsigned redis_cluster_max_redirects{};
  std::chrono::milliseconds redis_cluster_refresh_interval{};
  std::string key_prefix{};
  std::vector<std::string> admin_api_keys;        // full access
  std::vector<std::string> admin_read_only_keys;  // `read:<key>` entries: GET routes and token verification only
  std::string secrets_dir{};
  bool secrets_allow_insecure_mode{};
  std::size_t max_body_bytes{};
  std::size_t max_header_bytes{};
  std::chrono::milliseconds read_timeout{};
  std::chrono::milliseconds idle_timeout{};
  std::chrono::milliseconds first_byte_timeout{};
  std::string trusted_proxies;  // validated CIDR list (server/client_address.hpp parses it)
  std::size_t max_connections{};
  std::size_t max_connections_per_client{};
  std::chrono::milliseconds shutdown_grace{};
  log::Level log_level{};
  bool access_log{};
  unsigned retry_after_seconds{};
  // Security events (src/server/events.cpp).
  bool events{};
  std::size_t events_max_length{};
  std::chrono::seconds events_retention{};
  bool events_stdout{};

  // Sessions (seconds unless noted).
  std::chrono::seconds session_idle_ttl{};
  std::chrono::seconds session_absolute_ttl{};
  std::chrono::seconds session_max_idle_ttl{};
  std::chrono::seconds session_max_absolute_ttl{};
  std::int64_t session_limit{};
  std::string session_limit_policy{};
  std::chrono::seconds session_touch_interval{};
  std::chrono::seconds session_rotate_overlap{};
  std::size_t session_max_data_bytes{};
  std::string session_cookie_name{};
  std::string session_cookie_samesite{};
  bool session_cookie_secure{};

  // Tokens (seconds unless noted).
  std::string token_issuer{};
  std::chrono::seconds token_access_ttl{};
  std::chrono::seconds token_leeway{};
  std::string token_algorithms{};
  std::chrono::seconds token_refresh_idle_ttl{};
  std::chrono::seconds token_refresh_absolute_ttl{};
  std::chrono::seconds token_refresh_grace{};
  std::size_t token_max_bytes{};
  std::size_t token_max_claims_bytes{};
  std::int64_t token_max_families_per_user{};

  // OAuth 2.0.
  std::chrono::seconds oauth_code_ttl{};
  std::chrono::seconds oauth_client_cache_ttl{};  // 0: every authentication reads Redis
  bool oauth_require_pkce{};
  bool oauth_dpop_nonce{};
  std::string oauth_backchannel_logout_ca_file{};
  std::chrono::seconds oauth_dpop_proof_max_age{};
  std::string oauth_access_token_format{};   // opaque | jwt
  std::string oauth_access_token_audience;   // `aud` of OAuth JWT access tokens
  std::string oauth_authorization_endpoint;  // the backend's authorization page (metadata only)

  // Rate limits: the `ratelimit_policies` text, validated (parsed again by the guard).
  std::string ratelimit_policies;
  std::string oauth_ratelimit_policy;  // a policy applied per client address at /oauth2/*
  // Failed logins and lockout (seconds unless noted).
  std::int64_t login_max_failures{};
  std::int64_t login_ip_max_failures{};
  std::chrono::seconds login_failure_window{};
  std::chrono::seconds login_lockout_base{};
  std::chrono::seconds login_lockout_max{};
  std::chrono::seconds login_device_ttl{};
  std::chrono::seconds login_attempt_timeout{};
  std::int64_t login_ipv6_prefix{};
  bool login_canonical_user_id{};

  unsigned effective_threads() const noexcept;
};

struct ConfigInputs {
  std::optional<std::string> file_text;            // contents of --config FILE
  std::string file_name;                           // for messages
  std::map<std::string, std::string> environment;  // LATCHKEY_* variables
  std::vector<std::string> args;                   // flags after the subcommand
  // Reads a secret file; replaceable in tests.
  std::function<std::optional<std::string>(const std::string& path)> read_file;
};

struct ConfigError {
  std::string message;  // names the option and the source
};

// Returns the config or the first error. `args` may hold --config FILE; the caller reads it
// (see load_config_from_process) so this stays pure.
[[nodiscard]] std::variant<Config, ConfigError> load_config(const ConfigInputs& in);

// The process's environment and arguments, with --config FILE read from disk.
[[nodiscard]] std::variant<Config, ConfigError> load_config_from_process(const std::vector<std::string>& args,
                                                                         char** envp);

struct OptionDoc {
  std::string name;
  std::string default_value;
  std::string description;
  bool secret;
};
const std::vector<OptionDoc>& option_docs();
// docs/configuration.md, generated from the option table (a test keeps the file in step).
std::string configuration_markdown();
// The option whose name is nearest `name` (a typo), or "" when none is near.
std::string nearest_option(std::string_view name);
// docs/latchkey.conf.sample: a commented config file with every option at its default.
std::string configuration_sample();

}  // namespace latchkey
