// Failed logins and lockout: counters in lua/login_failure.lua; reads and clears here.
#include "latchkey/guard.hpp"

#include "latchkey/crypto/primitives.hpp"
#include "latchkey/log.hpp"
#include "latchkey/redis/connection.hpp"
#include "latchkey/redis/slot.hpp"
#include "latchkey/sessions.hpp"
#include "../script_results.hpp"

namespace latchkey::guard {

using boost::asio::awaitable;
using detail::bad_reply;
using detail::err;
using detail::int_of;

namespace {
constexpr std::uint8_t kDeviceVersion = 5;
std::int64_t num(const redis::Reply& r) { return r.is_nil() ? 0 : int_of(r); }
}  // namespace

struct Logins::Keys {
  std::string user_hash;
  std::uint16_t slot = 0;
  std::string account;  // <prefix>la:{T}:<user hash>
  std::string ip;       // <prefix>lp:<sha256(ip)>
  std::string device;   // <prefix>ld:{T}:<sha256(token)>, empty when no well-formed token of this user's slot
};

Logins::Logins(LoginSettings s, Clock clock) : s_(std::move(s)), clock_(clock) {}

Logins::Keys Logins::keys_of(const std::string& user_id, const std::string& ip, const std::string& device_token) const {
  Keys k;
  k.user_hash = sessions::user_hash(user_id);
  k.slot = redis::key_slot(k.user_hash);
  const std::string& tag = redis::slot_tag(k.slot);
  k.account = s_.key_prefix + "la:" + tag + ":" + k.user_hash;
  k.ip = s_.key_prefix + "lp:" + crypto::sha256_base64url(ip);
  auto slot = device_token.empty() ? std::nullopt : redis::handle_slot(device_token, kDeviceVersion);
  if (slot && *slot == k.slot) k.device = s_.key_prefix + "ld:" + tag + ":" + crypto::sha256_base64url(device_token);
  return k;
}

awaitable<result<std::string>> Logins::trusted_device(redis::Connection& redis, const Keys& k) const {
  if (k.device.empty()) co_return std::string();
  redis::Request req;
  req.begin(3).arg("HGET").arg(k.device).arg("uh");
  auto r = co_await redis.exec(std::move(req), "login_device");
  if (!r) co_return r.error();
  if (r->size() != 1 || (*r)[0].is_error()) co_return err(errc::redis_error);
  co_return (*r)[0].is_nil() || (*r)[0].str != k.user_hash ? std::string() : k.device;
}

awaitable<result<LoginVerdict>> Logins::check(redis::Connection& redis, std::string user_id, std::string ip,
                                              std::string device_token) const {
  Keys k = keys_of(user_id, ip, device_token);
  const std::int64_t now = clock_();
  // One round trip: the account's lock, the IP's lock, and the device (when one is named).
  redis::Request req;
  req.begin(3).arg("HGET").arg(k.account).arg("lu");
  req.begin(3).arg("HGET").arg(k.ip).arg("lu");
  if (!k.device.empty()) req.begin(4).arg("HMGET").arg(k.device).arg("uh").arg("lu");
  auto r = co_await redis.exec(std::move(req), "login_check");
  if (!r) co_return r.error();
  for (const auto& x : *r)
    if (x.is_error()) co_return err(errc::redis_error);
  if (r->size() != (k.device.empty() ? 2u : 3u)) co_return bad_reply("login_check");
  std::int64_t account_lu = num((*r)[0]), ip_lu = num((*r)[1]);
  if (!k.device.empty()) {
    const auto& d = (*r)[2].elements;
    // A trusted device is judged by its own lock, not the account's.
    if (d.size() == 2 && !d[0].is_nil() && d[0].str == k.user_hash) account_lu = num(d[1]);
  }
  LoginVerdict v;
  if (ip_lu > now) {
    v.allowed = false;
    v.ip_blocked = true;
    v.locked_until_ms = ip_lu;
  }
  if (account_lu > now && account_lu > v.locked_until_ms) {
    v.allowed = false;
    v.ip_blocked = false;
    v.locked_until_ms = account_lu;
  }
  if (!v.allowed) v.retry_after_ms = v.locked_until_ms - now;
  co_return v;
}

awaitable<result<FailureResult>> Logins::failure(redis::Connection& redis, std::string user_id, std::string ip,
                                                 std::string device_token) const {
  Keys k = keys_of(user_id, ip, device_token);
  auto device = co_await trusted_device(redis, k);
  if (!device) co_return device.error();
  const std::int64_t now = clock_();
  const std::string counter = device->empty() ? k.account : *device;
  std::vector<std::string> keys{counter};
  std::vector<std::string> args{std::to_string(now), std::to_string(s_.window_ms), std::to_string(s_.max_failures),
                                std::to_string(s_.lock_base_ms), std::to_string(s_.lock_max_ms),
                                std::to_string(s_.memory_ms)};
  auto r = co_await redis.eval("login_failure", std::move(keys), std::move(args));
  if (!r) co_return r.error();
  if (r->is_error()) co_return err(errc::redis_error);
  if (!r->is_array() || r->elements.size() != 3) co_return bad_reply("login_failure");
  // The IP's counter: locks the address for one window, whatever accounts it tries.
  std::vector<std::string> ip_keys{k.ip};
  std::vector<std::string> ip_args{std::to_string(now), std::to_string(s_.window_ms), std::to_string(s_.ip_max_failures),
                                   std::to_string(s_.window_ms), std::to_string(s_.window_ms), std::to_string(s_.window_ms)};
  auto ri = co_await redis.eval("login_failure", std::move(ip_keys), std::move(ip_args));
  if (!ri) co_return ri.error();
  if (ri->is_error()) co_return err(errc::redis_error);
  FailureResult out;
  out.failures = int_of(r->elements[0]);
  out.locked_until_ms = int_of(r->elements[1]);
  out.locked = out.locked_until_ms > now;
  out.retry_after_ms = out.locked ? out.locked_until_ms - now : 0;
  // Logged by the account's hash (never its name), for audit (ASVS V7.1.3).
  std::string who = (device->empty() ? "account " : "device of account ") + k.user_hash.substr(0, 8);
  if (out.locked && out.failures > 0)
    log::event(log::Level::warn, "login lockout: " + who + " locked for " + std::to_string(out.retry_after_ms / 1000) + " s");
  else if (!out.locked)
    log::event(log::Level::info, "login failure: " + who + " (" + std::to_string(out.failures) + " in the window)");
  co_return out;
}

awaitable<result<std::string>> Logins::success(redis::Connection& redis, std::string user_id,
                                               std::string device_token) const {
  Keys k = keys_of(user_id, "", device_token);
  auto device = co_await trusted_device(redis, k);
  if (!device) co_return device.error();
  std::string token = redis::new_handle(kDeviceVersion, k.slot);
  std::string key = s_.key_prefix + "ld:" + redis::slot_tag(k.slot) + ":" + crypto::sha256_base64url(token);
  redis::Request req;
  req.begin(4).arg("HDEL").arg(k.account).arg("c").arg("ws");
  if (!device->empty()) req.begin(2).arg("DEL").arg(*device);  // the old token is replaced by the new one
  req.push({"MULTI"});
  req.begin(4).arg("HSET").arg(key).arg("uh").arg(k.user_hash);
  req.begin(3).arg("PEXPIRE").arg(key).arg(std::to_string(s_.device_ttl_ms));
  req.push({"EXEC"});
  auto r = co_await redis.exec(std::move(req), "login_success");
  if (!r) co_return r.error();
  if (r->empty() || r->back().is_error() || !r->back().is_array()) co_return err(errc::redis_error);
  co_return token;
}

awaitable<result<LockoutState>> Logins::state(redis::Connection& redis, std::string user_id) const {
  Keys k = keys_of(user_id, "", "");
  redis::Request req;
  req.begin(6).arg("HMGET").arg(k.account).arg("c").arg("ws").arg("n").arg("lu");
  auto r = co_await redis.exec(std::move(req), "login_state");
  if (!r) co_return r.error();
  if (r->size() != 1 || !(*r)[0].is_array() || (*r)[0].elements.size() != 4) co_return err(errc::redis_error);
  const auto& f = (*r)[0].elements;
  const std::int64_t now = clock_();
  LockoutState st;
  st.failures = num(f[1]) + s_.window_ms > now ? num(f[0]) : 0;
  st.lockouts = num(f[2]);
  st.locked_until_ms = num(f[3]) > now ? num(f[3]) : 0;
  co_return st;
}

awaitable<result<void>> Logins::unlock(redis::Connection& redis, std::string user_id) const {
  Keys k = keys_of(user_id, "", "");
  redis::Request req;
  req.begin(2).arg("DEL").arg(k.account);
  auto r = co_await redis.exec(std::move(req), "login_unlock");
  if (!r) co_return r.error();
  if (r->size() != 1 || (*r)[0].is_error()) co_return err(errc::redis_error);
  co_return result<void>{};
}

}  // namespace latchkey::guard
