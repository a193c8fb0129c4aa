// GET /v1/events: security events read back from the capped streams (src/server/events.cpp
// writes them). Newest first; with `after`, the events after that cursor, oldest first (to
// tail). Filters by type, user_id and ip compare what each entry holds in clear (its type,
// the keyed digests), so only the events answered are decrypted.
#include "server/handlers/common.hpp"
#include "server/routes.hpp"
#include "server/services.hpp"

#include "latchkey/clock.hpp"
#include "latchkey/config.hpp"
#include "latchkey/events.hpp"
#include "latchkey/key_schema.hpp"
#include "latchkey/redis/connection.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <map>
#include <tuple>

namespace latchkey::server::handlers {
namespace {

namespace json = boost::json;
using boost::asio::awaitable;

// An event's id: "<ms>-<seq>-<partition>" (its stream id and stream), ordered as that triple.
struct EventId {
  std::uint64_t ms = 0, seq = 0;
  unsigned partition = 0;
  auto key() const { return std::tie(ms, seq, partition); }
  std::string stream_id() const { return std::to_string(ms) + "-" + std::to_string(seq); }
  std::string text() const { return stream_id() + "-" + std::to_string(partition); }
};

bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// The clear index fields of a stored event (type, user digest, address digest, its time).
struct IndexFields {
  std::string_view type, user, ip, ts;
};
IndexFields index_fields(const redis::Reply& fields) {
  IndexFields out;
  const auto& f = fields.elements;
  for (std::size_t k = 0; k + 1 < f.size(); k += 2) {
    if (f[k].str == "t")
      out.type = f[k + 1].str;
    else if (f[k].str == "u")
      out.user = f[k + 1].str;
    else if (f[k].str == "i")
      out.ip = f[k + 1].str;
    else if (f[k].str == "ts")
      out.ts = f[k + 1].str;
  }
  return out;
}

// A stored event's fields as name/value pairs, for events::Codec::decode.
std::vector<std::pair<std::string, std::string>> stored_fields(const redis::Reply& fields) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto& e = fields.elements;
  for (std::size_t k = 0; k + 1 < e.size(); k += 2) out.emplace_back(e[k].str, e[k + 1].str);
  return out;
}

std::optional<EventId> parse_event_id(std::string_view s) {
  EventId id;
  auto a = s.find('-');
  if (a == std::string_view::npos) return std::nullopt;
  auto b = s.find('-', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  std::uint64_t p = 0;
  if (!parse_u64(s.substr(0, a), id.ms) || !parse_u64(s.substr(a + 1, b - a - 1), id.seq) ||
      !parse_u64(s.substr(b + 1), p) || p >= events::kPartitions)
    return std::nullopt;
  id.partition = static_cast<unsigned>(p);
  return id;
}

// With a filter, at most this many entries of each stream are looked at per call.
constexpr std::size_t kScan = 5000;

awaitable<HttpResponse> list_events(RequestContext& ctx) {
  const auto& q = ctx.request.query;
  auto limit_or = limit_param(ctx, 100);
  if (auto* r = std::get_if<HttpResponse>(&limit_or)) co_return std::move(*r);
  const std::size_t limit = std::get<std::size_t>(limit_or);
  std::optional<EventId> after;
  if (auto a = query_param(q, "after")) {
    after = parse_event_id(*a);
    if (!after) co_return bad(ctx, "after must be an event id from an earlier answer");
  }
  std::optional<events::Type> type;
  if (auto t = query_param(q, "type")) {
    type = events::type_from(*t);
    if (!type) co_return bad(ctx, "type must be one of the event types of docs/api.md");
  }
  std::string user_digest, ip_digest, user_id;
  if (auto u = query_param(q, "user_id")) {
    if (!valid_user_id(*u)) co_return bad(ctx, kBadUserParam);
    user_id = *u;
    user_digest = ctx.event_codec->user_digest(*u);
  }
  if (auto i = query_param(q, "ip")) {
    auto canon = canonical_address(*i, 128);
    if (!canon) co_return bad(ctx, "ip must be an IPv4 or IPv6 address");
    ip_digest = ctx.event_codec->ip_digest(*i);
  }
  const bool filtered = type || !user_digest.empty() || !ip_digest.empty();
  const std::string count = std::to_string(filtered ? kScan : limit);

  // A user's events are all in one stream; otherwise every stream is read.
  std::vector<unsigned> parts;
  if (!user_id.empty())
    parts.push_back(events::partition_of(user_id, {}));
  else
    for (unsigned p = 0; p < events::kPartitions; ++p) parts.push_back(p);
  redis::Request req;
  for (unsigned p : parts) {
    std::string key = key_schema::events_stream(ctx.config.key_prefix, p);
    if (after) {
      // Strictly after the cursor in (ms, seq, partition) order.
      std::string start = (p > after->partition ? "" : "(") + after->stream_id();
      req.begin(6).arg("XRANGE").key(key).arg(start).arg("+").arg("COUNT").arg(count);
    } else {
      req.begin(6).arg("XREVRANGE").key(key).arg("+").arg("-").arg("COUNT").arg(count);
    }
  }
  auto r = co_await ctx.redis.exec(std::move(req), "events_read");
  if (!r) co_return engine_error(ctx, r.error());

  struct Found {
    EventId id;
    std::pair<std::uint64_t, std::uint64_t> ts;  // when it happened (ms, µs within): a write
                                                 // delayed in flight is recorded later
    const redis::Reply* fields;
  };
  std::vector<Found> found;
  for (std::size_t i = 0; i < parts.size() && i < r->size(); ++i) {
    const auto& arr = (*r)[i];
    if (!arr.is_array()) continue;
    for (const auto& entry : arr.elements) {
      if (!entry.is_array() || entry.elements.size() != 2 || !entry.elements[1].is_array()) continue;
      const auto& sid = entry.elements[0].str;
      auto dash = sid.find('-');
      EventId id;
      id.partition = parts[i];
      if (dash == std::string::npos || !parse_u64(std::string_view(sid).substr(0, dash), id.ms) ||
          !parse_u64(std::string_view(sid).substr(dash + 1), id.seq))
        continue;
      bool keep = true;
      auto [t, u, ip, ts] = index_fields(entry.elements[1]);
      if (type && t != events::type_name(*type)) keep = false;
      if (!user_digest.empty() && u != user_digest) keep = false;
      if (!ip_digest.empty() && ip != ip_digest) keep = false;
      std::pair<std::uint64_t, std::uint64_t> when{id.ms, 0};
      if (auto dot = ts.find('.'); !ts.empty()) {
        (void)parse_u64(ts.substr(0, dot), when.first);
        if (dot != std::string_view::npos) (void)parse_u64(ts.substr(dot + 1), when.second);
      }
      if (keep) found.push_back({id, when, &entry.elements[1]});
    }
  }
  // After a cursor: in the order recorded (what a tail needs: nothing recorded later is ever
  // behind the cursor). Newest first: by when each happened (events of two shards may reach
  // Redis in the other order), then as recorded.
  if (after)
    std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.id.key() < b.id.key(); });
  else
    std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
      return std::tuple(b.ts, b.id.key()) < std::tuple(a.ts, a.id.key());
    });
  if (found.size() > limit) found.resize(limit);

  json::array out;
  std::string last;
  for (const auto& f : found) {
    auto ev = ctx.event_codec->decode(stored_fields(*f.fields));
    if (!ev) continue;  // sealed under a retired key, or not ours
    last = f.id.text();
    out.push_back(events::to_json(*ev, last));
  }
  json::object body{{"events", std::move(out)}};
  if (after && !last.empty()) body["next"] = last;
  co_return HttpResponse::json(200, body);
}

// GET /v1/events/summary: what the console's overview shows during an attack, computed from
// the newest entries of the streams (at most kScan of each) and confirmed against the lockout
// state where it can be: accounts and addresses locked now (with the time left), the accounts
// and addresses with the most failed logins in the last hour, and failures per minute.
awaitable<HttpResponse> summary(RequestContext& ctx) {
  const std::int64_t now = unix_now_ms();
  const std::int64_t hour = 3'600'000;
  const std::int64_t lock_span = std::max<std::int64_t>(
      hour, std::chrono::duration_cast<std::chrono::milliseconds>(ctx.config.login_lockout_max).count());
  const std::string since = std::to_string(now - lock_span);
  redis::Request req;
  for (unsigned p = 0; p < events::kPartitions; ++p)
    req.begin(6)
        .arg("XREVRANGE")
        .key(key_schema::events_stream(ctx.config.key_prefix, p))
        .arg("+")
        .arg(since)
        .arg("COUNT")
        .arg(std::to_string(kScan));
  auto r = co_await ctx.redis.exec(std::move(req), "events_read");
  if (!r) co_return engine_error(ctx, r.error());

  struct Tally {
    std::int64_t failures = 0;
    const redis::Reply* sample = nullptr;  // one entry, decrypted for the name or address
  };
  std::map<std::string, Tally> accounts, addresses;
  // The newest lock-related event per account / address: a lockout or block, or an unlock.
  std::map<std::string, const redis::Reply*> account_lock, address_lock;
  std::vector<std::int64_t> per_minute(60, 0);
  bool truncated = false;
  for (std::size_t i = 0; i < r->size(); ++i) {
    const auto& arr = (*r)[i];
    if (!arr.is_array()) continue;
    if (arr.elements.size() >= kScan) truncated = true;
    for (const auto& entry : arr.elements) {  // newest first
      if (!entry.is_array() || entry.elements.size() != 2 || !entry.elements[1].is_array()) continue;
      std::uint64_t ms = 0;
      const auto& sid = entry.elements[0].str;
      if (!parse_u64(std::string_view(sid).substr(0, sid.find('-')), ms)) continue;
      const auto idx = index_fields(entry.elements[1]);
      const std::string_view t = idx.type, u = idx.user, ip = idx.ip;
      const auto age = now - static_cast<std::int64_t>(ms);
      if (t == "login_failure" && age < hour) {
        if (age >= 0) ++per_minute[static_cast<std::size_t>(59 - age / 60'000)];
        if (!u.empty()) {
          auto& a = accounts[std::string(u)];
          ++a.failures;
          if (!a.sample) a.sample = &entry;
        }
        if (!ip.empty()) {
          auto& a = addresses[std::string(ip)];
          ++a.failures;
          if (!a.sample) a.sample = &entry;
        }
      } else if ((t == "lockout" || t == "unlock") && !u.empty()) {
        account_lock.try_emplace(std::string(u), &entry);
      } else if (t == "ip_blocked" && !ip.empty()) {
        address_lock.try_emplace(std::string(ip), &entry);
      }
    }
  }

  auto top = [&](std::map<std::string, Tally>& m, bool by_user) {
    std::vector<std::pair<std::int64_t, const redis::Reply*>> v;
    for (auto& [k, t] : m) v.emplace_back(t.failures, t.sample);
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    json::array out;
    for (const auto& [n, sample] : v) {
      if (out.size() == 10) break;
      auto ev = ctx.event_codec->decode(stored_fields(sample->elements[1]));
      if (!ev) continue;
      const std::string& name = by_user ? ev->user_id : ev->ip;
      if (name.empty()) continue;
      out.push_back(json::object{{by_user ? "user_id" : "ip", name}, {"failures", n}});
    }
    return out;
  };
  json::array top_accounts = top(accounts, true), top_ips = top(addresses, false);

  // Locked accounts: the newest lock event of each (at most 50), confirmed (and timed) by
  // their real states, read in one round trip.
  json::array locked_accounts, locked_ips;
  std::vector<std::string> candidates;
  for (const auto& [digest, entry] : account_lock) {
    if (candidates.size() == 50) {
      truncated = true;
      break;
    }
    auto ev = ctx.event_codec->decode(stored_fields(entry->elements[1]));
    if (ev && ev->type == events::Type::lockout && !ev->user_id.empty()) candidates.push_back(std::move(ev->user_id));
  }
  auto states = co_await ctx.services.logins.states(ctx.redis, candidates);
  if (!states) co_return engine_error(ctx, states.error());
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const auto until = (*states)[i].locked_until_ms;
    if (until <= now) continue;
    locked_accounts.push_back(json::object{{"user_id", candidates[i]},
                                           {"locked_until", ceil_seconds(until)},
                                           {"seconds_left", ceil_seconds(until - now)}});
  }
  for (const auto& [digest, entry] : address_lock) {
    auto ev = ctx.event_codec->decode(stored_fields(entry->elements[1]));
    if (!ev || ev->ip.empty()) continue;
    std::int64_t until_s = 0;
    for (const auto& [k, v] : ev->ids)
      if (k == "locked_until") until_s = std::atoll(v.c_str());
    if (until_s * 1000 <= now) continue;
    locked_ips.push_back(
        json::object{{"ip", ev->ip}, {"locked_until", until_s}, {"seconds_left", until_s - now / 1000}});
    if (locked_ips.size() == 50) break;
  }
  json::array minutes;
  for (auto n : per_minute) minutes.push_back(n);
  co_return HttpResponse::json(200, json::object{{"time", now / 1000},
                                                 {"locked_accounts", std::move(locked_accounts)},
                                                 {"locked_ips", std::move(locked_ips)},
                                                 {"top_accounts", std::move(top_accounts)},
                                                 {"top_ips", std::move(top_ips)},
                                                 {"failures_per_minute", std::move(minutes)},
                                                 {"truncated", truncated}});
}

}  // namespace

void add_events(Router& r) {
  r.add("GET", "/v1/events", Access::admin_read, admin_listener, list_events);
  r.add("GET", "/v1/events/summary", Access::admin_read, admin_listener, summary);
}

}  // namespace latchkey::server::handlers
