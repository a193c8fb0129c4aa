// Transport: TCP, or TLS over TCP (Asio SSL on OpenSSL 3). Verification follows
// redis_tls_verify: full checks the chain and the endpoint's own name (X509_VERIFY_PARAM host
// or IP), ca the chain only, none nothing. SNI carries DNS names only (RFC 6066 3).
#include "engine/redis/transport.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <optional>

namespace latchkey::redis {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::awaitable;
using asio::ip::tcp;

namespace {
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

bool system_trust_store_available() {
  std::error_code ec;
  if (const char* f = X509_get_default_cert_file(); f && std::filesystem::is_regular_file(f, ec)) return true;
  const char* d = X509_get_default_cert_dir();
  if (!d || !std::filesystem::is_directory(d, ec)) return false;
  return std::filesystem::directory_iterator(d, ec) != std::filesystem::directory_iterator();
}
}  // namespace

struct TlsContext::Impl {
  ssl::context ctx{ssl::context::tls_client};
};

TlsContext::TlsContext(TlsSettings s, std::unique_ptr<Impl> impl) : settings_(std::move(s)), impl_(std::move(impl)) {}
TlsContext::~TlsContext() = default;

std::shared_ptr<TlsContext> TlsContext::make(const TlsSettings& s, std::string& why) {
  auto impl = std::make_unique<Impl>();
  auto& ctx = impl->ctx;
  boost::system::error_code ec;
  auto options = ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                 ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression;
  if (s.min_version >= 13) options |= ssl::context::no_tlsv1_2;
  ctx.set_options(options, ec);
  if (s.verify != TlsVerify::none) {
    if (!s.ca_file.empty()) {
      ctx.load_verify_file(s.ca_file, ec);
      if (ec) {
        why = "redis_tls_ca_file '" + s.ca_file + "' holds no usable CA certificate (" + ec.message() + ")";
        return nullptr;
      }
    } else {
      if (!system_trust_store_available()) {
        why = "redis_tls_verify=" + std::string(s.verify == TlsVerify::full ? "full" : "ca") +
              " needs certificate authorities, and the system trust store (" + X509_get_default_cert_dir() +
              ") is empty: set redis_tls_ca_file (or install ca-certificates)";
        return nullptr;
      }
      ctx.set_default_verify_paths(ec);
      if (ec) {
        why = "cannot load the system trust store: " + ec.message();
        return nullptr;
      }
    }
  }
  if (!s.cert_file.empty()) {
    ctx.use_certificate_chain_file(s.cert_file, ec);
    if (ec) {
      why = "redis_tls_cert_file '" + s.cert_file + "' is not a PEM certificate (" + ec.message() + ")";
      return nullptr;
    }
    ctx.use_private_key_file(s.key_file, ssl::context::pem, ec);
    if (ec) {
      why = "redis_tls_key_file '" + s.key_file + "' is not the PEM private key of redis_tls_cert_file (" +
            ec.message() + ")";
      return nullptr;
    }
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
      why = "redis_tls_key_file does not match redis_tls_cert_file";
      ERR_clear_error();
      return nullptr;
    }
  }
  ctx.set_verify_mode(s.verify == TlsVerify::none ? ssl::verify_none : ssl::verify_peer, ec);
  return std::shared_ptr<TlsContext>(new TlsContext(s, std::move(impl)));
}

struct Transport::Impl {
  explicit Impl(asio::any_io_executor e) : ex(e), plain(e) {}
  asio::any_io_executor ex;
  tcp::socket plain;                               // plaintext links
  std::optional<ssl::stream<tcp::socket>> secure;  // TLS links: a fresh stream per connect
  std::shared_ptr<const TlsContext> stream_tls;    // the context `secure` was made from

  tcp::socket& socket() { return secure ? secure->next_layer() : plain; }
};

Transport::Transport(asio::any_io_executor ex, std::shared_ptr<const TlsContext> tls)
    : tls_(std::move(tls)), impl_(std::make_unique<Impl>(ex)) {}
Transport::~Transport() { close(); }

bool Transport::is_open() const noexcept { return impl_->socket().is_open(); }

void Transport::close() noexcept {
  boost::system::error_code ignored;
  auto& s = impl_->socket();
  if (!s.is_open()) return;
  s.shutdown(tcp::socket::shutdown_both, ignored);
  s.close(ignored);
}

awaitable<bool> Transport::connect(HostPort where, std::string& why) {
  close();
  Impl& im = *impl_;
  if (tls_) {
    im.secure.reset();  // before its context may go
    im.stream_tls = tls_;
    im.secure.emplace(im.ex, tls_->impl().ctx);
  }
  tcp::resolver resolver(im.ex);
  auto [rec, endpoints] = co_await resolver.async_resolve(where.host, std::to_string(where.port), tuple_awaitable);
  if (rec) {
    why = "cannot resolve " + where.host + ": " + rec.message();
    co_return false;
  }
  auto [cec, ep] = co_await asio::async_connect(im.socket(), endpoints, tuple_awaitable);
  if (cec) {
    why = "connect to " + where.describe() + " failed: " + cec.message();
    co_return false;
  }
  boost::system::error_code ignored;
  im.socket().set_option(tcp::no_delay(true), ignored);
  im.socket().set_option(asio::socket_base::keep_alive(true), ignored);
  if (!tls_) co_return true;

  const TlsSettings& s = tls_->settings();
  const std::string name = tls_verify_name(s, where.host);
  boost::system::error_code aec;
  asio::ip::make_address(name, aec);
  const bool ip_literal = !aec;
  SSL* ssl_handle = im.secure->native_handle();
  if (!ip_literal)  // SSL_set_tlsext_host_name, spelled out (the macro casts)
    SSL_ctrl(ssl_handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(name.c_str()));
  if (s.verify == TlsVerify::full) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
    int ok = ip_literal ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                        : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
    if (ok != 1) {
      why = "cannot check the certificate against '" + name + "'";
      co_return false;
    }
    if (!ip_literal) X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  }
  auto [hec] = co_await im.secure->async_handshake(ssl::stream_base::client, tuple_awaitable);
  if (hec) {
    long verify = SSL_get_verify_result(ssl_handle);
    std::string detail;
    if (verify != X509_V_OK)
      detail = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify) +
               (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH
                    ? " (the certificate does not name '" + name + "'; see redis_tls_server_name)"
                    : "");
    else if (hec == asio::error::eof || hec == ssl::error::stream_truncated)
      detail =
          "the server closed the connection during the handshake (a plaintext port, or it wants a client "
          "certificate: redis_tls_cert_file)";
    else
      detail = hec.message();
    why = "TLS handshake with " + where.describe() + " failed: " + detail;
    ERR_clear_error();
    co_return false;
  }
  co_return true;
}

awaitable<std::tuple<boost::system::error_code, std::size_t>> Transport::read_some(asio::mutable_buffer buf) {
  if (impl_->secure) co_return co_await impl_->secure->async_read_some(buf, tuple_awaitable);
  co_return co_await impl_->plain.async_read_some(buf, tuple_awaitable);
}

awaitable<std::tuple<boost::system::error_code, std::size_t>> Transport::write(asio::const_buffer buf) {
  if (impl_->secure) co_return co_await asio::async_write(*impl_->secure, buf, tuple_awaitable);
  co_return co_await asio::async_write(impl_->plain, buf, tuple_awaitable);
}

}  // namespace latchkey::redis
