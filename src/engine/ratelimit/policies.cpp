// Rate limits, the pure part: algorithm names, the bounds of a valid limit, the
// `ratelimit_policies` option's syntax and the settings from the options (no I/O; part of
// latchkey_core).
#include "latchkey/ratelimit.hpp"

#include "latchkey/config.hpp"

#include <charconv>

namespace latchkey::ratelimit {

const char* algorithm_name(Algorithm a) noexcept {
  switch (a) {
    case Algorithm::fixed_window: return "fixed_window";
    case Algorithm::sliding_window: return "sliding_window";
    case Algorithm::gcra: return "gcra";
  }
  return "fixed_window";
}

std::optional<Algorithm> algorithm_from_name(std::string_view s) noexcept {
  for (auto a : {Algorithm::fixed_window, Algorithm::sliding_window, Algorithm::gcra})
    if (s == algorithm_name(a)) return a;
  return std::nullopt;
}

std::optional<std::string> check_limit(const Limit& l, std::int64_t cost) {
  std::int64_t max = l.algorithm == Algorithm::sliding_window ? kMaxSlidingLimit : kMaxLimit;
  if (l.limit < 1 || l.limit > max)
    return "limit must be 1-" + std::to_string(max) + " for " + algorithm_name(l.algorithm);
  if (l.window_ms < 1 || l.window_ms > kMaxWindowMs) return std::string("window must be 1-86400 seconds");
  if (l.burst < 0 || l.burst > kMaxLimit) return std::string("burst must be 1-1000000");
  if (l.burst != 0 && l.algorithm != Algorithm::gcra) return std::string("burst applies to gcra only");
  std::int64_t most = l.algorithm == Algorithm::gcra && l.burst != 0 ? l.burst : l.limit;
  if (cost < 1 || cost > most)
    return "cost must be 1-" + std::to_string(most) + " (a larger one could never be admitted)";
  return std::nullopt;
}

namespace {

std::optional<std::int64_t> to_int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    auto p = s.find(sep);
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) break;
    s.remove_prefix(p + 1);
  }
  return out;
}

}  // namespace

std::optional<std::vector<Policy>> parse_policies(std::string_view text, std::string& why) {
  std::vector<Policy> out;
  if (text.empty()) return out;
  for (auto item : split(text, ',')) {
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    auto parts = split(item, ':');
    if (parts.size() < 3) {
      why = "expected name:algorithm:limit/window_seconds[:burst=N][:shadow][:fail_open], got '" + std::string(item) +
            "'";
      return std::nullopt;
    }
    Policy p;
    p.name = std::string(parts[0]);
    bool name_ok = !p.name.empty() && p.name.size() <= 64;
    for (char c : p.name)
      name_ok = name_ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
    if (!name_ok) {
      why = "policy name '" + p.name + "' must be 1-64 characters of [A-Za-z0-9._-]";
      return std::nullopt;
    }
    for (const auto& q : out)
      if (q.name == p.name) {
        why = "policy '" + p.name + "' is defined twice";
        return std::nullopt;
      }
    auto alg = algorithm_from_name(parts[1]);
    auto rate = split(parts[2], '/');
    auto limit = rate.size() == 2 ? to_int(rate[0]) : std::nullopt;
    auto window = rate.size() == 2 ? to_int(rate[1]) : std::nullopt;
    if (!alg || !limit || !window) {
      why = "policy '" + p.name + "': expected algorithm (fixed_window, sliding_window, gcra) and limit/window_seconds";
      return std::nullopt;
    }
    p.limit = Limit{*alg, *limit, *window * 1000, 0};
    for (std::size_t i = 3; i < parts.size(); ++i) {
      if (parts[i] == "shadow")
        p.shadow = true;
      else if (parts[i] == "fail_open")
        p.fail_open = true;
      else if (parts[i].starts_with("burst=") && to_int(parts[i].substr(6)))
        p.limit.burst = *to_int(parts[i].substr(6));
      else {
        why = "policy '" + p.name + "': unknown flag '" + std::string(parts[i]) + "' (burst=N, shadow, fail_open)";
        return std::nullopt;
      }
    }
    if (*window < 1 || *window > kMaxWindowMs / 1000) {
      why = "policy '" + p.name + "': window must be 1-86400 seconds";
      return std::nullopt;
    }
    if (auto bad = check_limit(p.limit, 1)) {
      why = "policy '" + p.name + "': " + *bad;
      return std::nullopt;
    }
    out.push_back(std::move(p));
  }
  return out;
}

Settings Settings::from(const Config& c, Identifiers ids) {
  Settings s;
  s.key_prefix = c.key_prefix;
  std::string why;  // the option was validated when the configuration loaded
  s.policies = parse_policies(c.ratelimit_policies, why).value_or(std::vector<Policy>{});
  s.ids = std::move(ids);
  return s;
}

}  // namespace latchkey::ratelimit
