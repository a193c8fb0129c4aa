// Request: RESP encoding of commands (arrays of bulk strings).
#include "latchkey/redis/request.hpp"
#include "latchkey/redis/slot.hpp"

#include <charconv>

namespace latchkey::redis {
namespace {

void append_number(std::string& out, std::size_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

}  // namespace

Request& Request::begin(std::size_t argc) {
  payload_.push_back('*');
  append_number(payload_, argc);
  payload_ += "\r\n";
  ++commands_;
  current_.reset();
  if (spans_slots_) per_command_.push_back(kNoSlot);
  return *this;
}

Request& Request::arg(std::string_view a) {
  payload_.push_back('$');
  append_number(payload_, a.size());
  payload_ += "\r\n";
  payload_.append(a);
  payload_ += "\r\n";
  return *this;
}

void Request::note_slot(std::uint16_t s) {
  if (current_ && *current_ != s) command_spans_ = true;
  current_ = s;
  if (!slot_) slot_ = s;
  if (!spans_slots_ && *slot_ != s) {
    // The first command of another slot: from here on every command's slot is kept. Earlier
    // keyless commands count as the first slot's (they can run anywhere).
    spans_slots_ = true;
    per_command_.assign(commands_ - 1, static_cast<std::int32_t>(*slot_));
    per_command_.push_back(s);
  } else if (spans_slots_) {
    per_command_.back() = s;
  }
}

Request& Request::key(std::string_view k) {
  note_slot(key_slot(k));
  if (commands_ > 0 && commands_ <= 64) keyed_ |= std::uint64_t{1} << (commands_ - 1);
  return arg(k);
}

Request& Request::route_by_slot(std::uint16_t slot) {
  note_slot(slot);
  return *this;
}

std::optional<std::uint16_t> Request::command_slot(std::size_t i) const noexcept {
  if (!spans_slots_) return slot_;
  if (i >= per_command_.size() || per_command_[i] == kNoSlot) return std::nullopt;
  return static_cast<std::uint16_t>(per_command_[i]);
}

Request Request::from_payload(std::string payload, std::size_t commands, std::uint64_t keyless_mask) {
  Request r;
  r.payload_ = std::move(payload);
  r.commands_ = commands;
  r.keyed_ = ~keyless_mask;
  return r;
}

template <class It>
Request& Request::push_range(It first, It last, std::size_t n) {
  begin(n);
  for (; first != last; ++first) arg(*first);
  return *this;
}

Request& Request::push(std::initializer_list<std::string_view> args) {
  return push_range(args.begin(), args.end(), args.size());
}

Request& Request::push(const std::vector<std::string_view>& args) {
  return push_range(args.begin(), args.end(), args.size());
}

Request& Request::push(const std::vector<std::string>& args) {
  return push_range(args.begin(), args.end(), args.size());
}

}  // namespace latchkey::redis
