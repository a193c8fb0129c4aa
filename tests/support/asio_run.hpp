// Test harness: drive coroutines on an io_context from the test thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>

namespace latchkey::test {

inline void run_once(boost::asio::io_context& ioc, std::chrono::milliseconds slice = std::chrono::milliseconds(2)) {
  if (ioc.stopped()) ioc.restart();
  ioc.run_for(slice);
}

// Runs the io_context until pred() holds; false if `max` passed first.
inline bool run_until(boost::asio::io_context& ioc, const std::function<bool()>& pred,
                      std::chrono::milliseconds max = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + max;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    run_once(ioc);
  }
  return true;
}

template <class T>
T run_awaitable(boost::asio::io_context& ioc, boost::asio::awaitable<T> aw,
                std::chrono::milliseconds max = std::chrono::seconds(10)) {
  std::optional<T> out;
  std::exception_ptr error;
  boost::asio::co_spawn(ioc, std::move(aw), [&](std::exception_ptr e, T v) {
    error = e;
    out.emplace(std::move(v));
  });
  if (!run_until(
          ioc, [&] { return out.has_value(); }, max))
    throw std::runtime_error("awaitable did not complete");
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

}  // namespace latchkey::test
