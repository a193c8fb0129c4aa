// Tokens: the Service, calling lua/token_*.lua (minting and local checks are in access.cpp).
#include "latchkey/identity.hpp"
#include "latchkey/tokens.hpp"
#include "latchkey/redis/reply.hpp"
#include "latchkey/key_schema.hpp"
#include "latchkey/clock.hpp"

#include "latchkey/crypto/primitives.hpp"
#include "latchkey/log.hpp"
#include "latchkey/metrics.hpp"
#include "latchkey/oauth.hpp"
#include "latchkey/redis/connection.hpp"
#include "latchkey/redis/slot.hpp"
#include "engine/tokens/replies.hpp"
#include "latchkey/sessions.hpp"

#include <boost/json.hpp>

#include <charconv>

namespace latchkey::tokens {

using boost::asio::awaitable;
using redis::Reply;
namespace json = boost::json;

namespace {

// Revocation markers (user epoch, family marker) must outlive every access token they cover:
// the longest configurable access-token lifetime plus the largest leeway.
constexpr std::int64_t kMarkerTtl = 86400 + 300 + 1;

using redis::integer_of;
using redis::unexpected_reply;

// A failed result<bool> (an error_code would otherwise convert to the bool).
result<bool> failed(boost::system::error_code ec) { return result<bool>(boost::system::in_place_error, ec); }

std::string short_id(std::string_view s) { return std::string(s.substr(0, 8)); }

// A refused access token: counted by reason (latchkey_token_verify_failures_total), and
// logged at most 10 times a second (anyone can present a bad token).
void rejected(std::string_view reason, std::string_view detail) {
  static log::Throttle refusals("token_verify_failure", 10);
  count_verify_failure(reason);
  refusals.event(log::Level::info, "access token rejected: " + std::string(detail.empty() ? reason : detail));
}

using key_schema::UserSlot;

std::string seal_grant_json(const Grant& g) {
  json::object o{{"uid", g.user_id}, {"scope", g.scope}, {"aud", g.audience}, {"claims", g.claims_json}};
  if (!g.client_id.empty()) o["cid"] = g.client_id;
  if (!g.refresh_jkt.empty()) o["rk"] = g.refresh_jkt;
  return json::serialize(o);
}

std::optional<Grant> open_grant_json(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  Grant g;
  const json::string* f[4] = {};
  const char* names[4] = {"uid", "scope", "aud", "claims"};
  for (int i = 0; i < 4; ++i) {
    const auto* x = o.if_contains(names[i]);
    if (!x || !x->is_string()) return std::nullopt;
    f[i] = &x->as_string();
  }
  g.user_id = std::string(*f[0]);
  g.scope = std::string(*f[1]);
  g.audience = std::string(*f[2]);
  g.claims_json = std::string(*f[3]);
  if (const auto* cid = o.if_contains("cid")) {
    if (!cid->is_string()) return std::nullopt;
    g.client_id = std::string(cid->as_string());
  }
  if (const auto* rk = o.if_contains("rk")) {
    if (!rk->is_string()) return std::nullopt;
    g.refresh_jkt = std::string(rk->as_string());
  }
  return g;
}

// What introspection reports from a verified JWT's claims.
Introspection introspection_of(const AccessClaims& c) {
  Introspection out;
  out.sub = c.sub;
  out.jti = c.jti;
  out.iat = c.iat;
  out.exp = c.exp;
  boost::system::error_code ec;
  auto v = json::parse(c.payload_json, ec);
  if (ec || !v.is_object()) return out;
  const auto& o = v.as_object();
  auto str = [&](const char* name) {
    const auto* x = o.if_contains(name);
    return x && x->is_string() ? std::string(x->as_string()) : std::string();
  };
  out.client_id = str("client_id");
  out.scope = str("scope");
  out.sid = c.sid;
  out.jkt = c.jkt;
  if (const auto* a = o.if_contains("aud")) {
    if (a->is_string()) out.audience = std::string(a->as_string());
    if (a->is_array()) {
      for (const auto& x : a->as_array()) {
        if (!x.is_string()) continue;
        if (!out.audience.empty()) out.audience.push_back(' ');
        out.audience += x.as_string();
      }
    }
  }
  return out;
}

}  // namespace

awaitable<result<void>> Service::durable(redis::Connection& redis, std::uint16_t slot) const {
  if (s_.wait_replicas == 0) co_return result<void>{};
  redis::Request wait;
  // To the node that took the write (Cluster: the master of its slot), on the same link.
  wait.begin(3).arg("WAIT").arg(std::to_string(s_.wait_replicas)).arg(std::to_string(s_.wait_timeout.count()));
  wait.route_by_slot(slot);
  auto r = co_await redis.exec(std::move(wait), "wait");
  if (!r) co_return r.error();
  if (r->size() != 1 || !(*r)[0].is_integer() || (*r)[0].integer < static_cast<std::int64_t>(s_.wait_replicas)) {
    log::event(log::Level::error, "a revocation reached fewer replicas than redis_wait_replicas within the timeout");
    co_return make_error_code(errc::unavailable);
  }
  co_return result<void>{};
}

std::string Service::new_access(const Grant& g, AccessFormat f, std::uint16_t slot, std::string_view family_id,
                                std::int64_t now) const {
  if (f == AccessFormat::opaque) return key_schema::new_handle(key_schema::Handle::opaque_access_token, slot);
  return access_.mint(g, crypto::random_token(16), family_id, now);
}

awaitable<result<void>> Service::store_opaque(redis::Connection& redis, const std::string& token, const Grant& g,
                                              std::string_view family_id, std::int64_t iat) const {
  auto slot = key_schema::handle_slot(token, key_schema::Handle::opaque_access_token);
  if (!slot) co_return make_error_code(errc::internal);
  std::string key = UserSlot(s_.key_prefix, *slot).opaque_access_token(crypto::sha256_base64url(token));
  std::vector<std::string> args{std::to_string(s_.access_ttl),
                                "",
                                "c",
                                g.client_id,
                                "s",
                                g.scope,
                                "a",
                                g.audience,
                                "f",
                                std::string(family_id),
                                "i",
                                std::to_string(iat),
                                "e",
                                std::to_string(iat + s_.access_ttl)};
  if (!g.jkt.empty()) args.insert(args.end(), {"k", g.jkt});
  if (!g.user_id.empty()) {
    args.insert(args.end(), {"u", ring_.encrypt(g.user_id, key), "uh", user_hash(g.user_id)});
  }
  std::vector<std::string> keys{std::move(key)};
  auto r = co_await redis.eval("hash_create", std::move(keys), std::move(args));
  if (!r) co_return r.error();
  if (r->is_error()) co_return make_error_code(errc::redis_error);
  co_return result<void>{};
}

awaitable<result<Pair>> Service::issue(redis::Connection& redis, Grant g, IssueOptions o) const {
  // A client's own grant has no user: its tokens live in a random slot.
  std::string uh = g.user_id.empty() ? std::string() : user_hash(g.user_id);
  std::uint16_t slot = g.user_id.empty() ? redis::key_slot(crypto::random_token(8)) : redis::key_slot(uh);
  UserSlot k(s_.key_prefix, slot);
  Pair out;
  out.scope = g.scope;
  out.expires_in = s_.access_ttl;
  std::string fid = o.family_id.empty() && o.refresh ? crypto::random_token(16) : o.family_id;
  out.user_id = g.user_id;
  out.family_id = fid;
  out.jkt = g.jkt;
  std::int64_t now = 0;
  if (o.refresh) {
    out.refresh_token = key_schema::new_handle(key_schema::Handle::refresh_token, slot);
    std::string family = k.family(fid);
    std::string sealed = ring_.encrypt(seal_grant_json(g), family);
    std::string refresh_hash = crypto::sha256_base64url(out.refresh_token);
    std::vector<std::string> keys{family,
                                  k.refresh_token(refresh_hash),
                                  k.family_index(uh),
                                  k.revocation_epoch(uh),
                                  k.family_marker(fid),
                                  k.migration_guard()};
    std::vector<std::string> args{fid,
                                  uh,
                                  std::move(sealed),
                                  std::to_string(s_.refresh_absolute_ttl),
                                  std::to_string(s_.refresh_idle_ttl),
                                  refresh_hash,
                                  std::to_string(s_.max_families),
                                  k.family_prefix(),
                                  k.family_marker_prefix(),
                                  std::to_string(kMarkerTtl)};
    auto r = co_await redis.eval("token_issue", std::move(keys), std::move(args));
    if (!r) co_return r.error();
    auto clock = replies::issue(*r);
    if (!clock) co_return clock.error();
    // Redis's clock for iat; strictly after a "revoke all" of this very second.
    now = std::max(clock->now, clock->epoch + 1);
  } else {
    // An access token alone still takes Redis's clock and the user's epoch into account.
    redis::Request read;
    read.begin(1).arg("TIME");
    read.begin(2).arg("GET").key(k.revocation_epoch(uh.empty() ? std::string_view("-") : std::string_view(uh)));
    auto r = co_await redis.exec(std::move(read), "token_issue_access");
    if (!r) co_return r.error();
    if (r->size() != 2 || !(*r)[0].is_array() || (*r)[0].elements.empty() || (*r)[1].is_error())
      co_return make_error_code(errc::redis_error);
    now = std::max(integer_of((*r)[0].elements[0]), ((*r)[1].is_nil() ? 0 : integer_of((*r)[1])) + 1);
  }
  out.access_token = new_access(g, o.format, slot, fid, now);
  if (o.format == AccessFormat::opaque) {
    if (auto st = co_await store_opaque(redis, out.access_token, g, fid, now); !st) co_return st.error();
  }
  co_return out;
}

void Service::add_revocation_lookup(redis::Request& req, const AccessClaims& c) const {
  std::string uh = user_hash(c.sub);
  // One command, one slot: the jti denylist, the user's epoch, the family's marker.
  UserSlot k(s_.key_prefix, redis::key_slot(uh));
  req.begin(4)
      .arg("MGET")
      .key(k.denied_jti(c.jti))
      .key(k.revocation_epoch(uh))
      .key(k.family_marker(c.sid.empty() ? std::string_view("-") : std::string_view(c.sid)));
}

result<bool> Service::revoked(const Reply& m, const AccessClaims& c) {
  if (m.is_error()) return failed(make_error_code(errc::redis_error));
  if (!m.is_array() || m.elements.size() != 3) return failed(unexpected_reply("MGET"));
  return !m.elements[0].is_nil() || !m.elements[2].is_nil() ||
         (!m.elements[1].is_nil() && c.iat <= integer_of(m.elements[1]));
}

awaitable<result<AccessClaims>> Service::verify(redis::Connection& redis, std::string token, std::string audience,
                                                bool accept_oauth) const {
  std::int64_t now = unix_now();
  auto checked = access_.check(token, now, audience);
  if (auto* why = std::get_if<std::string>(&checked)) {
    rejected(*why, "");
    co_return make_error_code(errc::invalid_token);
  }
  auto& c = std::get<AccessClaims>(checked);
  // OAuth access tokens (a client's, whose sub may be the client itself) are another
  // population: accepted only when the caller asks, and only while their client exists.
  if (!c.client_id.empty() && !accept_oauth) {
    rejected("oauth_not_accepted", "an OAuth access token (accept_oauth not set)");
    co_return make_error_code(errc::invalid_token);
  }
  redis::Request req;
  add_revocation_lookup(req, c);
  if (!c.client_id.empty()) req.begin(2).arg("EXISTS").key(key_schema::oauth_client(s_.key_prefix, c.client_id));
  auto r = co_await redis.exec(std::move(req), "token_verify");
  if (!r) co_return r.error();
  if (r->size() != (c.client_id.empty() ? 1u : 2u)) co_return unexpected_reply("MGET");
  if (!c.client_id.empty() && ((*r)[1].is_error() || !(*r)[1].is_integer()))
    co_return make_error_code(errc::redis_error);
  if (!c.client_id.empty() && (*r)[1].integer == 0) {
    rejected("client_deleted", "its OAuth client was deleted");
    co_return make_error_code(errc::invalid_token);
  }
  auto is_revoked = revoked((*r)[0], c);
  if (!is_revoked) co_return is_revoked.error();
  if (*is_revoked) {
    rejected("revoked", "revoked (jti " + short_id(c.jti) + ")");
    co_return make_error_code(errc::invalid_token);
  }
  co_return std::move(c);
}

awaitable<result<Pair>> Service::refresh(redis::Connection& shard, std::string refresh_token, RefreshOptions o) const {
  // Writes that WAIT go on the link kept for them (Connection::durable).
  redis::Connection& redis = shard.durable();
  auto slot = key_schema::handle_slot(refresh_token, key_schema::Handle::refresh_token);
  if (!slot) co_return make_error_code(errc::invalid_grant);
  UserSlot k(s_.key_prefix, *slot);
  std::string h = crypto::sha256_base64url(refresh_token);
  std::string record = k.refresh_token(h);
  // Read the family and grant (and Redis's clock) first: the new access token must be
  // minted before the rotation script, which stores it for the grace window.
  redis::Request read;
  read.begin(1).arg("TIME");
  read.begin(5).arg("HMGET").key(record).arg("f").arg("u").arg("c");
  auto rr = co_await redis.exec(std::move(read), "token_refresh_read");
  if (!rr) co_return rr.error();
  if (rr->size() != 2 || (*rr)[1].is_error()) co_return make_error_code(errc::redis_error);
  const Reply& time = (*rr)[0];
  const Reply& rec = (*rr)[1];
  if (!time.is_array() || time.elements.empty() || !rec.is_array() || rec.elements.size() != 3)
    co_return unexpected_reply("HMGET");
  if (rec.elements[0].is_nil() || rec.elements[1].is_nil()) co_return make_error_code(errc::invalid_grant);
  std::string fid = rec.elements[0].str;
  std::string uh = rec.elements[1].str;
  std::string family = k.family(fid);
  std::optional<Grant> grant;
  if (!rec.elements[2].is_nil()) {
    auto plain = ring_.decrypt(rec.elements[2].str, family);
    if (plain) grant = open_grant_json(*plain);
  }
  std::int64_t now = integer_of(time.elements[0]);
  // A grant belongs to one OAuth client (or to /v1/tokens): presented by anyone else it is
  // invalid, and nothing changes (RFC 6749 6, RFC 6819 5.2.2.2).
  if (grant && grant->client_id != o.client_id) co_return make_error_code(errc::invalid_grant);
  // RFC 9449 5: a refresh token bound to a key is good only with a proof by that key.
  if (grant && !grant->refresh_jkt.empty() && grant->refresh_jkt != o.jkt)
    co_return make_error_code(errc::invalid_grant);
  Grant access_grant;
  if (grant) {
    access_grant = *grant;
    access_grant.jkt = o.jkt;
    if (o.scope) {
      // RFC 6749 6: the new access token may have a narrower scope; the grant keeps its own.
      if (!oauth::valid_scope(*o.scope) || !oauth::scope_within(*o.scope, grant->scope))
        co_return make_error_code(errc::invalid_scope);
      access_grant.scope = *o.scope;
    }
  }

  Pair next;
  std::string sealed_pair = "-";
  if (grant) {
    next.refresh_token = key_schema::new_handle(key_schema::Handle::refresh_token, *slot);
    next.access_token = new_access(access_grant, o.format, *slot, fid, now);
    next.expires_in = s_.access_ttl;
    next.scope = access_grant.scope;
    next.user_id = access_grant.user_id;
    next.family_id = fid;
    next.jkt = access_grant.jkt;
    json::object kept{{"a", next.access_token}, {"r", next.refresh_token}, {"s", next.scope}};
    if (!next.jkt.empty()) kept["k"] = next.jkt;
    sealed_pair = ring_.encrypt(json::serialize(kept), record);
  }
  // Without a grant (a retired token whose grant was pruned, or one that no longer decrypts)
  // the script can only answer reuse or invalid: it never rotates to an empty successor.
  std::string next_hash = grant ? crypto::sha256_base64url(next.refresh_token) : std::string();
  std::vector<std::string> keys{record,
                                family,
                                k.refresh_token(grant ? next_hash : "-"),
                                k.family_marker(fid),
                                k.family_index(uh),
                                k.migration_guard()};
  std::vector<std::string> args{h,
                                next_hash,
                                std::move(sealed_pair),
                                std::to_string(grant ? s_.grace : 0),
                                std::to_string(s_.refresh_idle_ttl),
                                std::to_string(kMarkerTtl),
                                fid,
                                k.refresh_token_prefix()};
  auto r = co_await redis.eval("token_refresh", std::move(keys), std::move(args));
  if (!r) co_return r.error();
  auto refreshed = replies::refresh(std::move(*r));
  if (!refreshed) co_return refreshed.error();
  using Outcome = replies::Refreshed::outcome;
  const Outcome outcome = refreshed->result;
  if (outcome == Outcome::rotated && grant) {
    if (o.format == AccessFormat::opaque) {
      // After the rotation: a reuse detected in between sets the family marker, which the
      // introspection of this token checks.
      if (auto st = co_await store_opaque(redis, next.access_token, access_grant, fid, now); !st) co_return st.error();
    }
    if (auto d = co_await durable(redis, *slot); !d) co_return d.error();
    co_return next;
  }
  if (outcome == Outcome::grace) {
    auto plain = ring_.decrypt(refreshed->sealed_pair, record);
    if (!plain) co_return make_error_code(errc::invalid_grant);
    boost::system::error_code ec;
    auto v = json::parse(*plain, ec);
    if (ec || !v.is_object() || !v.as_object().contains("a") || !v.as_object().contains("r"))
      co_return unexpected_reply("token_refresh grace pair");
    Pair same;
    same.access_token = std::string(v.at("a").as_string());
    same.refresh_token = std::string(v.at("r").as_string());
    same.expires_in = s_.access_ttl;
    // The scope of the pair returned, not the retry's request: the two may differ.
    const auto* stored_scope = v.as_object().if_contains("s");
    same.scope = stored_scope && stored_scope->is_string() ? std::string(stored_scope->as_string())
                 : grant                                   ? grant->scope
                                                           : "";
    if (const auto* kept = v.as_object().if_contains("k"); kept && kept->is_string())
      same.jkt = std::string(kept->as_string());
    same.family_id = fid;
    if (grant) same.user_id = grant->user_id;
    log::event(log::Level::info, "refresh retried within the grace window (family " + short_id(fid) + ")");
    co_return same;
  }
  if (outcome == Outcome::reuse) {
    count(SecurityEvent::refresh_reuse_detected);
    log::event(log::Level::warn, "refresh token reuse detected: family " + short_id(fid) + " revoked");
    if (o.events) {
      events::Event e(events::Type::refresh_reuse, grant ? grant->user_id : std::string(), "family_revoked");
      e.with("family", fid);
      if (!o.client_id.empty()) e.with("client_id", o.client_id);
      o.events->emit(std::move(e));
      o.events->grant_ended(o.client_id, grant ? grant->user_id : std::string(), fid, "refresh_reuse");
    }
    if (auto d = co_await durable(redis, *slot); !d) co_return d.error();
    co_return make_error_code(errc::invalid_grant);
  }
  if (outcome == Outcome::invalid) co_return make_error_code(errc::invalid_grant);
  co_return unexpected_reply("token_refresh");  // rotated, though the grant was unreadable: not the contract
}

awaitable<result<bool>> Service::revoke_family(redis::Connection& shard, std::uint16_t slot, std::string family_id,
                                               std::string user_hash) const {
  redis::Connection& redis = shard.durable();
  UserSlot k(s_.key_prefix, slot);
  std::vector<std::string> keys{k.family(family_id), k.family_marker(family_id), k.family_index(user_hash)};
  std::vector<std::string> args{family_id, std::to_string(kMarkerTtl)};
  auto r = co_await redis.eval("token_revoke_family", std::move(keys), std::move(args));
  if (!r) co_return failed(r.error());
  auto live = replies::revoke_family(*r);
  if (!live) co_return live;
  if (auto d = co_await durable(redis, slot); !d) co_return failed(d.error());
  log::event(log::Level::info, "refresh family " + short_id(family_id) + " revoked");
  co_return live;
}

awaitable<result<bool>> Service::revoke(redis::Connection& shard, std::string token,
                                        std::optional<std::string> client_id) const {
  // Writes that WAIT go on the link kept for them (Connection::durable).
  redis::Connection& redis = shard.durable();
  if (auto slot = key_schema::handle_slot(token, key_schema::Handle::refresh_token)) {
    UserSlot k(s_.key_prefix, *slot);
    redis::Request read;
    read.begin(5).arg("HMGET").key(k.refresh_token(crypto::sha256_base64url(token))).arg("f").arg("u").arg("c");
    auto rr = co_await redis.exec(std::move(read), "token_revoke_read");
    if (!rr) co_return failed(rr.error());
    if (rr->size() != 1 || !(*rr)[0].is_array() || (*rr)[0].elements.size() != 3)
      co_return failed(make_error_code(errc::redis_error));
    const auto& f = (*rr)[0].elements;
    if (f[0].is_nil() || f[1].is_nil()) co_return false;
    if (client_id && !f[2].is_nil()) {
      // Another client's token is left alone (RFC 7009 2.1). A retired token (its grant
      // pruned) is revoked for whoever presents it: it is a stolen copy or a mistake.
      auto plain = ring_.decrypt(f[2].str, k.family(f[0].str));
      auto g = plain ? open_grant_json(*plain) : std::nullopt;
      if (g && g->client_id != *client_id) co_return false;
    }
    co_return co_await revoke_family(redis, *slot, f[0].str, f[1].str);
  }
  if (auto slot = key_schema::handle_slot(token, key_schema::Handle::opaque_access_token)) {
    std::string key = UserSlot(s_.key_prefix, *slot).opaque_access_token(crypto::sha256_base64url(token));
    redis::Request read;
    read.begin(3).arg("HGET").key(key).arg("c");
    auto rr = co_await redis.exec(std::move(read), "token_revoke_read");
    if (!rr) co_return failed(rr.error());
    if (rr->size() != 1 || (*rr)[0].is_error()) co_return failed(make_error_code(errc::redis_error));
    if ((*rr)[0].is_nil() || (client_id && (*rr)[0].str != *client_id)) co_return false;
    redis::Request del;
    del.begin(2).arg("DEL").key(key);
    auto r = co_await redis.exec(std::move(del), "token_revoke");
    if (!r) co_return failed(r.error());
    if (r->size() != 1 || !(*r)[0].is_integer()) co_return failed(make_error_code(errc::redis_error));
    if (auto d = co_await durable(redis, *slot); !d) co_return failed(d.error());
    co_return (*r)[0].integer == 1;
  }
  // An access token: only one we signed and that has not expired is worth a denylist entry.
  std::int64_t now = unix_now();
  // The caller is revoking, not consuming the token: its audience does not matter.
  auto checked = access_.check(token, now, std::nullopt);
  auto* c = std::get_if<AccessClaims>(&checked);
  if (!c) co_return false;
  if (client_id) {
    auto intro = introspection_of(*c);
    if (intro.client_id != *client_id) co_return false;
  }
  std::string uh = user_hash(c->sub);
  UserSlot k(s_.key_prefix, redis::key_slot(uh));
  redis::Request req;
  req.begin(6)
      .arg("SET")
      .key(k.denied_jti(c->jti))
      .arg("1")
      .arg("EXAT")
      .arg(std::to_string(c->exp + s_.leeway + 1))
      .arg("NX");
  auto r = co_await redis.exec(std::move(req), "token_revoke");
  if (!r) co_return failed(r.error());
  if (r->size() != 1 || (*r)[0].is_error()) co_return failed(make_error_code(errc::redis_error));
  if (auto d = co_await durable(redis, redis::key_slot(uh)); !d) co_return failed(d.error());
  bool fresh = !(*r)[0].is_nil();
  if (fresh) log::event(log::Level::info, "access token revoked (jti " + short_id(c->jti) + ")");
  co_return fresh;
}

awaitable<result<Service::Introspected>> Service::introspect_after(redis::Connection& redis, std::string token,
                                                                   redis::Request before) const {
  const std::size_t n = before.size();
  Introspected out;
  if (auto slot = key_schema::handle_slot(token, key_schema::Handle::opaque_access_token)) {
    UserSlot k(s_.key_prefix, *slot);
    std::string key = k.opaque_access_token(crypto::sha256_base64url(token));
    std::vector<std::string> keys{key, k.migration_guard()};
    std::vector<std::string> args{k.family_marker_prefix(), k.revocation_epoch_prefix()};
    auto r = co_await redis.eval_after(std::move(before), "token_introspect", std::move(keys), std::move(args));
    if (!r) co_return r.error();
    if (r->size() != n + 1) co_return unexpected_reply("token_introspect");
    auto stored = replies::introspect(std::move(r->back()));
    if (!stored) co_return stored.error();
    if (*stored) {
      auto& e = **stored;
      Introspection i;
      i.client_id = std::move(e.client_id);
      i.scope = std::move(e.scope);
      i.audience = std::move(e.audience);
      i.iat = e.iat;
      i.exp = e.exp;
      i.sid = std::move(e.family_id);
      i.jkt = std::move(e.jkt);
      if (e.sealed_user.empty()) {
        i.sub = i.client_id;  // a client's own token
        out.token = std::move(i);
      } else if (auto uid = ring_.decrypt(e.sealed_user, key)) {
        i.sub = std::move(*uid);
        out.token = std::move(i);
      }  // else its encryption key left the ring: not usable
    }
    r->pop_back();
    out.before = std::move(*r);
    co_return out;
  }
  std::optional<AccessClaims> claims;
  if (token.find('.') != std::string::npos) {
    auto checked = access_.check(token, unix_now(), std::nullopt);
    if (auto* c = std::get_if<AccessClaims>(&checked)) claims = std::move(*c);
  }
  if (claims) add_revocation_lookup(before, *claims);
  if (before.empty()) co_return out;
  auto r = co_await redis.exec(std::move(before), "token_introspect");
  if (!r) co_return r.error();
  if (r->size() != n + (claims ? 1 : 0)) co_return unexpected_reply("token_introspect");
  if (claims) {
    auto is_revoked = revoked(r->back(), *claims);
    if (!is_revoked) co_return is_revoked.error();
    if (!*is_revoked) out.token = introspection_of(*claims);
    r->pop_back();
  }
  out.before = std::move(*r);
  co_return out;
}

awaitable<result<std::vector<Service::Family>>> Service::families(redis::Connection& redis, std::string user_id) const {
  std::string uh = user_hash(user_id);
  UserSlot k(s_.key_prefix, redis::key_slot(uh));
  redis::Request index;
  index.begin(4).arg("ZRANGE").key(k.family_index(uh)).arg("0").arg("-1");
  auto ir = co_await redis.exec(std::move(index), "token_family_index");
  if (!ir) co_return ir.error();
  if (ir->size() != 1 || !(*ir)[0].is_array()) co_return make_error_code(errc::redis_error);
  std::vector<std::string> ids;
  for (const auto& e : (*ir)[0].elements)
    if (!e.str.empty()) ids.push_back(e.str);
  std::vector<Family> out;
  if (ids.empty()) co_return out;
  // The families' records and idle deadlines, then each live token's sealed grant.
  redis::Request fams;
  for (const auto& id : ids) {
    fams.begin(7).arg("HMGET").key(k.family(id)).arg("uh").arg("ct").arg("ae").arg("le").arg("cur");
    fams.begin(2).arg("EXPIRETIME").key(k.family(id));
  }
  auto fr = co_await redis.exec(std::move(fams), "token_family_read");
  if (!fr) co_return fr.error();
  if (fr->size() != 2 * ids.size()) co_return make_error_code(errc::redis_error);
  redis::Request grants;
  std::vector<std::string> grant_of;  // family ids whose grant is asked for, in order
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const Reply& h = (*fr)[2 * i];
    const Reply& ttl = (*fr)[2 * i + 1];
    if (!h.is_array() || h.elements.size() != 5 || !ttl.is_integer()) co_return make_error_code(errc::redis_error);
    const auto& f = h.elements;
    if (f[0].is_nil() || f[0].str != uh || ttl.integer < 0) continue;  // expired or revoked meanwhile
    Family fam;
    fam.family_id = ids[i];
    fam.created_at = integer_of(f[1]);
    fam.expires_at = integer_of(f[2]);
    fam.last_used_at = integer_of(f[3]);
    fam.idle_expires_at = ttl.integer;
    out.push_back(std::move(fam));
    grants.begin(3).arg("HGET").key(k.refresh_token(f[4].str)).arg("c");
    grant_of.push_back(ids[i]);
  }
  if (out.empty()) co_return out;
  auto gr = co_await redis.exec(std::move(grants), "token_family_grant");
  if (!gr) co_return gr.error();
  if (gr->size() != out.size()) co_return make_error_code(errc::redis_error);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const Reply& c = (*gr)[i];
    if (c.is_error()) co_return make_error_code(errc::redis_error);
    if (c.is_nil()) continue;  // rotated between the reads: the family stands, its grant unread
    auto plain = ring_.decrypt(c.str, k.family(out[i].family_id));
    auto g = plain ? open_grant_json(*plain) : std::nullopt;
    if (!g) continue;
    out[i].client_id = g->client_id;
    out[i].scope = g->scope;
    out[i].audience = g->audience;
  }
  co_return out;
}

awaitable<result<bool>> Service::revoke_user_family(redis::Connection& redis, std::string user_id,
                                                    std::string family_id) const {
  std::string uh = user_hash(user_id);
  const std::uint16_t slot = redis::key_slot(uh);
  UserSlot k(s_.key_prefix, slot);
  // Only a family in this user's index: another user's family in the same slot is not hers.
  redis::Request read;
  read.begin(3).arg("ZSCORE").key(k.family_index(uh)).arg(family_id);
  auto r = co_await redis.exec(std::move(read), "token_family_member");
  if (!r) co_return failed(r.error());
  if (r->size() != 1 || (*r)[0].is_error()) co_return failed(make_error_code(errc::redis_error));
  if ((*r)[0].is_nil()) co_return false;
  co_return co_await revoke_family(redis, slot, std::move(family_id), std::move(uh));
}

awaitable<result<std::int64_t>> Service::revoke_user(redis::Connection& shard, std::string user_id) const {
  // Writes that WAIT go on the link kept for them (Connection::durable).
  redis::Connection& redis = shard.durable();
  std::string uh = user_hash(user_id);
  UserSlot k(s_.key_prefix, redis::key_slot(uh));
  std::vector<std::string> keys{k.family_index(uh), k.revocation_epoch(uh), k.code_epoch(uh), k.migration_guard()};
  std::vector<std::string> args{k.family_prefix(), std::to_string(kMarkerTtl)};
  auto r = co_await redis.eval("token_revoke_user", std::move(keys), std::move(args));
  if (!r) co_return r.error();
  auto n = replies::revoke_user(*r);
  if (!n) co_return n.error();
  if (auto d = co_await durable(redis, redis::key_slot(uh)); !d) co_return d.error();
  co_return *n;
}

namespace {
constexpr std::int64_t kNonceWindow = 60;
constexpr std::string_view kNonceContext = "latchkey dpop nonce";
}  // namespace

std::string Service::dpop_nonce(std::int64_t now) const {
  // Stateless: the sealed minute, so that every node with the encryption keys accepts it.
  return crypto::base64url_encode(ring_.encrypt(std::to_string(now / kNonceWindow), kNonceContext));
}

awaitable<outcome<dpop::Proof>> Service::accept_proof(redis::Connection& redis, std::string proof,
                                                      dpop::Expect expect) const {
  expect.now = unix_now();
  expect.leeway = s_.leeway;
  expect.max_age = s_.dpop_max_age;
  auto checked = dpop::check(proof, expect);
  if (auto* why = std::get_if<std::string>(&checked)) {
    static log::Throttle refusals("dpop_proof_refused", 10);
    refusals.event(log::Level::info, "DPoP proof refused: " + *why);
    co_return Failure(errc::invalid_dpop_proof, "DPoP proof refused (" + *why + ")");
  }
  auto& p = std::get<dpop::Proof>(checked);
  if (s_.dpop_nonce && expect.server_nonce) {
    bool fresh = false;
    if (!p.nonce.empty()) {
      auto sealed = crypto::base64url_decode(p.nonce);
      auto minute =
          sealed ? ring_.decrypt(*sealed, kNonceContext) : result<std::string>(make_error_code(errc::crypto_error));
      std::int64_t m = 0;
      if (minute && std::from_chars(minute->data(), minute->data() + minute->size(), m).ec == std::errc()) {
        std::int64_t cur = expect.now / kNonceWindow;
        fresh = m == cur || m == cur - 1;
      }
    }
    if (!fresh) co_return Failure(errc::use_dpop_nonce, "the DPoP proof must carry the nonce of the DPoP-Nonce header");
  }
  // The replay cache (RFC 9449 11.1): one key per (proof key, jti), in the key's slot, kept
  // as long as the proof could be accepted.
  UserSlot k(s_.key_prefix, redis::key_slot(p.jkt));
  redis::Request req;
  req.begin(6)
      .arg("SET")
      .key(k.dpop_jti(crypto::sha256_base64url(p.jkt + "." + p.jti)))
      .arg("1")
      .arg("NX")
      .arg("EX")
      .arg(std::to_string(s_.dpop_max_age + 2 * s_.leeway + 1));
  auto r = co_await redis.exec(std::move(req), "dpop_jti");
  if (!r) co_return r.error();
  if (r->size() != 1 || (*r)[0].is_error()) co_return make_error_code(errc::redis_error);
  if ((*r)[0].is_nil()) {
    count(SecurityEvent::dpop_proof_replayed);
    co_return Failure(errc::invalid_dpop_proof, "DPoP proof refused (replayed: its jti was seen)");
  }
  co_return std::move(p);
}

}  // namespace latchkey::tokens
