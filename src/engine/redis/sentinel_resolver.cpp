// The Sentinel resolution state machine (see sentinel_resolver.hpp).
#include "engine/redis/sentinel_resolver.hpp"

#include <algorithm>
#include <charconv>

namespace latchkey::redis {
namespace {

std::optional<std::uint16_t> port_of(std::string_view s) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

}  // namespace

SentinelResolver::SentinelResolver(std::vector<HostPort> configured, std::string master_name, std::string user,
                                   std::string password)
    : list_(std::move(configured)),
      master_(std::move(master_name)),
      user_(std::move(user)),
      password_(std::move(password)) {}

void SentinelResolver::begin_round() {
  next_ = 0;
  found_ = false;
  unknown_ = unreachable_ = refused_ = 0;
  reasons_.clear();
}

std::optional<HostPort> SentinelResolver::next_sentinel() {
  if (found_ || next_ >= list_.size()) return std::nullopt;
  asking_ = next_++;
  return list_[asking_];
}

Request SentinelResolver::request() const {
  Request r;
  if (!password_.empty()) {
    if (user_.empty())
      r.push({"AUTH", password_});
    else
      r.push({"AUTH", user_, password_});
  }
  r.push({"SENTINEL", "get-master-addr-by-name", master_});
  r.push({"SENTINEL", "sentinels", master_});
  return r;
}

std::optional<HostPort> SentinelResolver::on_replies(const Replies& replies) {
  const std::string who = list_[asking_].describe();
  const std::size_t first = password_.empty() ? 0 : 1;
  if (replies.size() != first + 2) {
    ++unreachable_;
    reasons_.push_back(who + ": a reply of the wrong length");
    return std::nullopt;
  }
  if (first == 1 && replies[0].is_error()) {
    ++refused_;
    reasons_.push_back(who + ": AUTH refused (" + replies[0].str + "): check redis_sentinel_password");
    return std::nullopt;
  }
  const Reply& addr = replies[first];
  if (addr.is_error()) {
    if (addr.str.starts_with("NOAUTH")) {
      ++refused_;
      reasons_.push_back(who + ": needs a password (redis_sentinel_password)");
    } else {
      ++unreachable_;
      reasons_.push_back(who + ": " + addr.str);
    }
    return std::nullopt;
  }
  if (addr.is_nil() || (addr.is_array() && addr.elements.empty())) {
    ++unknown_;
    reasons_.push_back(who + ": does not know master '" + master_ + "'");
    return std::nullopt;
  }
  std::optional<std::uint16_t> port;
  if (addr.is_array() && addr.elements.size() == 2 && addr.elements[0].is_string() && addr.elements[1].is_string())
    port = port_of(addr.elements[1].str);
  if (!port || addr.elements[0].str.empty()) {
    ++unreachable_;
    reasons_.push_back(who + ": an address that is not ip and port");
    return std::nullopt;
  }
  HostPort master{addr.elements[0].str, *port};
  learn(replies[first + 1]);
  // The sentinel that answered goes first next time (the guidelines, step 1).
  std::rotate(list_.begin(), list_.begin() + static_cast<std::ptrdiff_t>(asking_),
              list_.begin() + static_cast<std::ptrdiff_t>(asking_) + 1);
  found_ = true;
  return master;
}

void SentinelResolver::learn(const Reply& r) {
  if (!r.is_array()) return;
  for (const auto& entry : r.elements) {
    if (!entry.is_array()) continue;
    std::string ip;
    std::optional<std::uint16_t> port;
    for (std::size_t i = 0; i + 1 < entry.elements.size(); i += 2) {
      const auto& k = entry.elements[i].str;
      if (k == "ip") ip = entry.elements[i + 1].str;
      if (k == "port") port = port_of(entry.elements[i + 1].str);
    }
    if (ip.empty() || !port || list_.size() >= max_sentinels) continue;
    HostPort hp{ip, *port};
    if (std::find(list_.begin(), list_.end(), hp) == list_.end()) list_.push_back(std::move(hp));
  }
}

void SentinelResolver::on_failure(std::string why) {
  ++unreachable_;
  reasons_.push_back(list_[asking_].describe() + ": " + why);
}

SentinelResolver::Failure SentinelResolver::failure() const noexcept {
  if (found_ || next_ < list_.size()) return Failure::none;
  if (unknown_ > 0) return Failure::unknown_master;
  if (refused_ > 0) return Failure::refused_auth;
  return Failure::unreachable;
}

std::string SentinelResolver::failure_message() const {
  std::string head;
  switch (failure()) {
    case Failure::none: return {};
    case Failure::unknown_master:
      head = "the sentinels do not know master '" + master_ + "' (check redis_url's master name)";
      break;
    case Failure::refused_auth: head = "the sentinels refused to authenticate latchkey"; break;
    case Failure::unreachable: head = "no sentinel reachable"; break;
  }
  std::string out = head + " (";
  for (std::size_t i = 0; i < reasons_.size(); ++i) out += (i ? "; " : "") + reasons_[i];
  return out + ")";
}

}  // namespace latchkey::redis
