// The engine services one server instance uses, built once at start from the configuration
// and the key rings, shared read-only by every shard.
#pragma once

#include "latchkey/config.hpp"
#include "latchkey/guard.hpp"
#include "latchkey/oauth.hpp"
#include "latchkey/secrets.hpp"
#include "latchkey/sessions.hpp"
#include "latchkey/tokens.hpp"
#include "latchkey/clock.hpp"

namespace latchkey::server {

// The configured rate-limit policies (the option was validated when the config loaded).
inline std::vector<guard::Policy> policies_of(const Config& c) {
  std::string why;
  return guard::parse_policies(c.ratelimit_policies, why).value_or(std::vector<guard::Policy>{});
}

inline guard::LoginSettings login_settings_of(const Config& c, const Secrets& secrets) {
  guard::LoginSettings s;
  s.ids = guard::Identifiers(secrets.identifier_key);
  s.ipv6_prefix = static_cast<int>(c.login_ipv6_prefix);
  s.canonical_user_id = c.login_canonical_user_id;
  s.key_prefix = c.key_prefix;
  s.max_failures = c.login_max_failures;
  s.ip_max_failures = c.login_ip_max_failures;
  s.window_ms = c.login_failure_window * 1000;
  s.lock_base_ms = c.login_lockout_base * 1000;
  s.lock_max_ms = std::max(c.login_lockout_max, c.login_lockout_base) * 1000;
  s.device_ttl_ms = c.login_device_ttl * 1000;
  s.attempt_hold_ms = c.login_attempt_timeout * 1000;
  return s;
}

struct Services {
  Services(const Config& config, const Secrets& secrets)
      : sessions(sessions::Settings::from(config), secrets.encryption),
        tokens(tokens::Settings::from(config), secrets.signing, secrets.encryption),
        oauth(oauth::Settings::from(config), secrets.encryption, tokens),
        ratelimit(config.key_prefix, policies_of(config), guard::Identifiers(secrets.identifier_key)),
        logins(login_settings_of(config, secrets)) {}
  sessions::Service sessions;
  tokens::Service tokens;
  oauth::Service oauth;
  guard::RateLimiter ratelimit;
  guard::Logins logins;
};

}  // namespace latchkey::server
