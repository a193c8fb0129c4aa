// The engine services one server instance uses, built once at start from the configuration
// and the key rings, shared read-only by every shard.
#pragma once

#include "latchkey/config.hpp"
#include "latchkey/logins.hpp"
#include "latchkey/oauth.hpp"
#include "latchkey/ratelimit.hpp"
#include "latchkey/secrets.hpp"
#include "latchkey/sessions.hpp"
#include "latchkey/tokens.hpp"

namespace latchkey::server {

struct Services {
  Services(const Config& config, const Secrets& secrets)
      : sessions(sessions::Settings::from(config), secrets.encryption),
        tokens(tokens::Settings::from(config), secrets.signing, secrets.encryption),
        oauth(oauth::Settings::from(config), secrets.encryption, tokens),
        ratelimit(ratelimit::Settings::from(config, Identifiers(secrets.identifier_key))),
        logins(logins::Settings::from(config, Identifiers(secrets.identifier_key))),
        identifiers(secrets.identifier_key) {}
  sessions::Service sessions;
  tokens::Service tokens;
  oauth::Service oauth;
  ratelimit::Service ratelimit;
  logins::Service logins;
  // Keyed digests with the identifier key: what proves a console session was made by the
  // console's login, not by an API caller choosing its user id and data (src/server/console/).
  Identifiers identifiers;
};

}  // namespace latchkey::server
