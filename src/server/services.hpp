// The engine services one server instance uses, built once at start from the configuration
// and the key rings, shared read-only by every shard.
#pragma once

#include "latchkey/config.hpp"
#include "latchkey/guard.hpp"
#include "latchkey/oauth.hpp"
#include "latchkey/secrets.hpp"
#include "latchkey/sessions.hpp"
#include "latchkey/tokens.hpp"

namespace latchkey::server {

// The configured rate-limit policies (the option was validated when the config loaded).
inline std::vector<guard::Policy> policies_of(const Config& c) {
  std::string why;
  return guard::parse_policies(c.ratelimit_policies, why).value_or(std::vector<guard::Policy>{});
}

struct Services {
  Services(const Config& config, const Secrets& secrets)
      : sessions(sessions::Settings::from(config), secrets.encryption),
        tokens(tokens::Settings::from(config), secrets.signing, secrets.encryption),
        oauth(oauth::Settings::from(config), secrets.encryption, tokens),
        ratelimit(config.key_prefix, policies_of(config)) {}
  sessions::Service sessions;
  tokens::Service tokens;
  oauth::Service oauth;
  guard::RateLimiter ratelimit;
};

}  // namespace latchkey::server
