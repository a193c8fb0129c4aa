// Tokens: the Service, calling lua/token_*.lua (minting and local checks are in access.cpp).
#include "latchkey/tokens.hpp"
#include "latchkey/clock.hpp"

#include "latchkey/crypto/primitives.hpp"
#include "latchkey/log.hpp"
#include "latchkey/redis/connection.hpp"
#include "latchkey/redis/slot.hpp"
#include "../script_results.hpp"
#include "latchkey/sessions.hpp"

#include <boost/json.hpp>

#include <charconv>

namespace latchkey::tokens {

using boost::asio::awaitable;
using redis::Reply;
namespace json = boost::json;

namespace {

constexpr std::uint8_t kRefreshVersion = 2;
// Revocation markers (user epoch, family marker) must outlive every access token they cover:
// the longest configurable access-token lifetime plus the largest leeway.
constexpr std::int64_t kMarkerTtl = 86400 + 300 + 1;

using detail::bad_reply;
using detail::err;
using detail::int_of;

// A failed result<bool> (an error_code would otherwise convert to the bool).
result<bool> failed(boost::system::error_code ec) { return result<bool>(boost::system::in_place_error, ec); }

std::string short_id(std::string_view s) { return std::string(s.substr(0, 8)); }

// Key names of one user's slot.
struct Keys {
  std::string tag_prefix;  // <prefix>
  std::string tag;         // {T}
  std::string token(std::string_view h) const { return tag_prefix + "rt:" + tag + ":" + std::string(h); }
  std::string token_prefix() const { return tag_prefix + "rt:" + tag + ":"; }
  std::string family(std::string_view fid) const { return tag_prefix + "rf:" + tag + ":" + std::string(fid); }
  std::string family_prefix() const { return tag_prefix + "rf:" + tag + ":"; }
  std::string index(std::string_view uh) const { return tag_prefix + "ru:" + tag + ":" + std::string(uh); }
  std::string epoch(std::string_view uh) const { return tag_prefix + "te:" + tag + ":" + std::string(uh); }
  std::string jti(std::string_view j) const { return tag_prefix + "tj:" + tag + ":" + std::string(j); }
  std::string marker(std::string_view fid) const { return tag_prefix + "tf:" + tag + ":" + std::string(fid); }
  static Keys of(const std::string& prefix, std::uint16_t slot) { return {prefix, redis::slot_tag(slot)}; }
};

std::string seal_grant_json(const Grant& g) {
  return json::serialize(json::object{{"uid", g.user_id}, {"scope", g.scope}, {"aud", g.audience}, {"claims", g.claims_json}});
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
  return g;
}

}  // namespace

awaitable<result<void>> Service::durable(redis::Connection& redis) const {
  if (s_.wait_replicas == 0) co_return result<void>{};
  redis::Request wait;
  wait.begin(3).arg("WAIT").arg(std::to_string(s_.wait_replicas)).arg(std::to_string(s_.wait_timeout.count()));
  auto r = co_await redis.exec(std::move(wait), "wait");
  if (!r) co_return r.error();
  if (r->size() != 1 || !(*r)[0].is_integer() || (*r)[0].integer < static_cast<std::int64_t>(s_.wait_replicas)) {
    log::event(log::Level::error, "a revocation reached fewer replicas than redis_wait_replicas within the timeout");
    co_return err(errc::unavailable);
  }
  co_return result<void>{};
}

awaitable<result<Pair>> Service::issue(redis::Connection& redis, Grant g) const {
  std::string uh = sessions::user_hash(g.user_id);
  std::uint16_t slot = redis::key_slot(uh);
  Keys k = Keys::of(s_.key_prefix, slot);
  Pair out;
  out.refresh_token = redis::new_handle(kRefreshVersion, slot);
  std::string fid = crypto::random_token(16);
  std::string family = k.family(fid);
  std::string sealed = ring_.encrypt(seal_grant_json(g), family);
  std::string refresh_hash = crypto::sha256_base64url(out.refresh_token);
  std::vector<std::string> keys{family, k.token(refresh_hash), k.index(uh), k.epoch(uh)};
  std::vector<std::string> args{fid,
                                uh,
                                std::move(sealed),
                                std::to_string(s_.refresh_absolute_ttl),
                                std::to_string(s_.refresh_idle_ttl),
                                refresh_hash,
                                std::to_string(s_.max_families),
                                k.family_prefix()};
  auto r = co_await redis.eval("token_issue", std::move(keys), std::move(args));
  if (!r) co_return r.error();
  if (r->is_error()) co_return err(errc::redis_error);
  if (!r->is_array() || r->elements.size() != 2) co_return bad_reply("token_issue");
  // Redis's clock for iat; strictly after a "revoke all" of this very second.
  std::int64_t now = std::max(int_of(r->elements[0]), int_of(r->elements[1]) + 1);
  out.access_token = access_.mint(g, crypto::random_token(16), fid, now);
  out.expires_in = s_.access_ttl;
  co_return out;
}

awaitable<result<AccessClaims>> Service::verify(redis::Connection& redis, std::string token, std::string audience) const {
  std::int64_t now = unix_now();
  auto checked = access_.check(token, now, audience);
  if (auto* why = std::get_if<std::string>(&checked)) {
    log::event(log::Level::info, "access token rejected: " + *why);
    co_return err(errc::invalid_token);
  }
  auto& c = std::get<AccessClaims>(checked);
  std::string uh = sessions::user_hash(c.sub);
  const std::string& tag = redis::slot_tag(redis::key_slot(uh));
  // One command, one slot: the jti denylist, the user's epoch, the family's marker. Key
  // names are written straight into the command (this is the hot path).
  auto name = [&](std::string& out, const char* kind, std::string_view id) {
    out.reserve(s_.key_prefix.size() + 4 + tag.size() + id.size());
    out.append(s_.key_prefix).append(kind).append(tag).push_back(':');
    out.append(id);
  };
  std::string jti_key, epoch_key, marker_key;
  name(jti_key, "tj:", c.jti);
  name(epoch_key, "te:", uh);
  name(marker_key, "tf:", c.sid.empty() ? std::string_view("-") : std::string_view(c.sid));
  redis::Request req;
  req.begin(4).arg("MGET").arg(jti_key).arg(epoch_key).arg(marker_key);
  auto r = co_await redis.exec(std::move(req), "token_verify");
  if (!r) co_return r.error();
  if (r->size() != 1) co_return bad_reply("MGET");
  const Reply& m = (*r)[0];
  if (m.is_error()) co_return err(errc::redis_error);
  if (!m.is_array() || m.elements.size() != 3) co_return bad_reply("MGET");
  if (!m.elements[0].is_nil() || !m.elements[2].is_nil() ||
      (!m.elements[1].is_nil() && c.iat <= int_of(m.elements[1]))) {
    log::event(log::Level::info, "access token rejected: revoked (jti " + short_id(c.jti) + ")");
    co_return err(errc::invalid_token);
  }
  co_return std::move(c);
}

awaitable<result<Pair>> Service::refresh(redis::Connection& redis, std::string refresh_token) const {
  auto slot = redis::handle_slot(refresh_token, kRefreshVersion);
  if (!slot) co_return err(errc::invalid_grant);
  Keys k = Keys::of(s_.key_prefix, *slot);
  std::string h = crypto::sha256_base64url(refresh_token);
  std::string record = k.token(h);
  // Read the family and grant (and Redis's clock) first: the new access token must be
  // minted before the rotation script, which stores it for the grace window.
  redis::Request read;
  read.begin(1).arg("TIME");
  read.begin(5).arg("HMGET").arg(record).arg("f").arg("u").arg("c");
  auto rr = co_await redis.exec(std::move(read), "token_refresh_read");
  if (!rr) co_return rr.error();
  if (rr->size() != 2 || (*rr)[1].is_error()) co_return err(errc::redis_error);
  const Reply& time = (*rr)[0];
  const Reply& rec = (*rr)[1];
  if (!time.is_array() || time.elements.empty() || !rec.is_array() || rec.elements.size() != 3) co_return bad_reply("HMGET");
  if (rec.elements[0].is_nil() || rec.elements[1].is_nil()) co_return err(errc::invalid_grant);
  std::string fid = rec.elements[0].str;
  std::string uh = rec.elements[1].str;
  std::string family = k.family(fid);
  std::optional<Grant> grant;
  if (!rec.elements[2].is_nil()) {
    auto plain = ring_.decrypt(rec.elements[2].str, family);
    if (plain) grant = open_grant_json(*plain);
  }
  std::int64_t now = int_of(time.elements[0]);

  Pair next;
  std::string sealed_pair = "-";
  if (grant) {
    next.refresh_token = redis::new_handle(kRefreshVersion, *slot);
    next.access_token = access_.mint(*grant, crypto::random_token(16), fid, now);
    next.expires_in = s_.access_ttl;
    sealed_pair = ring_.encrypt(json::serialize(json::object{{"a", next.access_token}, {"r", next.refresh_token}}), record);
  }
  // Without a grant (a retired token whose grant was pruned, or one that no longer decrypts)
  // the script can only answer reuse or invalid: it never rotates to an empty successor.
  std::string next_hash = grant ? crypto::sha256_base64url(next.refresh_token) : std::string();
  std::vector<std::string> keys{record, family, k.token(grant ? next_hash : "-"), k.marker(fid),
                                k.index(uh)};
  std::vector<std::string> args{h,
                                next_hash,
                                std::move(sealed_pair),
                                std::to_string(grant ? s_.grace : 0),
                                std::to_string(s_.refresh_idle_ttl),
                                std::to_string(kMarkerTtl),
                                fid,
                                k.token_prefix()};
  auto r = co_await redis.eval("token_refresh", std::move(keys), std::move(args));
  if (!r) co_return r.error();
  if (r->is_error()) co_return err(errc::redis_error);
  if (!r->is_array() || r->elements.empty()) co_return bad_reply("token_refresh");
  const std::string& outcome = r->elements[0].str;
  if (outcome == "rotated" && grant) {
    if (auto d = co_await durable(redis); !d) co_return d.error();
    co_return next;
  }
  if (outcome == "grace" && r->elements.size() == 2) {
    auto plain = ring_.decrypt(r->elements[1].str, record);
    if (!plain) co_return err(errc::invalid_grant);
    boost::system::error_code ec;
    auto v = json::parse(*plain, ec);
    if (ec || !v.is_object() || !v.as_object().contains("a") || !v.as_object().contains("r"))
      co_return bad_reply("token_refresh grace pair");
    Pair same;
    same.access_token = std::string(v.at("a").as_string());
    same.refresh_token = std::string(v.at("r").as_string());
    same.expires_in = s_.access_ttl;
    log::event(log::Level::info, "refresh retried within the grace window (family " + short_id(fid) + ")");
    co_return same;
  }
  if (outcome == "reuse") {
    log::event(log::Level::warn, "refresh token reuse detected: family " + short_id(fid) + " revoked");
    if (auto d = co_await durable(redis); !d) co_return d.error();
    co_return err(errc::invalid_grant);
  }
  if (outcome == "invalid") co_return err(errc::invalid_grant);
  co_return bad_reply("token_refresh");
}

awaitable<result<bool>> Service::revoke(redis::Connection& redis, std::string token) const {
  if (auto slot = redis::handle_slot(token, kRefreshVersion)) {
    Keys k = Keys::of(s_.key_prefix, *slot);
    redis::Request read;
    read.begin(4).arg("HMGET").arg(k.token(crypto::sha256_base64url(token))).arg("f").arg("u");
    auto rr = co_await redis.exec(std::move(read), "token_revoke_read");
    if (!rr) co_return failed(rr.error());
    if (rr->size() != 1 || !(*rr)[0].is_array() || (*rr)[0].elements.size() != 2) co_return failed(err(errc::redis_error));
    const auto& f = (*rr)[0].elements;
    if (f[0].is_nil() || f[1].is_nil()) co_return false;
    std::vector<std::string> keys{k.family(f[0].str), k.marker(f[0].str), k.index(f[1].str)};
    std::vector<std::string> args{f[0].str, std::to_string(kMarkerTtl)};
    auto r = co_await redis.eval("token_revoke_family", std::move(keys), std::move(args));
    if (!r) co_return failed(r.error());
    if (r->is_error()) co_return failed(err(errc::redis_error));
    if (auto d = co_await durable(redis); !d) co_return failed(d.error());
    log::event(log::Level::info, "refresh family " + short_id(f[0].str) + " revoked");
    co_return r->is_integer() && r->integer == 1;
  }
  // An access token: only one we signed and that has not expired is worth a denylist entry.
  std::int64_t now = unix_now();
  // The caller is revoking, not consuming the token: its audience does not matter.
  auto checked = access_.check(token, now, std::nullopt);
  auto* c = std::get_if<AccessClaims>(&checked);
  if (!c) co_return false;
  std::string uh = sessions::user_hash(c->sub);
  Keys k = Keys::of(s_.key_prefix, redis::key_slot(uh));
  redis::Request req;
  req.begin(6).arg("SET").arg(k.jti(c->jti)).arg("1").arg("EXAT").arg(std::to_string(c->exp + s_.leeway + 1)).arg("NX");
  auto r = co_await redis.exec(std::move(req), "token_revoke");
  if (!r) co_return failed(r.error());
  if (r->size() != 1 || (*r)[0].is_error()) co_return failed(err(errc::redis_error));
  if (auto d = co_await durable(redis); !d) co_return failed(d.error());
  bool fresh = !(*r)[0].is_nil();
  if (fresh) log::event(log::Level::info, "access token revoked (jti " + short_id(c->jti) + ")");
  co_return fresh;
}

awaitable<result<std::int64_t>> Service::revoke_user(redis::Connection& redis, std::string user_id) const {
  std::string uh = sessions::user_hash(user_id);
  Keys k = Keys::of(s_.key_prefix, redis::key_slot(uh));
  std::vector<std::string> keys{k.index(uh), k.epoch(uh)};
  std::vector<std::string> args{k.family_prefix(), std::to_string(kMarkerTtl)};
  auto r = co_await redis.eval("token_revoke_user", std::move(keys), std::move(args));
  if (!r) co_return r.error();
  if (r->is_error()) co_return err(errc::redis_error);
  if (!r->is_integer()) co_return bad_reply("token_revoke_user");
  if (auto d = co_await durable(redis); !d) co_return d.error();
  co_return r->integer;
}

}  // namespace latchkey::tokens
