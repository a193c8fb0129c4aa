// What the OAuth scripts answer, decoded without I/O: oauth_code_redeem (lua/oauth_code_redeem.lua
// has the contract), unit-tested with reply values (tests/engine/oauth/replies_test.cpp). A
// reply of the wrong shape is `internal` (and logged), never a grant.
#pragma once

#include "latchkey/error.hpp"
#include "latchkey/redis/reply.hpp"

#include <string>

namespace latchkey::oauth::replies {

// {'ok', scope, sealed user id, user hash, sealed OpenID login or ''} | {'mismatch', 'client'|'redirect_uri'|'pkce'}
// | {'replay', family id, user hash} | {'invalid'} (unknown or expired).
struct Redeemed {
  enum class outcome {
    ok,
    mismatch_client,
    mismatch_redirect_uri,
    mismatch_pkce,
    replay,
    invalid
  } result = outcome::invalid;
  std::string scope;         // ok
  std::string sealed_user;   // ok
  std::string sealed_login;  // ok: the OpenID Connect login (empty when none was given)
  std::string family_id;     // replay: the family the first redemption created
  std::string user_hash;     // ok, replay
};
[[nodiscard]] result<Redeemed> code_redeem(redis::Reply r);

}  // namespace latchkey::oauth::replies
