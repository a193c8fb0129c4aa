// Sessions: the Service, calling lua/session_*.lua (the pure helpers are in token.cpp).
#include "latchkey/identity.hpp"
#include "latchkey/sessions.hpp"
#include "latchkey/redis/reply.hpp"
#include "latchkey/key_schema.hpp"

#include "latchkey/config.hpp"
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/log.hpp"
#include "latchkey/metrics.hpp"
#include "latchkey/redis/connection.hpp"
#include "latchkey/redis/slot.hpp"
#include "engine/sessions/replies.hpp"

#include <charconv>

namespace latchkey::sessions {

using boost::asio::awaitable;
using redis::Reply;

namespace {

void set_times(View& v, const replies::Times& t) {
  v.created_at = t.created_at;
  v.last_seen_at = t.last_seen_at;
  v.idle_expires_at = t.idle_expires_at;
  v.expires_at = t.expires_at;
  v.version = t.version;
}

}  // namespace

Settings Settings::from(const Config& c) {
  Settings s;
  s.key_prefix = c.key_prefix;
  s.idle_ttl = c.session_idle_ttl.count();
  s.absolute_ttl = c.session_absolute_ttl.count();
  s.max_idle_ttl = c.session_max_idle_ttl.count();
  s.max_absolute_ttl = c.session_max_absolute_ttl.count();
  s.limit = c.session_limit;
  s.reject_new = c.session_limit_policy == "reject_new";
  s.touch_interval = c.session_touch_interval.count();
  s.rotate_overlap = c.session_rotate_overlap.count();
  return s;
}

std::string Service::seal_data(std::string_view data_json, const std::string& key) const {
  return ring_.encrypt(data_json, key + "|d");
}

// An empty device and ip (the common case) are stored as an empty field rather than a
// ciphertext of nothing: ~60 bytes less per session, and nothing secret to protect.
std::string Service::seal_meta(std::string_view device_json, std::string_view ip, const std::string& key) const {
  if (device_json == "{}" && ip.empty()) return {};
  std::string meta(device_json);
  meta.push_back('\n');  // serialized JSON never contains a raw newline; ip is validated
  meta.append(ip);
  return ring_.encrypt(meta, key + "|m");
}

bool Service::open_meta(const std::string& sealed, const std::string& key, std::string& device_json,
                        std::string& ip) const {
  if (sealed.empty()) {
    device_json = "{}";
    ip.clear();
    return true;
  }
  auto meta = ring_.decrypt(sealed, key + "|m");
  if (!meta) return false;
  auto nl = meta->rfind('\n');
  if (nl == std::string::npos) return false;
  device_json = meta->substr(0, nl);
  ip = meta->substr(nl + 1);
  return true;
}

awaitable<result<Issued>> Service::create(redis::Connection& redis, NewSession req) const {
  std::int64_t idle = req.idle_ttl.value_or(s_.idle_ttl);
  std::int64_t absolute = req.absolute_ttl.value_or(s_.absolute_ttl);
  if (idle < 1 || idle > s_.max_idle_ttl || absolute < 1 || absolute > s_.max_absolute_ttl)
    co_return make_error_code(errc::invalid_request);
  idle = std::min(idle, absolute);

  std::string uh = user_hash(req.user_id);
  std::uint16_t slot = redis::key_slot(uh);
  key_schema::UserSlot names(s_.key_prefix, slot);
  Issued out;
  out.token = new_token(slot, idle);
  std::string sid = session_id_of(out.token);
  std::string key = names.session(sid);
  std::vector<std::string> keys{key, names.session_index(uh), names.migration_guard()};
  std::vector<std::string> args{sid,
                                req.user_id,
                                uh,
                                std::to_string(idle),
                                std::to_string(absolute),
                                std::to_string(s_.limit),
                                s_.reject_new ? "reject_new" : "evict_oldest",
                                seal_data(req.data_json, key),
                                seal_meta(req.device_json, req.ip, key),
                                names.session_prefix()};
  auto r = co_await redis.eval("session_create", std::move(keys), std::move(args));
  if (!r) co_return r.error();
  auto c = replies::create(std::move(*r));
  if (!c) co_return c.error();
  View& v = out.view;
  v.session_id = sid;
  v.user_id = std::move(req.user_id);
  v.data_json = std::move(req.data_json);
  v.device_json = std::move(req.device_json);
  v.ip = std::move(req.ip);
  set_times(v, c->times);
  out.evicted = std::move(c->evicted);
  if (!out.evicted.empty()) count(SecurityEvent::session_evicted, out.evicted.size());
  co_return out;
}

// A token that carries its idle timeout is validated by three plain commands in one round trip
// (replies::pipelined_validate says when that answer stands); the script runs only when it
// must decide: a miss, a forwarding key, an expired session, the absolute cap, a due
// last_seen_at. The script costs Redis several times what the three commands cost (issue 17:
// 7.5 us against ~1.5 us per call in INFO commandstats on the benchmark's sessions).
awaitable<result<View>> Service::read(redis::Connection& redis, const ParsedToken& t, bool touch) const {
  key_schema::UserSlot names(s_.key_prefix, t.slot);
  std::optional<replies::Stored> stored;
  if (touch && t.idle_ttl > 0) {
    const std::string key = names.session(t.session_id);
    const std::string idle = std::to_string(t.idle_ttl);
    redis::Request req;
    req.push({"TIME"});
    req.begin(2 + std::size(replies::kValidateFields)).arg("HMGET").key(key);
    for (const char* field : replies::kValidateFields) req.arg(field);
    req.begin(3).arg("EXPIRE").key(key).arg(idle);
    auto r = co_await redis.exec(std::move(req), "session_validate");
    if (!r) co_return r.error();
    stored = replies::pipelined_validate(*r, t.session_id, t.idle_ttl, s_.touch_interval);
  }
  if (!stored) {
    std::vector<std::string> keys{names.session(t.session_id), names.migration_guard()};
    std::vector<std::string> args{t.session_id, touch ? "1" : "0", std::to_string(s_.touch_interval),
                                  names.session_prefix(), names.session_index_prefix()};
    auto r = co_await redis.eval("session_validate", std::move(keys), std::move(args));
    if (!r) co_return r.error();
    auto s = replies::validate(std::move(*r));
    if (!s) co_return s.error();
    stored = std::move(*s);
  }
  View v;
  v.session_id = std::move(stored->session_id);
  v.user_id = std::move(stored->user_id);
  set_times(v, stored->times);
  std::string key = names.session(v.session_id);
  auto data = ring_.decrypt(stored->sealed_data, key + "|d");
  if (!data || !open_meta(stored->sealed_meta, key, v.device_json, v.ip)) {
    // Unreadable at rest (a key removed from the ring, or a tampered value): not a session.
    log::event(log::Level::warn, "session " + v.session_id.substr(0, 12) + "... could not be decrypted");
    co_return make_error_code(errc::invalid_session);
  }
  v.data_json = std::move(*data);
  co_return v;
}

awaitable<result<View>> Service::validate(redis::Connection& redis, std::string token, bool touch) const {
  auto t = parse_token(token);
  if (!t) co_return make_error_code(errc::invalid_session);
  co_return co_await read(redis, *t, touch);
}

awaitable<result<View>> Service::update(redis::Connection& redis, std::string token, std::string data_json,
                                        std::int64_t version) const {
  auto t = parse_token(token);
  if (!t) co_return make_error_code(errc::invalid_session);
  key_schema::UserSlot names(s_.key_prefix, t->slot);
  const std::string& sid = t->session_id;
  {
    std::string key = names.session(sid);
    std::vector<std::string> keys{key, names.migration_guard()};
    std::vector<std::string> args{std::to_string(version), seal_data(data_json, key), std::to_string(s_.touch_interval),
                                  names.session_index_prefix(), sid};
    auto r = co_await redis.eval("session_update", std::move(keys), std::move(args));
    if (!r) co_return r.error();
    // A token retired by rotation only forwards reads to its successor during the overlap; it
    // never writes (its holder could otherwise change or take over the new session).
    auto u = replies::update(std::move(*r));
    if (!u) co_return u.error();
    View v;
    v.session_id = sid;
    set_times(v, u->times);
    v.user_id = std::move(u->user_id);
    v.data_json = std::move(data_json);
    if (!open_meta(u->sealed_meta, key, v.device_json, v.ip)) co_return make_error_code(errc::invalid_session);
    co_return v;
  }
  co_return make_error_code(errc::invalid_session);
}

awaitable<result<Issued>> Service::rotate(redis::Connection& redis, std::string token) const {
  auto t = parse_token(token);
  if (!t) co_return make_error_code(errc::invalid_session);
  key_schema::UserSlot names(s_.key_prefix, t->slot);
  // Read, re-encrypt for the new key, swap if unchanged meanwhile; a concurrent writer makes
  // the swap report a conflict and we read again.
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto current = co_await read(redis, *t, false);
    if (!current) co_return current.error();
    // A retired (forwarding) token is read-only: it cannot rotate its successor away.
    if (current->session_id != t->session_id) co_return make_error_code(errc::invalid_session);
    Issued out;
    out.token = new_token(t->slot, t->idle_ttl);  // the idle timeout never changes
    std::string new_sid = session_id_of(out.token);
    std::string old_key = names.session(current->session_id);
    std::string new_key = names.session(new_sid);
    std::vector<std::string> keys{old_key, new_key, names.migration_guard()};
    std::vector<std::string> args{std::to_string(current->version),
                                  current->session_id,
                                  new_sid,
                                  seal_data(current->data_json, new_key),
                                  seal_meta(current->device_json, current->ip, new_key),
                                  std::to_string(s_.rotate_overlap),
                                  std::to_string(s_.touch_interval),
                                  names.session_index_prefix()};
    auto r = co_await redis.eval("session_rotate", std::move(keys), std::move(args));
    if (!r) co_return r.error();
    auto rotated = replies::rotate(std::move(*r));
    if (!rotated) co_return rotated.error();
    if (!*rotated) continue;  // changed meanwhile: read again
    View& v = out.view;
    v = std::move(*current);
    v.session_id = new_sid;
    set_times(v, **rotated);
    co_return out;
  }
  co_return make_error_code(errc::version_conflict);
}

awaitable<result<void>> Service::destroy(redis::Connection& redis, std::string token) const {
  auto t = parse_token(token);
  if (!t) co_return result<void>{};
  key_schema::UserSlot names(s_.key_prefix, t->slot);
  std::vector<std::string> keys{names.session(t->session_id), names.migration_guard()};
  std::vector<std::string> args{t->session_id, names.session_prefix(), names.session_index_prefix()};
  auto r = co_await redis.eval("session_destroy", std::move(keys), std::move(args));
  if (!r) co_return r.error();
  if (auto n = replies::destroy(*r); !n) co_return n.error();
  co_return result<void>{};
}

awaitable<result<std::vector<Summary>>> Service::list(redis::Connection& redis, std::string user_id) const {
  std::string uh = user_hash(user_id);
  key_schema::UserSlot names(s_.key_prefix, redis::key_slot(uh));
  std::vector<std::string> keys{names.session_index(uh), names.migration_guard()};
  std::vector<std::string> args{names.session_prefix()};
  auto r = co_await redis.eval("session_list", std::move(keys), std::move(args));
  if (!r) co_return r.error();
  auto listed = replies::list(std::move(*r));
  if (!listed) co_return listed.error();
  std::vector<Summary> out;
  out.reserve(listed->size());
  for (auto& l : *listed) {
    Summary s;
    s.session_id = std::move(l.session_id);
    s.created_at = l.times.created_at;
    s.last_seen_at = l.times.last_seen_at;
    s.idle_expires_at = l.times.idle_expires_at;
    s.expires_at = l.times.expires_at;
    if (!open_meta(l.sealed_meta, names.session(s.session_id), s.device_json, s.ip)) {
      s.device_json = "{}";
      s.ip.clear();
    }
    out.push_back(std::move(s));
  }
  co_return out;
}

awaitable<result<std::int64_t>> Service::destroy_for_user(redis::Connection& redis, std::string user_id,
                                                          const char* mode, std::string session_id) const {
  std::string uh = user_hash(user_id);
  key_schema::UserSlot names(s_.key_prefix, redis::key_slot(uh));
  std::vector<std::string> keys{names.session_index(uh), names.migration_guard()};
  std::vector<std::string> args{names.session_prefix(), mode, std::move(session_id)};
  auto r = co_await redis.eval("session_destroy_user", std::move(keys), std::move(args));
  if (!r) co_return r.error();
  co_return replies::destroy_user(*r);
}

awaitable<result<std::int64_t>> Service::destroy_all(redis::Connection& redis, std::string user_id,
                                                     std::string except_session_id) const {
  co_return co_await destroy_for_user(redis, std::move(user_id), "all", std::move(except_session_id));
}

awaitable<result<void>> Service::destroy_one(redis::Connection& redis, std::string user_id,
                                             std::string session_id) const {
  if (!valid_session_id(session_id)) co_return make_error_code(errc::not_found);
  auto n = co_await destroy_for_user(redis, std::move(user_id), "one", std::move(session_id));
  if (!n) co_return n.error();
  if (*n == 0) co_return make_error_code(errc::not_found);
  co_return result<void>{};
}

}  // namespace latchkey::sessions
