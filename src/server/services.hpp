// The engine services one server instance uses, built once at start from the configuration
// and the key rings, shared read-only by every shard.
#pragma once

#include "latchkey/config.hpp"
#include "latchkey/secrets.hpp"
#include "latchkey/sessions.hpp"

namespace latchkey::server {

struct Services {
  Services(const Config& config, const Secrets& secrets)
      : sessions(sessions::Settings::from(config), secrets.encryption) {}
  sessions::Service sessions;
};

}  // namespace latchkey::server
