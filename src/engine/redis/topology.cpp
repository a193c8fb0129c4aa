// Topology: standalone and Sentinel (see topology.hpp).
#include "engine/redis/topology.hpp"

#include "latchkey/redis/resp_reader.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>

namespace latchkey::redis {

namespace asio = boost::asio;
using asio::awaitable;
using namespace asio::experimental::awaitable_operators;

namespace {
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

awaitable<std::optional<Replies>> exchange(Transport& t, HostPort where, Request req, std::string& why) {
  if (!co_await t.connect(where, why)) co_return std::nullopt;
  auto [wec, wn] = co_await t.write(asio::buffer(req.payload()));
  if (wec) {
    why = "write failed: " + wec.message();
    co_return std::nullopt;
  }
  RespReader reader;
  Replies out;
  std::array<char, 4096> buf{};
  while (out.size() < req.size()) {
    auto [ec, n] = co_await t.read_some(asio::buffer(buf));
    if (ec) {
      why = ec == asio::error::eof ? "closed the connection" : "read failed: " + ec.message();
      co_return std::nullopt;
    }
    reader.feed({buf.data(), n});
    for (;;) {
      auto r = reader.next();
      if (!r) {
        why = "answered something that is not RESP";
        co_return std::nullopt;
      }
      if (!*r) break;
      out.push_back(std::move(**r));
    }
  }
  co_return out;
}
}  // namespace

awaitable<std::optional<Replies>> request_once(asio::any_io_executor ex, std::shared_ptr<const TlsContext> tls,
                                               HostPort where, Request req, std::chrono::milliseconds timeout,
                                               std::string& why) {
  Transport t(ex, std::move(tls));
  asio::steady_timer deadline(ex);
  deadline.expires_after(timeout);
  // The deadline closes the socket: every pending operation of the exchange then completes.
  auto expire = [&]() -> awaitable<void> {
    auto [ec] = co_await deadline.async_wait(tuple_awaitable);
    if (!ec) t.close();
  };
  auto outcome = co_await (exchange(t, where, std::move(req), why) || expire());
  t.close();
  if (outcome.index() == 1) {
    why = "no answer within " + std::to_string(timeout.count()) + " ms";
    co_return std::nullopt;
  }
  co_return std::get<0>(std::move(outcome));
}

Topology::Topology(Target target, SentinelAccess access) : target_(std::move(target)), access_(std::move(access)) {
  if (target_.sentinel()) resolver_.emplace(target_.sentinels, target_.master_name, access_.user, access_.password);
}

awaitable<std::optional<Endpoint>> Topology::locate(asio::any_io_executor ex, std::string& why) {
  if (!resolver_) co_return target_.node;
  resolver_->begin_round();
  while (auto s = resolver_->next_sentinel()) {
    std::string failed;
    auto replies = co_await request_once(ex, access_.tls, *s, resolver_->request(), access_.timeout, failed);
    if (!replies) {
      resolver_->on_failure(failed);
      continue;
    }
    if (auto master = resolver_->on_replies(*replies)) {
      failure_ = SentinelResolver::Failure::none;
      Endpoint ep = target_.node;
      ep.host = master->host;
      ep.port = master->port;
      co_return ep;
    }
  }
  failure_ = resolver_->failure();
  why = resolver_->failure_message();
  co_return std::nullopt;
}

}  // namespace latchkey::redis
