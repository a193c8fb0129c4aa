// Access tokens, the pure part: minting and local verification (no I/O; also built into the
// fuzzing targets).
#include "latchkey/json_names.hpp"
#include "latchkey/config.hpp"
#include "latchkey/tokens.hpp"

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include <algorithm>
#include <cctype>

namespace latchkey::tokens {
namespace json = boost::json;

Settings Settings::from(const Config& c) {
  Settings s;
  s.key_prefix = c.key_prefix;
  s.issuer = c.token_issuer;
  s.access_ttl = c.token_access_ttl.count();
  s.leeway = c.token_leeway.count();
  s.allowed = crypto::jws::AlgSet::parse(c.token_algorithms).value_or(crypto::jws::AlgSet{});
  s.refresh_idle_ttl = c.token_refresh_idle_ttl.count();
  s.refresh_absolute_ttl = c.token_refresh_absolute_ttl.count();
  s.grace = c.token_refresh_grace.count();
  s.max_bytes = c.token_max_bytes;
  s.max_families = c.token_max_families_per_user;
  s.wait_replicas = c.redis_wait_replicas;
  s.wait_timeout = c.redis_wait_timeout;
  s.dpop_nonce = c.oauth_dpop_nonce;
  s.dpop_max_age = c.oauth_dpop_proof_max_age.count();
  return s;
}

bool reserved_claim(std::string_view name) noexcept {
  static constexpr std::string_view kReserved[] = {
      "iss",       "sub",       "aud", "exp", "nbf",   "iat",     "jti",      // RFC 7519 4.1
      "scope",     "client_id", "sid", "typ", "cnf",   "act",     "may_act",  // RFC 9068, 8693, 7800
      "auth_time", "acr",       "amr", "azp", "nonce", "at_hash", "c_hash"};  // OpenID Connect
  return std::find(std::begin(kReserved), std::end(kReserved), name) != std::end(kReserved);
}

namespace {

crypto::jws::VerifyOptions verify_options(const Settings& s) {
  crypto::jws::VerifyOptions o;
  o.allowed = s.allowed;
  o.max_bytes = s.max_bytes;
  o.require_kid = true;
  o.json_payload = false;  // the claims are read by ClaimsReader below, without a DOM
  return o;
}

// The registered claims of a payload, read in one SAX pass (no DOM, no per-member
// allocation): the payload is validated as JSON in full, but only top-level members latchkey
// checks are kept. For a duplicated name the last one wins, as in a DOM parse.
class ClaimsReader {
 public:
  enum class State : std::uint8_t { absent, ok, bad };
  struct Str {
    State state = State::absent;
    std::string value;
  };
  struct Int {
    State state = State::absent;
    std::int64_t value = 0;
  };
  struct Claims {
    bool object = false;
    Str iss, sub, jti, sid, client_id;
    Int exp, iat, nbf;
    State aud_state = State::absent;
    std::vector<std::string> aud;
  };

  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  Claims claims;

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) {
    if (depth_ == 0)
      claims.object = true;
    else
      value_is_other();
    names_.begin();
    ++depth_;
    return depth_ <= 16;
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    --depth_;
    return names_.end();  // a repeated member name refuses the token (RFC 7519 4)
  }
  bool on_array_begin(boost::system::error_code&) {
    if (depth_ == 1 && key_ == Key::aud) {
      claims.aud_state = State::ok;
      claims.aud.clear();
      in_aud_ = true;
    } else {
      value_is_other();
    }
    ++depth_;
    return depth_ <= 16;
  }
  bool on_array_end(std::size_t, boost::system::error_code&) {
    --depth_;
    if (depth_ == 1) in_aud_ = false;
    return true;
  }
  bool on_key_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    buf_.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    buf_.append(s.data(), s.size());
    names_.name(buf_);
    if (depth_ == 1) key_ = key_of(buf_);
    buf_.clear();
    return true;
  }
  bool on_string_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    if (wanted_string()) buf_.append(s.data(), s.size());
    return true;
  }
  bool on_string(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    if (!wanted_string()) return true;
    buf_.append(s.data(), s.size());
    if (in_aud_ && depth_ == 2) {
      if (claims.aud_state == State::ok) claims.aud.push_back(std::move(buf_));
    } else if (depth_ == 1) {
      if (key_ == Key::aud) {
        claims.aud_state = State::ok;
        claims.aud.assign(1, std::move(buf_));
      } else if (Str* t = str_target()) {
        t->state = State::ok;
        t->value = std::move(buf_);
      } else if (Int* i = int_target()) {
        i->state = State::bad;
      }
    }
    buf_.clear();
    return true;
  }
  bool on_number_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t v, boost::json::string_view, boost::system::error_code&) { return on_integer(true, v); }
  bool on_uint64(std::uint64_t v, boost::json::string_view, boost::system::error_code&) {
    return on_integer(v <= static_cast<std::uint64_t>(INT64_MAX), static_cast<std::int64_t>(v));
  }
  bool on_double(double, boost::json::string_view, boost::system::error_code&) {
    value_is_other();
    return true;
  }
  bool on_bool(bool, boost::system::error_code&) {
    value_is_other();
    return true;
  }
  bool on_null(boost::system::error_code&) {
    value_is_other();
    return true;
  }
  bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }

 private:
  enum class Key : std::uint8_t { other, iss, sub, jti, sid, exp, iat, nbf, aud, client_id };
  static Key key_of(std::string_view k) {
    static constexpr std::pair<std::string_view, Key> kKeys[] = {
        {"iss", Key::iss}, {"sub", Key::sub}, {"jti", Key::jti},
        {"sid", Key::sid}, {"exp", Key::exp}, {"iat", Key::iat},
        {"nbf", Key::nbf}, {"aud", Key::aud}, {"client_id", Key::client_id}};
    for (const auto& [name, key] : kKeys)
      if (k == name) return key;
    return Key::other;
  }
  bool wanted_string() const { return (depth_ == 1 && key_ != Key::other) || (in_aud_ && depth_ == 2); }
  Str* str_target() {
    switch (key_) {
      case Key::iss: return &claims.iss;
      case Key::sub: return &claims.sub;
      case Key::jti: return &claims.jti;
      case Key::sid: return &claims.sid;
      case Key::client_id: return &claims.client_id;
      default: return nullptr;
    }
  }
  Int* int_target() {
    switch (key_) {
      case Key::exp: return &claims.exp;
      case Key::iat: return &claims.iat;
      case Key::nbf: return &claims.nbf;
      default: return nullptr;
    }
  }
  // A top-level member of a type its claim does not allow; or a member of the aud array that
  // is not a string (RFC 7519 4.1.3: the claim is then malformed).
  void value_is_other() {
    if (in_aud_ && depth_ == 2) claims.aud_state = State::bad;
    if (depth_ != 1) return;
    if (Str* t = str_target()) t->state = State::bad;
    if (Int* i = int_target()) i->state = State::bad;
    if (key_ == Key::aud) claims.aud_state = State::bad;
  }
  bool on_integer(bool fits, std::int64_t v) {
    if (depth_ != 1) {
      value_is_other();
      return true;
    }
    if (Int* i = int_target()) {
      i->state = fits ? State::ok : State::bad;
      i->value = v;
    } else {
      value_is_other();
    }
    return true;
  }

  int depth_ = 0;
  Key key_ = Key::other;
  bool in_aud_ = false;
  std::string buf_;
  detail::DuplicateNames names_;
};

std::optional<ClaimsReader::Claims> read_claims(std::string_view payload) {
  boost::json::basic_parser<ClaimsReader> p{boost::json::parse_options{}};
  boost::system::error_code ec;
  std::size_t n = p.write_some(false, payload.data(), payload.size(), ec);
  if (ec || n != payload.size() || !p.handler().claims.object) return std::nullopt;
  return std::move(p.handler().claims);
}

bool typ_is_access_token(std::string_view typ) {
  auto lower = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) == y;
           });
  };
  return lower(typ, "at+jwt") || lower(typ, "application/at+jwt");  // RFC 9068 2.1, RFC 7515 4.1.9
}

const json::string* string_claim(const json::object& c, std::string_view name) {
  const auto* v = c.if_contains(name);
  return v && v->is_string() ? &v->as_string() : nullptr;
}

}  // namespace

AccessTokens::AccessTokens(const crypto::SigningRing& ring, const Settings& s)
    : ring_(ring), s_(s), verifier_(ring.verification_keys(), verify_options(s)) {}

std::string AccessTokens::mint(const Grant& g, std::string_view jti, std::string_view sid, std::int64_t now) const {
  const auto& key = ring_.signer(now);
  json::object header{{"alg", crypto::jws::alg_name(key.alg())}, {"kid", key.kid()}, {"typ", "at+jwt"}};
  // A client's own grant (client_credentials) has the client as its subject (RFC 9068 2.2).
  json::object claims{{"iss", s_.issuer}, {"sub", g.user_id.empty() ? g.client_id : g.user_id}};
  if (!g.audience.empty()) claims["aud"] = g.audience;
  claims["iat"] = now;
  claims["nbf"] = now;
  claims["exp"] = now + s_.access_ttl;
  claims["jti"] = jti;
  if (!sid.empty()) claims["sid"] = sid;
  if (!g.client_id.empty()) claims["client_id"] = g.client_id;
  if (!g.scope.empty()) claims["scope"] = g.scope;
  if (!g.jkt.empty()) claims["cnf"] = json::object{{"jkt", g.jkt}};  // RFC 9449 6.1
  if (g.claims_json != "{}") {
    json::value custom = json::parse(g.claims_json);
    for (auto& [k, v] : custom.as_object())
      if (!reserved_claim(k)) claims[k] = v;
  }
  return crypto::jws::sign_compact(key, json::serialize(header), json::serialize(claims));
}

std::variant<AccessClaims, std::string> AccessTokens::check(std::string_view token, std::int64_t now,
                                                            std::optional<std::string_view> audience) const {
  // Header and claims live in a buffer on this stack frame: no heap traffic for small tokens.
  unsigned char buffer[4096];
  json::monotonic_resource arena(buffer, sizeof buffer);
  auto r = verifier_.verify(token, json::storage_ptr(&arena));
  if (auto* why = std::get_if<crypto::jws::Reject>(&r)) return std::string(crypto::jws::reject_name(*why));
  auto& v = std::get<crypto::jws::Verified>(r);
  if (const auto* entry = ring_.find(v.key->kid()); !entry || entry->expired(now)) return std::string("key_expired");
  const auto* typ = string_claim(v.header, "typ");
  if (!typ || !typ_is_access_token(*typ)) return std::string("wrong_typ");
  auto read = read_claims(v.payload);
  if (!read) return std::string("bad_payload");
  const auto& c = *read;
  using S = ClaimsReader::State;
  if (c.iss.state != S::ok || c.iss.value != s_.issuer) return std::string("wrong_iss");
  if (c.sub.state != S::ok || c.sub.value.empty() || c.jti.state != S::ok || c.jti.value.empty() ||
      c.jti.value.size() > 128 || c.exp.state != S::ok || c.iat.state != S::ok)
    return std::string("missing_claim");
  if (now - s_.leeway >= c.exp.value) return std::string("expired");
  if (c.nbf.state == S::bad) return std::string("missing_claim");
  if (c.nbf.state == S::ok && now + s_.leeway < c.nbf.value) return std::string("not_yet_valid");
  if (c.iat.value > now + s_.leeway) return std::string("issued_in_future");
  // Audience (RFC 8725 3.9, RFC 9068 4): exact match against the caller's identity.
  if (audience) {
    bool aud_ok = false;
    if (c.aud_state == S::ok) {
      for (const auto& a : c.aud) aud_ok = aud_ok || (!audience->empty() && a == *audience);
    } else if (c.aud_state == S::absent) {
      aud_ok = audience->empty();
    }
    if (!aud_ok) return std::string("wrong_aud");
  }
  AccessClaims out;
  out.payload_json = std::move(v.payload);
  out.sub = std::move(read->sub.value);
  out.jti = std::move(read->jti.value);
  if (read->sid.state == S::ok) out.sid = std::move(read->sid.value);
  if (read->client_id.state == S::bad) return std::string("missing_claim");
  if (read->client_id.state == S::ok) out.client_id = std::move(read->client_id.value);
  // A DPoP-bound token (RFC 9449 6.1). Only tokens latchkey signed get here, and it never
  // escapes member names, so a payload without the text "cnf" has no cnf claim.
  if (out.payload_json.find("\"cnf\"") != std::string::npos) {
    boost::system::error_code ec;
    auto doc = json::parse(out.payload_json, ec);
    const auto* cnf = !ec && doc.is_object() ? doc.as_object().if_contains("cnf") : nullptr;
    const auto* jkt = cnf && cnf->is_object() ? string_claim(cnf->as_object(), "jkt") : nullptr;
    if (cnf && !jkt) return std::string("bad_cnf");
    if (jkt) out.jkt = std::string(*jkt);
  }
  out.iat = read->iat.value;
  out.exp = read->exp.value;
  return out;
}

}  // namespace latchkey::tokens
