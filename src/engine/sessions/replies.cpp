// Decoders of the session scripts' replies (contracts: the headers of lua/session_*.lua).
#include "engine/sessions/replies.hpp"

namespace latchkey::sessions::replies {

using redis::integer_of;
using redis::unexpected_reply;

namespace {
// An error reply (OOM, READONLY, a script error) is the store failing, not a verdict.
bool failed(const redis::Reply& r) { return r.is_error(); }

const std::string& status_of(const redis::Reply& r) {
  static const std::string none;
  return r.is_array() && !r.elements.empty() ? r.elements[0].str : none;
}
}  // namespace

result<Created> create(redis::Reply r) {
  if (failed(r)) return make_error_code(errc::redis_error);
  const std::string& status = status_of(r);
  if (status == "limit") return make_error_code(errc::session_limit_reached);
  if (status != "ok" || r.elements.size() < 4) return unexpected_reply("session_create");
  auto& e = r.elements;
  Created c;
  c.times.created_at = c.times.last_seen_at = integer_of(e[1]);
  c.times.idle_expires_at = integer_of(e[2]);
  c.times.expires_at = integer_of(e[3]);
  c.times.version = 1;
  for (std::size_t i = 4; i < e.size(); ++i) c.evicted.push_back(std::move(e[i].str));
  return c;
}

result<Stored> validate(redis::Reply r) {
  if (failed(r)) return make_error_code(errc::redis_error);
  if (r.is_nil()) return make_error_code(errc::invalid_session);
  if (!r.is_array() || r.elements.size() != 9) return unexpected_reply("session_validate");
  auto& e = r.elements;
  Stored s;
  s.session_id = std::move(e[0].str);
  s.user_id = std::move(e[1].str);
  s.times = {integer_of(e[2]), integer_of(e[3]), integer_of(e[4]), integer_of(e[5]), integer_of(e[6])};
  s.sealed_data = std::move(e[7].str);
  s.sealed_meta = std::move(e[8].str);
  return s;
}

result<Updated> update(redis::Reply r) {
  if (failed(r)) return make_error_code(errc::redis_error);
  const std::string& status = status_of(r);
  if (status == "gone" || status == "rotated") return make_error_code(errc::invalid_session);
  if (status == "conflict") return make_error_code(errc::version_conflict);
  if (status != "ok" || r.elements.size() != 8) return unexpected_reply("session_update");
  auto& e = r.elements;
  Updated u;
  u.times = {integer_of(e[1]), integer_of(e[2]), integer_of(e[3]), integer_of(e[4]), integer_of(e[5])};
  u.user_id = std::move(e[6].str);
  u.sealed_meta = std::move(e[7].str);
  return u;
}

result<std::optional<Times>> rotate(redis::Reply r) {
  if (failed(r)) return make_error_code(errc::redis_error);
  const std::string& status = status_of(r);
  if (status == "gone" || status == "rotated") return make_error_code(errc::invalid_session);
  if (status == "conflict") return std::optional<Times>();
  if (status != "ok" || r.elements.size() != 7) return unexpected_reply("session_rotate");
  auto& e = r.elements;
  return std::optional<Times>(
      Times{integer_of(e[1]), integer_of(e[2]), integer_of(e[3]), integer_of(e[4]), integer_of(e[5])});
}

result<std::int64_t> destroy(const redis::Reply& r) {
  if (failed(r)) return make_error_code(errc::redis_error);
  if (!r.is_integer()) return unexpected_reply("session_destroy");
  return r.integer;
}

result<std::vector<Listed>> list(redis::Reply r) {
  if (failed(r)) return make_error_code(errc::redis_error);
  if (!r.is_array() || r.elements.size() % 6 != 0) return unexpected_reply("session_list");
  auto& e = r.elements;
  std::vector<Listed> out;
  out.reserve(e.size() / 6);
  for (std::size_t i = 0; i + 6 <= e.size(); i += 6) {
    Listed l;
    l.session_id = std::move(e[i].str);
    l.times = {integer_of(e[i + 1]), integer_of(e[i + 2]), integer_of(e[i + 3]), integer_of(e[i + 4]), 0};
    l.sealed_meta = std::move(e[i + 5].str);
    out.push_back(std::move(l));
  }
  return out;
}

result<std::int64_t> destroy_user(const redis::Reply& r) {
  if (failed(r)) return make_error_code(errc::redis_error);
  if (!r.is_integer()) return unexpected_reply("session_destroy_user");
  return r.integer;
}

}  // namespace latchkey::sessions::replies
