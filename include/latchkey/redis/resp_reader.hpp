// Incremental RESP2 parser: bytes in, typed Replies out. Wraps hiredis's reply reader
// (redisReaderCreate/Feed/GetReply) and converts its redisReply tree into Reply values.
// Owns its hiredis reader; not copyable; one per connection.
#pragma once

#include "latchkey/error.hpp"
#include "latchkey/redis/reply.hpp"

#include <optional>
#include <string_view>

struct redisReader;

namespace latchkey::redis {

class RespReader {
 public:
  RespReader();
  ~RespReader();
  RespReader(const RespReader&) = delete;
  RespReader& operator=(const RespReader&) = delete;

  void feed(std::string_view bytes);
  // The next complete reply; std::nullopt when more bytes are needed; protocol_error when the
  // stream is malformed (the connection must then be dropped).
  [[nodiscard]] result<std::optional<Reply>> next();
  // Forgets buffered bytes (after a reconnect).
  void reset();

 private:
  redisReader* reader_;
};

}  // namespace latchkey::redis
