// What each token script answers, decoded without I/O: one function per script of
// lua/token_*.lua, beside the contract in that script's header, unit-tested with reply values
// (tests/engine/tokens/replies_test.cpp). Each gives the decoded value or the engine error the
// reply means; a reply of the wrong shape is `internal` (and logged), never a grant.
#pragma once

#include "latchkey/error.hpp"
#include "latchkey/redis/reply.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace latchkey::tokens::replies {

// token_issue: {now, epoch}: Redis's clock and the user's revocation epoch (0 when none).
struct IssueClock {
  std::int64_t now = 0;
  std::int64_t epoch = 0;
};
[[nodiscard]] result<IssueClock> issue(const redis::Reply& r);

// token_refresh: {'rotated'} | {'grace', sealed pair} | {'reuse'} | {'invalid'}.
struct Refreshed {
  enum class outcome { rotated, grace, reuse, invalid } result = outcome::invalid;
  std::string sealed_pair;  // with grace: the pair answered the first time, sealed
};
[[nodiscard]] result<Refreshed> refresh(redis::Reply r);

// token_revoke_family: 1 when a live family was revoked, else 0.
[[nodiscard]] result<bool> revoke_family(const redis::Reply& r);

// token_revoke_user: the number of live families deleted.
[[nodiscard]] result<std::int64_t> revoke_user(const redis::Reply& r);

// token_introspect: {} (inactive) | {client_id, scope, audience, sealed user id (empty for a
// client's own token), iat, exp, family id, DPoP thumbprint ('' when unbound)}.
struct StoredAccess {
  std::string client_id;
  std::string scope;
  std::string audience;
  std::string sealed_user;
  std::int64_t iat = 0;
  std::int64_t exp = 0;
  std::string family_id;
  std::string jkt;
};
[[nodiscard]] result<std::optional<StoredAccess>> introspect(redis::Reply r);

}  // namespace latchkey::tokens::replies
