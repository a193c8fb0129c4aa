// The handshake of a new data-node connection, as pure logic: the one pipelined request sent
// before any caller's command (AUTH, SELECT, ROLE under Sentinel, the eviction-policy check,
// SCRIPT LOAD of every script), and the verdict on its replies. No sockets: unit-tested with
// reply values (tests/engine/redis/handshake_test.cpp).
#pragma once

#include "latchkey/redis/reply.hpp"
#include "latchkey/redis/request.hpp"
#include "latchkey/redis/scripts.hpp"
#include "latchkey/redis/url.hpp"

#include <string>
#include <vector>

namespace latchkey::redis {

struct HandshakePlan {
  const Endpoint* node = nullptr;      // credentials and db
  const ScriptSet* scripts = nullptr;  // may be null: nothing to load
  bool expect_master = false;          // Sentinel: the node must say ROLE master
  bool allow_eviction = false;
};

struct HandshakeVerdict {
  enum class Outcome {
    ready,
    credentials,  // AUTH refused, or a password is needed and none was given (configuration)
    eviction,     // the server evicts keys and redis_allow_eviction is off (configuration)
    not_master,   // Sentinel named a node that is not (or no longer) the master: ask again
    failed,       // anything else (LOADING, a refused SELECT, a script that does not load, ...)
  };
  Outcome outcome = Outcome::failed;
  std::string message;                // why it is not ready (empty when ready); no credentials
  std::vector<std::string> warnings;  // logged, not fatal (an unreadable eviction policy, ...)
  std::string eviction_policy;        // the server's maxmemory-policy, when it said
};

// The commands, in order; check_handshake() reads their replies in the same order.
Request handshake_request(const HandshakePlan& plan);
HandshakeVerdict check_handshake(const HandshakePlan& plan, const Replies& replies);

}  // namespace latchkey::redis
