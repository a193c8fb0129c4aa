// Request: RESP command formatting through hiredis's redisFormatCommandArgv.
#include "latchkey/redis/request.hpp"

#include <hiredis/hiredis.h>

#include <new>

namespace latchkey::redis {

void Request::append(int argc, const char** argv, const std::size_t* lens) {
  char* cmd = nullptr;
  int n = redisFormatCommandArgv(&cmd, argc, argv, lens);
  if (n < 0 || !cmd) throw std::bad_alloc();
  payload_.append(cmd, static_cast<std::size_t>(n));
  redisFreeCommand(cmd);
  ++commands_;
}

Request& Request::push(std::initializer_list<std::string_view> args) {
  return push(std::vector<std::string_view>(args));
}

Request& Request::push(const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (auto a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  append(static_cast<int>(args.size()), argv.data(), lens.data());
  return *this;
}

Request& Request::push(const std::vector<std::string>& args) {
  std::vector<std::string_view> views(args.begin(), args.end());
  return push(views);
}

}  // namespace latchkey::redis
