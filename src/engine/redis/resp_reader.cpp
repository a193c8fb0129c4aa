// RespReader: hiredis's reader, converted to Reply values.
#include "latchkey/redis/resp_reader.hpp"

#include <hiredis/hiredis.h>

#include <new>

namespace latchkey::redis {
namespace {

Reply convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STATUS: out.type = Reply::kind::status; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_ERROR: out.type = Reply::kind::error; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_STRING: out.type = Reply::kind::string; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_INTEGER: out.type = Reply::kind::integer; out.integer = r->integer; break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::kind::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default: out.type = Reply::kind::nil; break;
  }
  return out;
}

}  // namespace

RespReader::RespReader() : reader_(redisReaderCreate()) {
  if (!reader_) throw std::bad_alloc();
  // Keep the reader's buffer from being freed and reallocated after every burst.
  reader_->maxbuf = 64 * 1024;
}

RespReader::~RespReader() { redisReaderFree(reader_); }

void RespReader::feed(std::string_view bytes) {
  if (!bytes.empty()) redisReaderFeed(reader_, bytes.data(), bytes.size());
}

result<std::optional<Reply>> RespReader::next() {
  void* raw = nullptr;
  if (redisReaderGetReply(reader_, &raw) != REDIS_OK) return make_error_code(errc::protocol_error);
  if (!raw) return std::optional<Reply>{};
  auto* r = static_cast<redisReply*>(raw);
  std::optional<Reply> out = convert(r);
  freeReplyObject(r);
  return out;
}

void RespReader::reset() {
  redisReaderFree(reader_);
  reader_ = redisReaderCreate();
  if (!reader_) throw std::bad_alloc();
  reader_->maxbuf = 64 * 1024;
}

}  // namespace latchkey::redis
