// The handshake request and its verdict (see handshake.hpp).
#include "engine/redis/handshake.hpp"

namespace latchkey::redis {
namespace {

bool is_evicting(std::string_view policy) { return policy != "noeviction"; }

// The positions of each command in the request (npos when not sent).
struct Layout {
  static constexpr std::size_t none = static_cast<std::size_t>(-1);
  std::size_t auth = none, select = none, role = none, config = none, scripts = none, total = 0;
};

Layout layout(const HandshakePlan& p) {
  Layout l;
  std::size_t i = 0;
  if (!p.node->password.empty()) l.auth = i++;
  if (p.node->db != 0) l.select = i++;
  if (p.expect_master) l.role = i++;
  l.config = i++;
  if (p.scripts && !p.scripts->all().empty()) {
    l.scripts = i;
    i += p.scripts->all().size();
  }
  l.total = i;
  return l;
}

}  // namespace

Request handshake_request(const HandshakePlan& p) {
  Request r;
  const Endpoint& ep = *p.node;
  if (!ep.password.empty()) {
    if (ep.user.empty())
      r.push({"AUTH", ep.password});
    else
      r.push({"AUTH", ep.user, ep.password});
  }
  if (ep.db != 0) r.push(std::vector<std::string>{"SELECT", std::to_string(ep.db)});
  if (p.expect_master) r.push({"ROLE"});
  r.push({"CONFIG", "GET", "maxmemory-policy"});
  if (p.scripts)
    for (const auto& s : p.scripts->all()) r.push({"SCRIPT", "LOAD", s.source});
  return r;
}

HandshakeVerdict check_handshake(const HandshakePlan& p, const Replies& replies) {
  using O = HandshakeVerdict::Outcome;
  HandshakeVerdict v;
  const Layout l = layout(p);
  auto fail = [&](O o, std::string why) {
    v.outcome = o;
    v.message = std::move(why);
    return v;
  };
  if (replies.size() != l.total) return fail(O::failed, "the handshake got a reply of the wrong length");

  if (l.auth != Layout::none && replies[l.auth].is_error())
    return fail(O::credentials, "Redis refused the credentials in redis_url (" + replies[l.auth].str +
                                    "): check its user and password");
  // A command answered NOAUTH: Redis wants a password the URL does not give.
  for (const auto& rep : replies)
    if (rep.is_error() && rep.str.starts_with("NOAUTH"))
      return fail(O::credentials, "Redis requires a password (" + rep.str +
                                      "): give one in redis_url, redis://:PASSWORD@host:port or "
                                      "redis://USER:PASSWORD@host:port");
  for (const auto& rep : replies)
    if (rep.is_error() && rep.error_code() == "LOADING")
      return fail(O::failed, "Redis is loading its data set into memory (LOADING)");
  if (l.select != Layout::none && replies[l.select].is_error())
    return fail(O::failed, "SELECT refused: " + replies[l.select].str);
  if (l.role != Layout::none) {
    const Reply& role = replies[l.role];
    if (!role.is_array() || role.elements.empty() || !role.elements[0].is_string())
      return fail(O::not_master,
                  "ROLE gave no usable answer (" + (role.is_error() ? role.str : "unexpected reply") + ")");
    if (role.elements[0].str != "master")
      return fail(O::not_master, "the node the sentinels named says ROLE " + role.elements[0].str +
                                     ", not master (a failover in progress, or a stale sentinel)");
  }

  const Reply& cfg = replies[l.config];
  if (cfg.is_error() || !cfg.is_array() || cfg.elements.size() != 2) {
    v.warnings.push_back("cannot read maxmemory-policy (" +
                         (cfg.is_error() ? cfg.str : std::string("unexpected reply")) +
                         "); make sure the server uses 'noeviction', or revocations, lockouts and sessions can be "
                         "evicted before they expire");
  } else {
    v.eviction_policy = cfg.elements[1].str;
    if (is_evicting(v.eviction_policy) && !p.allow_eviction)
      return fail(O::eviction, "Redis maxmemory-policy is '" + v.eviction_policy +
                                   "': every key latchkey writes has a TTL, so an evicting policy (even volatile-*) "
                                   "silently drops revocations, lockouts and sessions under memory pressure. Set "
                                   "'maxmemory-policy noeviction' on the server, or set redis_allow_eviction=true to "
                                   "accept that risk.");
  }

  if (l.scripts != Layout::none)
    for (std::size_t i = 0; i < p.scripts->all().size(); ++i) {
      const Reply& rep = replies[l.scripts + i];
      const Script& s = p.scripts->all()[i];
      if (rep.is_error() || rep.str != s.sha1)
        return fail(O::failed, "SCRIPT LOAD of " + s.name + " failed: " + rep.str);
    }
  v.outcome = O::ready;
  return v;
}

}  // namespace latchkey::redis
