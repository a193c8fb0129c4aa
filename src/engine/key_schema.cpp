// The key schema (docs/redis.md): the names of every Redis key latchkey writes.
#include "latchkey/key_schema.hpp"

namespace latchkey::key_schema {
namespace {
std::string join(std::string_view a, std::string_view b, std::string_view c = {}, std::string_view d = {}) {
  std::string k;
  k.reserve(a.size() + b.size() + c.size() + d.size());
  k += a;
  k += b;
  k += c;
  k += d;
  return k;
}
}  // namespace

UserSlot::UserSlot(std::string_view key_prefix, std::uint16_t slot)
    : prefix_(key_prefix), slot_(slot), tag_(redis::slot_tag(slot)) {}

std::string UserSlot::key(std::string_view family, std::string_view id) const {
  std::string k;
  k.reserve(prefix_.size() + family.size() + tag_.size() + 1 + id.size());
  k += prefix_;
  k += family;
  k += tag_;
  k += ':';
  k += id;
  return k;
}

std::string UserSlot::migration_guard() const { return join(prefix_, "mg:", tag_); }

std::string oauth_client(std::string_view key_prefix, std::string_view client_id) {
  return join(key_prefix, "oc:", client_id);
}
std::string oauth_client_index(std::string_view key_prefix) { return join(key_prefix, "ocs"); }

std::string login_ip(std::string_view key_prefix, std::string_view id) { return join(key_prefix, "lp:", id); }
std::string ratelimit_fixed_window(std::string_view key_prefix, std::string_view id) {
  return join(key_prefix, "rl:f:", id);
}
std::string ratelimit_gcra(std::string_view key_prefix, std::string_view id) { return join(key_prefix, "rl:g:", id); }
std::string ratelimit_sliding_log(std::string_view key_prefix, std::string_view id) {
  return join(key_prefix, "rl:s:{", id, "}");
}
std::string ratelimit_sliding_count(std::string_view key_prefix, std::string_view id) {
  return join(key_prefix, "rl:s:{", id, "}:n");
}
std::string events_stream(std::string_view key_prefix, unsigned partition) {
  return join(key_prefix, "ev:{ev" + std::to_string(partition) + "}");
}
std::string readiness_probe(std::string_view key_prefix) { return join(key_prefix, "probe:{readyz}"); }

}  // namespace latchkey::key_schema
