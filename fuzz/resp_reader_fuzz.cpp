// libFuzzer target: arbitrary bytes into the RESP reader, in chunks, until it errors or
// runs dry. Must never crash, hang or leak.
#include "latchkey/redis/resp_reader.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  latchkey::redis::RespReader reader;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t chunk = size > 0 ? (data[0] % 7) + 1 : 1;
  for (std::size_t i = 0; i < input.size(); i += chunk) {
    reader.feed(input.substr(i, chunk));
    for (;;) {
      auto r = reader.next();
      if (!r) return 0;
      if (!*r) break;
    }
  }
  return 0;
}
