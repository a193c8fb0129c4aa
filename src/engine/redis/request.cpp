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

Request& Request::key(std::string_view k) {
  std::uint16_t s = key_slot(k);
  if (slot_ && *slot_ != s) spans_slots_ = true;
  if (!slot_) slot_ = s;
  return arg(k);
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
