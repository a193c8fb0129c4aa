// One socket to one Redis node (data node or sentinel), in plaintext or TLS: resolve, connect,
// TLS handshake with SNI and the per-node name check, then reads and writes. The link above it
// (Connection) does not know which; TLS code lives here and in transport.cpp only.
#pragma once

#include "latchkey/redis/url.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>

#include <memory>
#include <string>
#include <tuple>

namespace latchkey::redis {

// The trust configuration of TLS links (one OpenSSL context), shared by every transport that
// uses it. Built once at start (and again on reload); immutable afterwards.
class TlsContext {
 public:
  // Null and `why` set when a file cannot be used (unreadable, not PEM, key not matching the
  // certificate) or no CA is available for verification.
  static std::shared_ptr<TlsContext> make(const TlsSettings& settings, std::string& why);
  ~TlsContext();
  const TlsSettings& settings() const noexcept { return settings_; }

  struct Impl;
  Impl& impl() const { return *impl_; }

 private:
  TlsContext(TlsSettings s, std::unique_ptr<Impl> impl);
  TlsSettings settings_;
  std::unique_ptr<Impl> impl_;
};

class Transport {
 public:
  // tls null: plaintext.
  Transport(boost::asio::any_io_executor ex, std::shared_ptr<const TlsContext> tls);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Resolves, connects and (TLS) handshakes. On failure returns false and sets `why` (one
  // sentence naming the reason, e.g. the certificate check that failed). No deadline of its
  // own: the caller races it with one and calls close() when it passes.
  [[nodiscard]] boost::asio::awaitable<bool> connect(HostPort where, std::string& why);
  [[nodiscard]] boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> read_some(
      boost::asio::mutable_buffer buf);
  [[nodiscard]] boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> write(
      boost::asio::const_buffer buf);
  // Closes the socket; pending reads and writes complete with operation_aborted. Safe to call
  // at any time, and again.
  void close() noexcept;
  bool is_open() const noexcept;
  bool tls() const noexcept { return tls_ != nullptr; }
  // New trust settings (a reload), used from the next connect(); an open link keeps its own.
  void set_tls(std::shared_ptr<const TlsContext> tls) { tls_ = std::move(tls); }

 private:
  struct Impl;
  std::shared_ptr<const TlsContext> tls_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace latchkey::redis
