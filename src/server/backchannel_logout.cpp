// OpenID Connect Back-Channel Logout 1.0, the sending side (backchannel_logout.hpp). The only
// outbound HTTP latchkey makes; with transport.cpp the only translation unit with Beast.
#include "server/backchannel_logout.hpp"

#include "server/shard.hpp"

#include "latchkey/clock.hpp"
#include "latchkey/crypto/primitives.hpp"
#include "latchkey/oauth.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

namespace latchkey::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace json = boost::json;

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

struct Target {
  bool https = false;
  std::string host, port, path;
};

// A registered backchannel_logout_uri (absolute http(s), checked at registration).
std::optional<Target> parse_target(std::string_view uri) {
  auto p = oauth::split_uri(uri.substr(0, uri.find('#')));
  if (!p || (p->scheme != "https" && p->scheme != "http")) return std::nullopt;
  Target t;
  t.https = p->scheme == "https";
  // Brackets off an IPv6 literal: the resolver and SNI take the address itself.
  t.host = std::string(p->host.front() == '[' ? p->host.substr(1, p->host.size() - 2) : p->host);
  t.port = p->port.empty() ? (t.https ? "443" : "80") : std::string(p->port);
  t.path = p->rest.empty() || p->rest.front() == '?' ? "/" + std::string(p->rest) : std::string(p->rest);
  return t;
}

// The logout token (Back-Channel Logout 1.0 2.4): typ logout+jwt, signed by the ring's
// current key; nullopt when that key is HS256 (the client could not verify it).
std::optional<std::string> logout_token(const crypto::SigningRing& ring, const std::string& issuer,
                                        const events::EndedGrant& g) {
  const std::int64_t now = unix_now();
  const auto& key = ring.signer(now);
  if (key.symmetric()) return std::nullopt;
  json::object header{{"alg", crypto::jws::alg_name(key.alg())}, {"kid", key.kid()}, {"typ", "logout+jwt"}};
  json::object claims{{"iss", issuer},
                      {"aud", g.client_id},
                      {"iat", now},
                      {"exp", now + BackchannelLogout::kTokenTtl},
                      {"jti", crypto::random_token(16)},
                      {"sid", g.sid},
                      {"events", json::object{{"http://schemas.openid.net/event/backchannel-logout", json::object{}}}}};
  if (!g.user_id.empty()) claims["sub"] = g.user_id;
  return crypto::jws::sign_compact(key, json::serialize(header), json::serialize(claims));
}

// One POST of the form; the status, or why there is none.
template <class Stream>
awaitable<std::variant<unsigned, std::string>> exchange(Stream& stream, const Target& t, const std::string& body) {
  http::request<http::string_body> req{http::verb::post, t.path, 11};
  req.set(http::field::host, t.host);
  req.set(http::field::user_agent, "latchkey");
  req.set(http::field::content_type, "application/x-www-form-urlencoded");
  req.set(http::field::cache_control, "no-store");
  req.body() = body;
  req.prepare_payload();
  auto [wec, wn] = co_await http::async_write(stream, req, tuple_awaitable);
  if (wec) co_return "write: " + wec.message();
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  auto [rec, rn] = co_await http::async_read(stream, buffer, parser, tuple_awaitable);
  if (rec) co_return "read: " + rec.message();
  co_return parser.get().result_int();
}

awaitable<std::variant<unsigned, std::string>> post_once(ssl::context& tls, const Target& t, const std::string& body) {
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  auto [rec, endpoints] = co_await resolver.async_resolve(t.host, t.port, tuple_awaitable);
  if (rec) co_return "resolve: " + rec.message();
  beast::tcp_stream tcp_stream(ex);
  tcp_stream.expires_after(BackchannelLogout::kTimeout);
  auto [cec, ep] = co_await tcp_stream.async_connect(endpoints, tuple_awaitable);
  if (cec) co_return "connect: " + cec.message();
  if (!t.https) co_return co_await exchange(tcp_stream, t, body);
  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), tls);
  // SNI (DNS names only, RFC 6066 3; SSL_set_tlsext_host_name spelled out: the macro casts)
  // and the certificate's name: the host of the registered URI.
  boost::system::error_code aec;
  asio::ip::make_address(t.host, aec);
  if (aec)
    SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(t.host.c_str()));
  stream.set_verify_callback(ssl::host_name_verification(t.host));
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, tuple_awaitable);
  if (hec) co_return "tls: " + hec.message();
  co_return co_await exchange(stream, t, body);
}

std::shared_ptr<ssl::context> client_tls(const Config& c) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  ctx->set_verify_mode(ssl::verify_peer, ec);
  if (c.oauth_backchannel_logout_ca_file.empty())
    ctx->set_default_verify_paths(ec);
  else
    ctx->load_verify_file(c.oauth_backchannel_logout_ca_file, ec);
  if (ec) log::event(log::Level::error, "back-channel logout: the CA file could not be read: " + ec.message());
  return ctx;
}

}  // namespace

void BackchannelLogout::ended(events::EndedGrant g) {
  auto record = [this](const events::EndedGrant& grant, const char* outcome, int attempts, std::string detail) {
    events::Event e(events::Type::backchannel_logout, grant.user_id, outcome);
    e.request_id = grant.request_id;
    e.with("client_id", grant.client_id).with("family", grant.sid).with("reason", grant.reason);
    e.with("attempts", std::to_string(attempts));
    if (!detail.empty()) e.with("detail", std::move(detail));
    shard_.events.emit(std::move(e));
  };
  if (shard_.stopping) return;
  if (in_flight_ >= kMaxInFlight) {
    record(g, "failed", 0, "too many deliveries in flight");
    return;
  }
  ++in_flight_;
  auto cancel = cancels_.emplace(cancels_.end());
  asio::co_spawn(
      shard_.ioc,
      [this, g = std::move(g), record, cancel]() -> awaitable<void> {
        // The rings and services of now, for as long as this delivery runs.
        const std::shared_ptr<const Generation> gen = shard_.generation;
        const Config& cfg = shard_.server.config;
        asio::steady_timer pause(shard_.ioc);
        auto backoff = kBackoff;
        std::string last;
        std::optional<Target> target;
        std::string body;
        int attempt = 0;
        for (attempt = 1; attempt <= kAttempts && !shard_.stopping; ++attempt) {
          if (attempt > 1) {
            pause.expires_after(backoff);
            (void)co_await pause.async_wait(tuple_awaitable);
            backoff *= 2;
          }
          if (!target) {
            // The client as it is now: deleted or without a URI, there is no one to tell.
            auto c = co_await gen->services.oauth.client(*shard_.redis, g.client_id);
            if (!c) {
              if (c.error() == make_error_code(errc::not_found)) break;
              last = "the client record could not be read: " + c.error().message();
              continue;
            }
            if (c->backchannel_logout_uri.empty()) break;
            target = parse_target(c->backchannel_logout_uri);
            auto token = logout_token(gen->services.tokens.signing_ring(), cfg.token_issuer, g);
            if (!target || !token) {
              record(g, "failed", attempt, token ? "unusable backchannel_logout_uri" : "the signing key is HS256");
              target.reset();
              break;
            }
            body = "logout_token=" + *token;  // base64url and dots: nothing to escape
          }
          if (!tls_) tls_ = client_tls(cfg);
          auto r = co_await post_once(*tls_, *target, body);
          if (auto* status = std::get_if<unsigned>(&r); status && *status >= 200 && *status < 300) {
            record(g, "delivered", attempt, {});
            target.reset();
            body.clear();
            break;
          }
          last = std::holds_alternative<unsigned>(r) ? "status " + std::to_string(std::get<unsigned>(r))
                                                     : std::get<std::string>(r);
        }
        if (attempt > kAttempts && !shard_.stopping) record(g, "failed", kAttempts, last);
        --in_flight_;
        cancels_.erase(cancel);
      },
      asio::bind_cancellation_slot(cancel->slot(), asio::detached));
}

void BackchannelLogout::stop() {
  for (auto& c : cancels_) c.emit(asio::cancellation_type::terminal);
}

}  // namespace latchkey::server
