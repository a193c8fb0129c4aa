// RespReader: hiredis's protocol reader with our own object functions, so replies are built
// directly as Reply values (no intermediate redisReply tree) and the size of an array is
// capped before anything is allocated: a broken or hostile server announcing
// "*1111111111" must not make latchkey allocate gigabytes (found by fuzz/resp_reader_fuzz).
#include "latchkey/redis/resp_reader.hpp"

#include <hiredis/hiredis.h>

#include <memory>
#include <new>

namespace latchkey::redis {
namespace {

// Far above any reply latchkey asks for (a user's index is bounded by session_limit).
constexpr int kMaxArrayElements = 1 << 20;

// Stores a value either as the root (owned by the caller of redisReaderGetReply) or in its
// slot of the parent array, whose elements were sized when the array was created.
void* attach(const redisReadTask* task, Reply&& value) noexcept {
  try {
    if (task->parent != nullptr) {
      auto* parent = static_cast<Reply*>(task->parent->obj);
      Reply& slot = parent->elements.at(static_cast<std::size_t>(task->idx));
      slot = std::move(value);
      return &slot;
    }
    return new Reply(std::move(value));
  } catch (...) {
    return nullptr;  // hiredis reports out-of-memory and the reader stops
  }
}

void* create_string(const redisReadTask* task, char* str, std::size_t len) {
  Reply r;
  r.type = task->type == REDIS_REPLY_ERROR    ? Reply::kind::error
           : task->type == REDIS_REPLY_STATUS ? Reply::kind::status
                                              : Reply::kind::string;
  try {
    r.str.assign(str, len);
  } catch (...) {
    return nullptr;
  }
  return attach(task, std::move(r));
}

void* create_array(const redisReadTask* task, int elements) {
  if (elements < 0 || elements > kMaxArrayElements) return nullptr;
  Reply r;
  r.type = Reply::kind::array;
  try {
    r.elements.resize(static_cast<std::size_t>(elements));
  } catch (...) {
    return nullptr;
  }
  return attach(task, std::move(r));
}

void* create_integer(const redisReadTask* task, long long value) {
  Reply r;
  r.type = Reply::kind::integer;
  r.integer = value;
  return attach(task, std::move(r));
}

void* create_nil(const redisReadTask* task) { return attach(task, Reply{}); }

// hiredis frees only roots (children live inside their parent's elements).
void free_object(void* reply) { delete static_cast<Reply*>(reply); }

redisReplyObjectFunctions reply_functions{create_string, create_array, create_integer, create_nil, free_object};

redisReader* make_reader() {
  redisReader* r = redisReaderCreateWithFunctions(&reply_functions);
  if (!r) throw std::bad_alloc();
  // Keep the reader's buffer from being freed and reallocated after every burst.
  r->maxbuf = 64 * 1024;
  return r;
}

}  // namespace

RespReader::RespReader() : reader_(make_reader()) {}

RespReader::~RespReader() { redisReaderFree(reader_); }

void RespReader::feed(std::string_view bytes) {
  if (!bytes.empty()) redisReaderFeed(reader_, bytes.data(), bytes.size());
}

result<std::optional<Reply>> RespReader::next() {
  void* raw = nullptr;
  if (redisReaderGetReply(reader_, &raw) != REDIS_OK) return make_error_code(errc::protocol_error);
  if (!raw) return std::optional<Reply>{};
  std::unique_ptr<Reply> root(static_cast<Reply*>(raw));
  return std::optional<Reply>(std::move(*root));
}

void RespReader::reset() {
  redisReaderFree(reader_);
  reader_ = make_reader();
}

}  // namespace latchkey::redis
