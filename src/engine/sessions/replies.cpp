// Decoders of the session scripts' replies (contracts: the headers of lua/session_*.lua).
#include "engine/sessions/replies.hpp"

#include <charconv>
#include <iterator>

namespace latchkey::sessions::replies {

using redis::integer_of;
using redis::unexpected_reply;

namespace {
// A stored decimal, strictly (integer_of reads junk as 0; a fast path must not).
std::optional<std::int64_t> number(const redis::Reply& r) {
  if (r.type != redis::Reply::kind::string || r.str.empty()) return std::nullopt;
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(r.str.data(), r.str.data() + r.str.size(), v);
  if (ec != std::errc() || end != r.str.data() + r.str.size()) return std::nullopt;
  return v;
}

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

std::optional<Stored> pipelined_validate(redis::Replies& r, const std::string& session_id, std::int64_t idle_ttl,
                                         std::int64_t touch_interval) {
  constexpr std::size_t kFields = std::size(kValidateFields);
  if (r.size() != 3 || !r[0].is_array() || r[0].elements.size() != 2 || !r[1].is_array() ||
      r[1].elements.size() != kFields || !r[2].is_integer() || r[2].integer != 1)
    return std::nullopt;  // an error, a missing key (EXPIRE 0) or a foreign shape: the script decides
  auto now = number(r[0].elements[0]);
  auto& f = r[1].elements;
  if (f[0].is_nil() || !f[9].is_nil()) return std::nullopt;  // gone, or left by a rotation
  auto ct = number(f[1]), ls = number(f[2]), it = number(f[3]), ae = number(f[4]), v = number(f[5]);
  if (!now || !ct || !ls || !it || !ae || !v || *it != idle_ttl) return std::nullopt;
  if (*now >= *ae || *now > *ls + *it + touch_interval) return std::nullopt;  // expired: the script removes it
  if (*now + *it > *ae) return std::nullopt;                                  // the slide must stop at ae
  if (*now - *ls >= touch_interval) return std::nullopt;                      // last_seen_at is due
  Stored s;
  s.session_id = session_id;
  s.user_id = std::move(f[0].str);
  s.times = {*ct, *ls, *now + *it, *ae, *v};
  s.sealed_data = std::move(f[6].str);
  s.sealed_meta = std::move(f[7].str);
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
