// Security events: names, the stream entry format and the JSON forms (events.hpp).
#include "latchkey/events.hpp"

#include <boost/json.hpp>

#include <array>
#include <ctime>

namespace latchkey::events {

namespace json = boost::json;

namespace {
constexpr std::array<std::string_view, kTypeCount> kNames = {
    "session_created",
    "session_destroyed",
    "session_evicted",
    "session_rotated",
    "logout_everywhere",
    "refresh_reuse",
    "code_replay",
    "token_revoked",
    "user_tokens_revoked",
    "login_failure",
    "lockout",
    "ip_blocked",
    "unlock",
    "client_created",
    "client_deleted",
    "key_added",
    "key_retired",
    "admin_auth_failure",
    "oauth_client_auth_failure",
    "console_login",
    "console_login_failure",
    "backchannel_logout",
};
static_assert(static_cast<std::size_t>(Type::backchannel_logout) + 1 == kTypeCount);

// Associated data of the sealed part: an event's ciphertext decrypts as nothing else.
constexpr std::string_view kAad = "latchkey-event-v1";

std::string rfc3339_ms(std::int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}
}  // namespace

std::string_view type_name(Type t) noexcept {
  auto i = static_cast<std::size_t>(t);
  return i < kNames.size() ? kNames[i] : std::string_view("unknown");
}

std::optional<Type> type_from(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == name) return static_cast<Type>(i);
  return std::nullopt;
}

std::string Codec::user_digest(std::string_view user_id) const { return ids_.of("event-user", user_id); }
std::string Codec::ip_digest(std::string_view ip) const { return ids_.of("event-ip", ip); }

std::vector<std::pair<std::string, std::string>> Codec::encode(const Event& e) const {
  json::object sealed;
  sealed["o"] = e.outcome;
  if (!e.user_id.empty()) sealed["u"] = e.user_id;
  if (!e.ip.empty()) sealed["ip"] = e.ip;
  if (!e.request_id.empty()) sealed["r"] = e.request_id;
  if (!e.ids.empty()) {
    json::object ids;
    for (const auto& [k, v] : e.ids) ids[k] = v;
    sealed["x"] = std::move(ids);
  }
  std::vector<std::pair<std::string, std::string>> f;
  f.reserve(5);
  f.emplace_back("t", std::string(type_name(e.type)));
  std::string ts = std::to_string(e.time_ms);
  if (e.time_us_part > 0 && e.time_us_part < 1000) {
    const std::string frac = std::to_string(e.time_us_part);
    ts += "." + std::string(3 - frac.size(), '0') + frac;  // "1796412877366.042"
  }
  f.emplace_back("ts", std::move(ts));
  if (!e.user_id.empty()) f.emplace_back("u", user_digest(e.user_id));
  if (!e.ip.empty()) f.emplace_back("i", ip_digest(e.ip));
  f.emplace_back("d", ring_.encrypt(json::serialize(sealed), kAad));
  return f;
}

std::optional<Event> Codec::decode(const std::vector<std::pair<std::string, std::string>>& fields) const {
  Event e;
  bool have_type = false;
  const std::string* sealed = nullptr;
  for (const auto& [k, v] : fields) {
    if (k == "t") {
      auto t = type_from(v);
      if (!t) return std::nullopt;
      e.type = *t;
      have_type = true;
    } else if (k == "ts") {
      try {
        e.time_ms = std::stoll(v);
        if (auto dot = v.find('.'); dot != std::string::npos) e.time_us_part = std::stoll(v.substr(dot + 1));
      } catch (...) {
        return std::nullopt;
      }
    } else if (k == "d") {
      sealed = &v;
    }
  }
  if (!have_type || !sealed) return std::nullopt;
  auto plain = ring_.decrypt(*sealed, kAad);
  if (!plain) return std::nullopt;
  boost::system::error_code ec;
  auto v = json::parse(*plain, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  auto str = [&](std::string_view name) -> std::string {
    const auto* p = o.if_contains(name);
    return p && p->is_string() ? std::string(p->as_string()) : std::string();
  };
  e.outcome = str("o");
  e.user_id = str("u");
  e.ip = str("ip");
  e.request_id = str("r");
  if (const auto* x = o.if_contains("x"); x && x->is_object())
    for (const auto& [k, val] : x->as_object())
      if (val.is_string()) e.ids.emplace_back(std::string(k), std::string(val.as_string()));
  return e;
}

json::object to_json(const Event& e, std::string_view id) {
  json::object o;
  if (!id.empty()) o["id"] = id;
  o["time"] = rfc3339_ms(e.time_ms);
  o["type"] = type_name(e.type);
  o["outcome"] = e.outcome;
  if (!e.user_id.empty()) o["user_id"] = e.user_id;
  if (!e.ip.empty()) o["ip"] = e.ip;
  if (!e.request_id.empty()) o["request_id"] = e.request_id;
  for (const auto& [k, v] : e.ids) o[k] = v;
  return o;
}

std::string to_log_line(const Event& e) {
  auto o = to_json(e);
  o["event"] = o["type"];
  o["type"] = "security_event";
  std::string line = json::serialize(o);
  line += '\n';
  return line;
}

unsigned partition_of(std::string_view user_id, std::string_view ip) noexcept {
  std::string_view s = user_id.empty() ? ip : user_id;
  std::uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h % kPartitions;
}

}  // namespace latchkey::events
