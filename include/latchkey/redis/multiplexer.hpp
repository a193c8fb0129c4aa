// The pipelining multiplexer, without I/O. Many callers add requests; the connection takes
// one coalesced write buffer of everything not yet written, and feeds replies back in the
// order Redis sends them; each request completes when its `size()` replies have arrived.
//
// Invariants: entries complete strictly in FIFO order; fail_all() completes every entry with
// the same error (the connection is gone and no reply will come). Deadlines are the
// connection's business: it compares oldest_stamp() with its clock and fails everything
// when the oldest call is overdue (a reply stuck behind it would be late too).
//
// A completion handler is called exactly once, from inside on_reply() or fail_all().
#pragma once

#include "latchkey/error.hpp"
#include "latchkey/redis/reply.hpp"
#include "latchkey/redis/request.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace latchkey::redis {

using Completion = std::function<void(boost::system::error_code, Replies)>;

class Multiplexer {
 public:
  // Queues a request; returns its id. `stamp` is the caller's clock reading
  // (e.g. milliseconds), reported back by oldest_stamp() for deadline checks.
  std::uint64_t add(Request req, Completion done, std::uint64_t stamp = 0);
  // Everything queued since the last call, as one buffer; marks those entries as written.
  std::string take_writes();
  bool has_unwritten() const noexcept { return written_ < entries_.size(); }
  // Feeds one reply. Returns false when no entry was waiting for a reply (protocol error).
  [[nodiscard]] bool on_reply(Reply r);
  void fail_all(boost::system::error_code ec);
  std::size_t pending() const noexcept { return entries_.size(); }
  // The stamp of the oldest pending request, if any.
  std::optional<std::uint64_t> oldest_stamp() const noexcept {
    if (entries_.empty()) return std::nullopt;
    return entries_.front().stamp;
  }

 private:
  struct Entry {
    std::uint64_t id;
    std::uint64_t stamp;
    std::string payload;
    std::size_t expected;
    Replies replies;
    Completion done;
  };
  std::deque<Entry> entries_;
  std::size_t written_ = 0;  // entries_[0, written_) have been handed to the socket
  std::uint64_t next_id_ = 1;
};

}  // namespace latchkey::redis
