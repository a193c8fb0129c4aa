// The pure part of the Redis Cluster client (see cluster_map.hpp).
#include "engine/redis/cluster_map.hpp"

#include "engine/redis/errors.hpp"
#include "latchkey/redis/slot.hpp"

#include <algorithm>
#include <charconv>

namespace latchkey::redis {

namespace {
bool parse_uint(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// host:port with the port after the last colon (IPv6 hosts keep their colons).
std::optional<HostPort> parse_node(std::string_view s) {
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::uint64_t port = 0;
  std::string_view port_text = s.substr(colon + 1);
  if (auto at = port_text.find('@'); at != std::string_view::npos) port_text = port_text.substr(0, at);
  if (!parse_uint(port_text, port) || port == 0 || port > 65535) return std::nullopt;
  std::string_view host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return HostPort{std::string(host), static_cast<std::uint16_t>(port)};
}

bool is_refused_for_now(std::string_view code) {
  return code == "TRYAGAIN" || code == "CLUSTERDOWN" || code == "LOADING" || code == "MASTERDOWN" || code == "BUSY" ||
         code == "NOREPLICAS";
}
}  // namespace

std::optional<SlotMap> SlotMap::from_cluster_slots(const Reply& r, const HostPort& asked, std::string& why) {
  if (!r.is_array()) {
    why = r.is_error() ? "CLUSTER SLOTS refused: " + r.str.substr(0, 120) : "CLUSTER SLOTS gave no array";
    return std::nullopt;
  }
  SlotMap m;
  for (const auto& range : r.elements) {
    if (!range.is_array() || range.elements.size() < 3 || !range.elements[0].is_integer() ||
        !range.elements[1].is_integer() || !range.elements[2].is_array() || range.elements[2].elements.size() < 2) {
      why = "CLUSTER SLOTS: a range of the wrong shape";
      return std::nullopt;
    }
    const auto first = range.elements[0].integer, last = range.elements[1].integer;
    if (first < 0 || last < first || last >= kSlotCount) {
      why = "CLUSTER SLOTS: a range outside 0-16383";
      return std::nullopt;
    }
    const auto& node = range.elements[2].elements;
    if (!node[0].is_string() || !node[1].is_integer() || node[1].integer <= 0 || node[1].integer > 65535) {
      why = "CLUSTER SLOTS: a node of the wrong shape";
      return std::nullopt;
    }
    if (node[0].str == "?") continue;  // the node's endpoint is unknown: unserved
    HostPort hp{node[0].str.empty() ? asked.host : node[0].str, static_cast<std::uint16_t>(node[1].integer)};
    auto idx = m.index_of(hp);
    std::fill(m.owner_.begin() + first, m.owner_.begin() + last + 1, idx);
  }
  for (auto o : m.owner_)
    if (o != kNone) ++m.slots_of_[o];
  return m;
}

std::vector<HostPort> SlotMap::masters() const {
  std::vector<HostPort> out;
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (slots_of_[i] > 0) out.push_back(nodes_[i]);
  return out;
}

std::uint16_t SlotMap::index_of(const HostPort& node) {
  auto it = std::find(nodes_.begin(), nodes_.end(), node);
  if (it != nodes_.end()) return static_cast<std::uint16_t>(it - nodes_.begin());
  nodes_.push_back(node);
  slots_of_.push_back(0);
  return static_cast<std::uint16_t>(nodes_.size() - 1);
}

const HostPort* SlotMap::master_of(std::uint16_t slot) const noexcept {
  if (slot >= kSlotCount || owner_[slot] == kNone) return nullptr;
  return &nodes_[owner_[slot]];
}

void SlotMap::assign(std::uint16_t slot, const HostPort& node) {
  if (slot >= kSlotCount) return;
  const auto to = index_of(node);
  if (owner_[slot] != kNone) --slots_of_[owner_[slot]];
  owner_[slot] = to;
  ++slots_of_[to];
}

std::size_t SlotMap::served() const noexcept {
  return static_cast<std::size_t>(std::count_if(owner_.begin(), owner_.end(), [](auto o) { return o != kNone; }));
}

bool SlotMap::complete() const noexcept { return served() == kSlotCount; }

std::optional<Redirect> parse_redirect(const Reply& r) {
  std::string_view code = r.error_code();
  if (code != "MOVED" && code != "ASK") return std::nullopt;
  std::string_view rest = std::string_view(r.str).substr(code.size());
  if (rest.empty() || rest.front() != ' ') return std::nullopt;
  rest.remove_prefix(1);
  auto space = rest.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  std::uint64_t slot = 0;
  if (!parse_uint(rest.substr(0, space), slot) || slot >= kSlotCount) return std::nullopt;
  auto node = parse_node(rest.substr(space + 1));
  if (!node) return std::nullopt;
  return Redirect{code == "MOVED" ? Redirect::Kind::moved : Redirect::Kind::ask, static_cast<std::uint16_t>(slot),
                  std::move(*node)};
}

ClusterStep decide(const Replies& replies, const HostPort* asked, std::uint64_t keyless) {
  std::size_t redirected = 0, refused = 0, readonly = 0, skipped = 0;
  std::optional<Redirect> first;
  bool same_target = true;
  auto is_keyless = [keyless](std::size_t i) { return i < 64 && ((keyless >> i) & 1U) != 0; };
  bool any_keyed = false;
  for (std::size_t i = 0; i < replies.size(); ++i) any_keyed = any_keyed || !is_keyless(i);
  for (std::size_t i = 0; i < replies.size(); ++i) {
    const Reply& r = replies[i];
    if (any_keyed && is_keyless(i)) {  // a request of keyless commands only is judged by them
      ++skipped;
      continue;
    }
    if (!r.is_error()) continue;
    std::string_view code = r.error_code();
    if (auto red = parse_redirect(r)) {
      ++redirected;
      if (!first)
        first = std::move(red);
      else if (!(red->to == first->to) || red->kind != first->kind)
        same_target = false;
    } else if (is_refused_for_now(code)) {
      ++refused;
    } else if (classify(r) == ReplyClass::wrong_node) {
      ++readonly;  // READONLY, also as a script's error: a demoted master
    }
  }
  const std::size_t n = replies.size() - skipped;
  if (redirected + refused + readonly == 0) return {ClusterStep::Kind::done, std::nullopt};
  if (redirected + refused + readonly != n) return {ClusterStep::Kind::unavailable, std::nullopt};
  if (readonly > 0) return {ClusterStep::Kind::refresh, std::nullopt};
  if (refused > 0) return {ClusterStep::Kind::retry_later, std::nullopt};
  if (!same_target) return {ClusterStep::Kind::retry_later, std::nullopt};  // mid-migration: the map settles
  if (asked && first->to == *asked) return {ClusterStep::Kind::refresh, std::nullopt};
  return {ClusterStep::Kind::follow, std::move(first)};
}

std::vector<std::string_view> split_commands(std::string_view payload) {
  std::vector<std::string_view> out;
  std::size_t at = 0;
  auto read_line_number = [&](char prefix, std::uint64_t& n) {
    if (at >= payload.size() || payload[at] != prefix) return false;
    auto end = payload.find("\r\n", at);
    if (end == std::string_view::npos) return false;
    if (!parse_uint(payload.substr(at + 1, end - at - 1), n)) return false;
    at = end + 2;
    return true;
  };
  while (at < payload.size()) {
    const std::size_t start = at;
    std::uint64_t argc = 0;
    if (!read_line_number('*', argc) || argc == 0) return {};
    for (std::uint64_t i = 0; i < argc; ++i) {
      std::uint64_t len = 0;
      if (!read_line_number('$', len) || len > payload.size() - at || payload.size() - at - len < 2 ||
          payload.substr(at + len, 2) != "\r\n")
        return {};
      at += len + 2;
    }
    out.push_back(payload.substr(start, at - start));
  }
  return out;
}

std::string with_asking(std::string_view payload) {
  static constexpr std::string_view asking = "*1\r\n$6\r\nASKING\r\n";
  std::string out;
  auto commands = split_commands(payload);
  out.reserve(payload.size() + commands.size() * asking.size());
  for (auto c : commands) {
    out += asking;
    out += c;
  }
  return out;
}

}  // namespace latchkey::redis
