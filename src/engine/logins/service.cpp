// Failed logins and lockout: counters in lua/login_failure.lua; reads and clears here.
#include "latchkey/logins.hpp"

#include "engine/logins/replies.hpp"
#include "latchkey/config.hpp"
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/key_schema.hpp"
#include "latchkey/log.hpp"
#include "latchkey/metrics.hpp"
#include "latchkey/redis/connection.hpp"
#include "latchkey/redis/reply.hpp"
#include "latchkey/redis/slot.hpp"
#include "latchkey/utf8.hpp"

#include <algorithm>
#include <array>
#include <chrono>

namespace latchkey::logins {

using boost::asio::awaitable;
using redis::integer_of;
using redis::unexpected_reply;

namespace {
std::int64_t num(const redis::Reply& r) { return r.is_nil() ? 0 : integer_of(r); }
}  // namespace

struct Service::Keys {
  std::string user_hash;  // Identifiers::of("account", canonical account name)
  std::uint16_t slot = 0;
  std::string account;  // <prefix>la:{T}:<user hash>
  std::string ip;       // <prefix>lp:<Identifiers::of("ip", canonical address)>
  std::string device;   // <prefix>ld:{T}:<sha256(token)>, empty when no well-formed token of this user's slot
};

Settings Settings::from(const Config& c, Identifiers ids) {
  using std::chrono::milliseconds;
  Settings s;
  s.key_prefix = c.key_prefix;
  s.max_failures = c.login_max_failures;
  s.ip_max_failures = c.login_ip_max_failures;
  s.window_ms = milliseconds(c.login_failure_window).count();
  s.lock_base_ms = milliseconds(c.login_lockout_base).count();
  s.lock_max_ms = milliseconds(std::max(c.login_lockout_max, c.login_lockout_base)).count();
  s.device_ttl_ms = milliseconds(c.login_device_ttl).count();
  s.attempt_hold_ms = milliseconds(c.login_attempt_timeout).count();
  s.ipv6_prefix = static_cast<int>(c.login_ipv6_prefix);
  s.canonical_user_id = c.login_canonical_user_id;
  s.ids = std::move(ids);
  return s;
}

Service::Service(Settings s, Clock clock) : s_(std::move(s)), clock_(clock) {}

std::optional<Service::Keys> Service::keys_of(const std::string& user_id, const std::string& ip,
                                              const std::string& device_token) const {
  Keys k;
  std::optional<std::string> account = s_.canonical_user_id  ? canonical_account(user_id)
                                       : valid_utf8(user_id) ? std::optional<std::string>(user_id)
                                                             : std::nullopt;
  if (!account) return std::nullopt;
  k.user_hash = s_.ids.of("account", *account);
  k.slot = redis::key_slot(k.user_hash);
  key_schema::UserSlot user(s_.key_prefix, k.slot);
  k.account = user.login_account(k.user_hash);
  if (!ip.empty()) {
    auto addr = canonical_address(ip, s_.ipv6_prefix);
    if (!addr) return std::nullopt;
    k.ip = key_schema::login_ip(s_.key_prefix, s_.ids.of("ip", *addr));
  }
  auto slot =
      device_token.empty() ? std::nullopt : key_schema::handle_slot(device_token, key_schema::Handle::device_token);
  if (slot && *slot == k.slot) k.device = user.login_device(crypto::sha256_base64url(device_token));
  return k;
}

std::string Service::now_arg() const { return clock_ ? std::to_string(clock_()) : std::string(); }

namespace {
using Call = redis::Connection::ScriptCall;
// Built outside the coroutines (g++ 12 miscompiles string literals in braced temporaries there).
Call call(const char* script, std::vector<std::string> keys, std::vector<std::string> args) {
  return Call{script, std::move(keys), std::move(args)};
}
// One counter's verdict: allowed, or refused until a lock ends or attempts in flight lapse.
struct Gate {
  bool allowed = false;
  std::int64_t locked_until = 0, busy_until = 0;
};

// The fields login_check.lua reads, in its order: failures, window start, locked until,
// attempts in flight, when the newest of them lapses.
constexpr std::array<const char*, 5> kCounterFields{"c", "ws", "lu", "p", "pe"};

// login_check.lua's verdict on a counter read with plain HMGET, without the reservation: the
// filter that answers a refusal (what an attacker's parallel guesses meet) from reads alone.
// It refuses exactly when the script would (LoginsHardening.ReadFilterAgreesWithScript);
// an allowed attempt still goes through the script, which decides atomically.
// `fields` is an HMGET reply whose counter fields start at `first` (after the device's `uh`).
std::optional<Gate> judge(const redis::Reply& fields, std::size_t first, std::int64_t now, std::int64_t window,
                          std::int64_t max) {
  if (!fields.is_array() || fields.elements.size() != first + kCounterFields.size()) return std::nullopt;
  const redis::Reply* f = fields.elements.data() + first;
  for (std::size_t i = 0; i < kCounterFields.size(); ++i)
    if (!f[i].is_nil() && !f[i].is_string()) return std::nullopt;
  std::int64_t c = num(f[0]), ws = num(f[1]), lu = num(f[2]), p = num(f[3]), pe = num(f[4]);
  if (lu > now) return Gate{false, lu, 0};
  if (ws + window <= now) c = 0;
  if (pe <= now) p = 0;
  if (c + p >= max) return Gate{false, 0, pe};
  return Gate{true, 0, 0};
}

// Which counter refused, and until when (both gates judged at `now`).
Verdict refusal(const Gate& account, const Gate& addr, std::int64_t now) {
  Verdict v;
  v.allowed = false;
  auto until = [](const Gate& g) { return g.allowed ? 0 : g.locked_until ? g.locked_until : g.busy_until; };
  std::int64_t au = until(account), iu = until(addr);
  if (!addr.allowed && (account.allowed || iu >= au)) {  // the later of the two refusals
    v.ip_blocked = true;
    v.busy = addr.locked_until == 0;
    v.locked_until_ms = iu;
  } else {
    v.busy = account.locked_until == 0;
    v.locked_until_ms = au;
  }
  v.retry_after_ms = std::max<std::int64_t>(v.locked_until_ms - now, 1);
  return v;
}
}  // namespace

awaitable<result<Verdict>> Service::check(redis::Connection& redis, std::string user_id, std::string ip,
                                          std::string device_token) const {
  auto keys = ip.empty() ? std::nullopt : keys_of(user_id, ip, device_token);  // the IP is required here
  if (!keys) co_return make_error_code(errc::invalid_request);
  const Keys& k = *keys;
  // First the counters are read (plain HMGETs, about a tenth of a script's cost in Redis): a
  // locked account or address, or one whose budget attempts in flight hold, is refused from
  // them, and nothing is written. Only an attempt the reads allow takes its reservations, in
  // the scripts, which judge again atomically.
  redis::Request read;
  auto hmget = [&read](const std::string& key, bool with_owner) {
    read.begin(2 + kCounterFields.size() + (with_owner ? 1 : 0)).arg("HMGET").key(key);
    if (with_owner) read.arg("uh");
    for (const char* f : kCounterFields) read.arg(f);
  };
  hmget(k.account, false);
  hmget(k.ip, false);
  if (!k.device.empty()) hmget(k.device, true);
  if (!clock_) read.push({"TIME"});
  auto seen = co_await redis.exec(std::move(read), "login_check_read");
  if (!seen) co_return seen.error();
  const auto& rs = *seen;
  const std::size_t expected = 2 + (k.device.empty() ? 0 : 1) + (clock_ ? 0 : 1);
  if (rs.size() != expected) co_return unexpected_reply("login_check_read");
  for (const auto& x : rs)
    if (x.is_error()) co_return make_error_code(errc::redis_error);
  std::int64_t now = 0;
  if (clock_) {
    now = clock_();
  } else {
    const auto& t = rs.back();
    if (!t.is_array() || t.elements.size() != 2) co_return unexpected_reply("TIME");
    now = integer_of(t.elements[0]) * 1000 + integer_of(t.elements[1]) / 1000;
  }
  // The account's counter, or its trusted device's when the token is one of this user's.
  const std::string* counter = &k.account;
  std::optional<Gate> account;
  if (!k.device.empty()) {
    const auto& d = rs[2];
    if (!d.is_array() || d.elements.empty()) co_return unexpected_reply("login_check_read");
    if (d.elements[0].is_string() && d.elements[0].str == k.user_hash) {
      account = judge(d, 1, now, s_.window_ms, s_.max_failures);
      counter = &k.device;
    }
  }
  if (!account) account = judge(rs[0], 0, now, s_.window_ms, s_.max_failures);
  auto addr = judge(rs[1], 0, now, s_.window_ms, s_.ip_max_failures);
  if (!account || !addr) co_return unexpected_reply("login_check_read");
  if (!account->allowed || !addr->allowed) co_return refusal(*account, *addr, now);

  // Both reservations, judged again at the read's `now`: one script call per counter (each in
  // its own slot under Redis Cluster), pipelined. All or nothing: when one reserves and the
  // other refuses, the reservation taken is released. In between, the counter holds one
  // reservation too many, which can only refuse a parallel attempt, never allow one.
  const std::vector<std::string> args{std::to_string(now), std::to_string(s_.window_ms),
                                      std::to_string(s_.attempt_hold_ms)};
  std::vector<Call> calls;
  calls.push_back(call("login_check", {*counter}, args));
  calls.back().args.push_back(std::to_string(s_.max_failures));
  calls.push_back(call("login_check", {k.ip}, args));
  calls.back().args.push_back(std::to_string(s_.ip_max_failures));
  auto r = co_await redis.evals(std::move(calls));
  if (!r) co_return r.error();
  if (r->size() != 2) co_return unexpected_reply("login_check");
  auto acc = replies::login_check_one((*r)[0]);
  if (!acc) co_return acc.error();
  auto ipc = replies::login_check_one((*r)[1]);
  if (!ipc) co_return ipc.error();
  if (acc->reserved && ipc->reserved) co_return Verdict{};
  if (acc->reserved || ipc->reserved) {
    Call undo = call("login_release", {acc->reserved ? *counter : k.ip}, {std::to_string(now)});
    auto released = co_await redis.eval(std::move(undo.script), std::move(undo.keys), std::move(undo.args));
    if (!released) co_return released.error();  // it lapses after attempt_hold at the latest
  }
  auto gate = [](const replies::CheckedOne& c) {
    return Gate{!c.counter.refuses, c.counter.locked_until_ms, c.counter.busy_until_ms};
  };
  co_return refusal(gate(*acc), gate(*ipc), std::max(acc->now_ms, ipc->now_ms));
}

awaitable<result<FailureResult>> Service::failure(redis::Connection& redis, std::string user_id, std::string ip,
                                                  std::string device_token) const {
  auto keys = ip.empty() ? std::nullopt : keys_of(user_id, ip, device_token);  // the IP is required here
  if (!keys) co_return make_error_code(errc::invalid_request);
  const Keys& k = *keys;
  const std::string now = now_arg();
  // The account (or the trusted device) and the IP, which locks for one window whatever
  // accounts it tries, in one round trip.
  std::vector<Call> calls;
  calls.push_back(
      call("login_failure", {k.account},
           {now, std::to_string(s_.window_ms), std::to_string(s_.max_failures), std::to_string(s_.lock_base_ms),
            std::to_string(s_.lock_max_ms), std::to_string(s_.memory_ms), k.user_hash}));
  if (!k.device.empty()) calls[0].keys.push_back(k.device);
  calls.push_back(
      call("login_failure", {k.ip},
           {now, std::to_string(s_.window_ms), std::to_string(s_.ip_max_failures), std::to_string(s_.window_ms),
            std::to_string(s_.window_ms), std::to_string(s_.window_ms), std::string()}));
  auto r = co_await redis.evals(std::move(calls));
  if (!r) co_return r.error();
  if (r->size() != 2) co_return unexpected_reply("login_failure");
  auto account = replies::login_failure((*r)[0]);
  if (!account) co_return account.error();
  auto address = replies::login_failure((*r)[1]);
  if (!address) co_return address.error();
  const bool on_device = account->on_device;
  FailureResult out;
  out.failures = account->failures;
  out.locked_until_ms = account->locked_until_ms;
  out.locked = account->locked();
  out.retry_after_ms = out.locked ? out.locked_until_ms - account->now_ms : 0;
  // Logged by the account's hash (never its name), for audit (ASVS V7.1.3).
  std::string who = (on_device ? "device of account " : "account ") + k.user_hash.substr(0, 8);
  count(SecurityEvent::login_failure);
  if (out.locked && out.failures > 0) count(SecurityEvent::lockout);
  if (address->locked() && address->failures > 0) {  // this failure locked the address
    count(SecurityEvent::lockout);
    out.ip_blocked = true;
    out.ip_blocked_until_ms = address->locked_until_ms;
  }
  if (out.locked && out.failures > 0)
    log::event(log::Level::warn,
               "login lockout: " + who + " locked for " + std::to_string(out.retry_after_ms / 1000) + " s");
  else if (!out.locked)
    log::event(log::Level::info, "login failure: " + who + " (" + std::to_string(out.failures) + " in the window)");
  co_return out;
}

awaitable<result<std::string>> Service::success(redis::Connection& redis, std::string user_id, std::string ip,
                                                std::string device_token) const {
  auto keys = keys_of(user_id, ip, device_token);
  if (!keys) co_return make_error_code(errc::invalid_request);
  const Keys& k = *keys;
  const std::string now = now_arg();
  std::string token = key_schema::new_handle(key_schema::Handle::device_token, k.slot);
  std::string key = key_schema::UserSlot(s_.key_prefix, k.slot).login_device(crypto::sha256_base64url(token));
  std::vector<Call> calls;
  // The old device token (when it is this user's) is replaced by the new one.
  calls.push_back(call("login_success", {k.account, key}, {k.user_hash, std::to_string(s_.device_ttl_ms), now}));
  if (!k.device.empty()) calls[0].keys.push_back(k.device);
  if (!k.ip.empty()) calls.push_back(call("login_release", {k.ip}, {now}));
  auto r = co_await redis.evals(std::move(calls));
  if (!r) co_return r.error();
  for (const auto& x : *r)
    if (x.is_error()) co_return make_error_code(errc::redis_error);
  co_return token;
}

awaitable<result<LockoutState>> Service::state(redis::Connection& redis, std::string user_id) const {
  std::vector<std::string> one;
  one.push_back(std::move(user_id));
  auto all = co_await states(redis, std::move(one));
  if (!all) co_return all.error();
  co_return all->front();
}

awaitable<result<std::vector<LockoutState>>> Service::states(redis::Connection& redis,
                                                             std::vector<std::string> user_ids) const {
  redis::Request req;
  for (const auto& u : user_ids) {
    auto keys = keys_of(u, "", "");
    if (!keys) co_return make_error_code(errc::invalid_request);
    req.begin(6).arg("HMGET").key(keys->account).arg("c").arg("ws").arg("n").arg("lu");
  }
  req.push({"TIME"});
  auto r = co_await redis.exec(std::move(req), "login_state");
  if (!r) co_return r.error();
  if (r->size() != user_ids.size() + 1) co_return make_error_code(errc::redis_error);
  const auto& time = r->back().elements;
  if (!clock_ && time.size() != 2) co_return unexpected_reply("TIME");
  const std::int64_t now = clock_ ? clock_() : integer_of(time[0]) * 1000 + integer_of(time[1]) / 1000;
  std::vector<LockoutState> out;
  for (std::size_t i = 0; i < user_ids.size(); ++i) {
    if (!(*r)[i].is_array() || (*r)[i].elements.size() != 4) co_return make_error_code(errc::redis_error);
    const auto& f = (*r)[i].elements;
    LockoutState st;
    st.failures = num(f[1]) + s_.window_ms > now ? num(f[0]) : 0;
    st.lockouts = num(f[2]);
    st.locked_until_ms = num(f[3]) > now ? num(f[3]) : 0;
    out.push_back(st);
  }
  co_return out;
}

awaitable<result<void>> Service::unlock(redis::Connection& redis, std::string user_id) const {
  auto keys = keys_of(user_id, "", "");
  if (!keys) co_return make_error_code(errc::invalid_request);
  const Keys& k = *keys;
  redis::Request req;
  req.begin(2).arg("DEL").key(k.account);
  auto r = co_await redis.exec(std::move(req), "login_unlock");
  if (!r) co_return r.error();
  if (r->size() != 1 || (*r)[0].is_error()) co_return make_error_code(errc::redis_error);
  co_return result<void>{};
}

}  // namespace latchkey::logins
