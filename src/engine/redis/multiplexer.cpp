// Multiplexer: FIFO matching of replies to pipelined requests.
#include "latchkey/redis/multiplexer.hpp"

namespace latchkey::redis {

std::uint64_t Multiplexer::add(Request req, Completion done, std::uint64_t stamp) {
  std::uint64_t id = next_id_++;
  std::size_t n = req.size();
  entries_.push_back(Entry{id, stamp, req.take_payload(), n, {}, std::move(done)});
  entries_.back().replies.reserve(n);
  return id;
}

std::string Multiplexer::take_writes() {
  std::string out;
  for (std::size_t i = written_; i < entries_.size(); ++i) {
    out.append(entries_[i].payload);
    std::string().swap(entries_[i].payload);
  }
  written_ = entries_.size();
  return out;
}

bool Multiplexer::on_reply(Reply r) {
  if (written_ == 0) return false;
  Entry& e = entries_.front();
  e.replies.push_back(std::move(r));
  if (e.replies.size() < e.expected) return true;
  Entry done = std::move(e);
  entries_.pop_front();
  --written_;
  if (done.done) done.done({}, std::move(done.replies));
  return true;
}

void Multiplexer::fail_all(boost::system::error_code ec) {
  std::deque<Entry> failed;
  failed.swap(entries_);
  written_ = 0;
  for (auto& e : failed)
    if (e.done) e.done(ec, {});
}

}  // namespace latchkey::redis
