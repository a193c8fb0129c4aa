// TLS to Redis against a real redis-server with a TLS port (certificates from TlsCerts): the
// trust and name checks, mutual TLS, the wrong protocol on either side, re-verification on
// reconnect, and what the server reports when TLS refuses (/readyz 503).
#include "latchkey/redis/connection.hpp"

#include "support/redis_connection.hpp"
#include "support/redis_server.hpp"
#include "support/test_server.hpp"
#include "support/tls_certs.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <fstream>
#include <thread>

#include <unistd.h>

using namespace latchkey;
using namespace latchkey::redis;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using test::first_outcome;
using test::RedisServer;
using test::TlsCerts;

namespace {

// A redis-server with a plaintext port (for the test's own commands) and a TLS port serving
// the certificate `cert`.
struct TlsRedis {
  explicit TlsRedis(const std::string& cert = "server", const std::string& auth_clients = "no")
      : tls_port(test::free_port()),
        rs({"--tls-port", std::to_string(tls_port), "--tls-cert-file", TlsCerts::get().pem(cert), "--tls-key-file",
            TlsCerts::get().key(cert), "--tls-ca-cert-file", TlsCerts::get().pem("ca"), "--tls-auth-clients",
            auth_clients}) {}
  std::string url(const std::string& host = "127.0.0.1") const {
    return "rediss://" + host + ":" + std::to_string(tls_port) + "/0";
  }
  std::uint16_t tls_port;
  RedisServer rs;
};

ConnectionOptions tls_options(const std::string& url, const std::string& ca = "ca") {
  auto o = test::quick_options(url);
  o.tls.ca_file = TlsCerts::get().pem(ca);
  return o;
}

asio::awaitable<result<Replies>> ping(Connection& c) { return test::command(c, {"PING"}); }

}  // namespace

TEST(RedisTls, RightCaConnectsByIpAndByName) {
  TlsRedis t;
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    asio::io_context ioc{1};
    std::vector<std::string> lines;
    auto o = tls_options(t.url(host));
    test::capture_log(o, lines);
    Connection c(ioc.get_executor(), o);
    EXPECT_EQ(first_outcome(ioc, c), "") << host;
    auto r = test::run_awaitable(ioc, ping(c));
    ASSERT_TRUE(r) << host;
    EXPECT_EQ(r->front().str, "PONG");
    // The link that answered is a TLS one (the ready line says so), not a plaintext fallback.
    bool tls_ready = false;
    for (const auto& l : lines)
      tls_ready = tls_ready || (l.starts_with("redis connection ready") && l.ends_with("(TLS)"));
    EXPECT_TRUE(tls_ready) << host;
  }
}

TEST(RedisTls, WrongCaIsRefusedWithTheReason) {
  TlsRedis t("foreign");  // signed by CA-B; latchkey trusts CA-A
  asio::io_context ioc{1};
  Connection c(ioc.get_executor(), tls_options(t.url()));
  std::string why = first_outcome(ioc, c);
  EXPECT_NE(why.find("certificate verify failed"), std::string::npos) << why;
  EXPECT_NE(why.find("local issuer"), std::string::npos) << why;
  EXPECT_FALSE(c.ready());
  EXPECT_FALSE(c.refused_configuration()) << "an outage to retry, not a configuration error";
}

TEST(RedisTls, WrongNameRefusedUnderFullAcceptedUnderCa) {
  TlsRedis t("wrong_name");
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    asio::io_context ioc{1};
    Connection full(ioc.get_executor(), tls_options(t.url(host)));
    std::string why = first_outcome(ioc, full);
    EXPECT_NE(why.find("mismatch"), std::string::npos) << host << ": " << why;
    EXPECT_NE(why.find("redis_tls_server_name"), std::string::npos) << why;
  }
  {
    asio::io_context ioc{1};
    auto o = tls_options(t.url());
    o.tls.verify = TlsVerify::ca;
    Connection ca(ioc.get_executor(), o);
    EXPECT_EQ(first_outcome(ioc, ca), "");
  }
  {
    // redis_tls_server_name: the name the certificate does carry.
    asio::io_context ioc{1};
    auto o = tls_options(t.url());
    o.tls.server_name = "wrong.invalid";
    Connection named(ioc.get_executor(), o);
    EXPECT_EQ(first_outcome(ioc, named), "");
  }
}

TEST(RedisTls, ExpiredCertificateIsRefused) {
  TlsRedis t("expired");
  asio::io_context ioc{1};
  Connection c(ioc.get_executor(), tls_options(t.url()));
  std::string why = first_outcome(ioc, c);
  EXPECT_NE(why.find("certificate has expired"), std::string::npos) << why;
}

TEST(RedisTls, PlaintextToTheTlsPortFailsFast) {
  TlsRedis t;
  asio::io_context ioc{1};
  auto o = tls_options("redis://127.0.0.1:" + std::to_string(t.tls_port));
  o.tls = {};
  Connection c(ioc.get_executor(), o);
  auto t0 = std::chrono::steady_clock::now();
  std::string why = first_outcome(ioc, c);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_NE(why.find("TLS port"), std::string::npos) << why;
  EXPECT_LT(took, 3s) << "bounded by the deadlines, never a hang";
  std::cout << "plaintext to a TLS port: " << why << " ("
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms)\n";
}

TEST(RedisTls, TlsToAPlaintextPortFailsFast) {
  TlsRedis t;
  asio::io_context ioc{1};
  Connection c(ioc.get_executor(), tls_options("rediss://127.0.0.1:" + std::to_string(t.rs.port())));
  auto t0 = std::chrono::steady_clock::now();
  std::string why = first_outcome(ioc, c);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_NE(why.find("TLS"), std::string::npos) << why;
  EXPECT_LT(took, 3s) << "bounded by the connect deadline, never a hang";
}

TEST(RedisTls, MutualTlsNeedsTheClientCertificate) {
  TlsRedis t("server", "yes");
  {
    asio::io_context ioc{1};
    Connection none(ioc.get_executor(), tls_options(t.url()));
    std::string why = first_outcome(ioc, none);
    EXPECT_NE(why.find("redis_tls_cert_file"), std::string::npos) << why;
    EXPECT_FALSE(none.ready());
    std::cout << "without a client certificate: " << why << "\n";
  }
  {
    asio::io_context ioc{1};
    auto o = tls_options(t.url());
    o.tls.cert_file = TlsCerts::get().pem("other_client");
    o.tls.key_file = TlsCerts::get().key("other_client");
    Connection foreign(ioc.get_executor(), o);
    EXPECT_FALSE(first_outcome(ioc, foreign).empty()) << "a client certificate Redis does not trust";
  }
  {
    asio::io_context ioc{1};
    auto o = tls_options(t.url());
    o.tls.cert_file = TlsCerts::get().pem("client");
    o.tls.key_file = TlsCerts::get().key("client");
    Connection good(ioc.get_executor(), o);
    EXPECT_EQ(first_outcome(ioc, good), "");
    auto r = test::run_awaitable(ioc, ping(good));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->front().str, "PONG");
  }
}

TEST(RedisTls, ReconnectAfterClientKillVerifiesAgain) {
  TlsRedis t;
  asio::io_context ioc{1};
  Connection c(ioc.get_executor(), tls_options(t.url()));
  ASSERT_EQ(first_outcome(ioc, c), "");
  const auto before = c.connects();
  // The server now presents a certificate for another name, and drops every client.
  const auto& certs = TlsCerts::get();
  ASSERT_EQ(t.rs.command(
                {"CONFIG", "SET", "tls-cert-file", certs.pem("wrong_name"), "tls-key-file", certs.key("wrong_name")}),
            "OK");
  t.rs.command({"CLIENT", "KILL", "TYPE", "normal"});
  ASSERT_TRUE(test::run_until(
      ioc, [&] { return c.connects() > before || !c.ready(); }, 5s));
  ASSERT_TRUE(test::run_until(
      ioc, [&] { return c.last_error().find("mismatch") != std::string::npos; }, 5s))
      << c.last_error();
  EXPECT_FALSE(c.ready());
  // The right certificate back: it recovers by itself.
  t.rs.command({"CONFIG", "SET", "tls-cert-file", certs.pem("server"), "tls-key-file", certs.key("server")});
  ASSERT_TRUE(test::run_until(
      ioc, [&] { return c.ready(); }, 5s))
      << c.last_error();
}

TEST(RedisTls, UnusableFilesAreConfigurationErrors) {
  const auto& certs = TlsCerts::get();
  TlsSettings missing;
  missing.ca_file = certs.dir() + "/no-such-ca.pem";
  EXPECT_NE(check_tls_settings(missing).find("redis_tls_ca_file"), std::string::npos);
  TlsSettings not_pem;
  not_pem.ca_file = certs.dir() + "/server.ext";
  EXPECT_FALSE(check_tls_settings(not_pem).empty());
  TlsSettings mismatched;
  mismatched.ca_file = certs.pem("ca");
  mismatched.cert_file = certs.pem("client");
  mismatched.key_file = certs.key("server");
  EXPECT_NE(check_tls_settings(mismatched).find("redis_tls_key_file"), std::string::npos)
      << check_tls_settings(mismatched);
  TlsSettings good;
  good.ca_file = certs.pem("ca");
  good.cert_file = certs.pem("client");
  good.key_file = certs.key("client");
  EXPECT_EQ(check_tls_settings(good), "");

  // A connection built with unusable settings says why on every attempt, as a configuration error.
  asio::io_context ioc{1};
  auto o = tls_options("rediss://127.0.0.1:1/0");
  o.tls = missing;
  Connection c(ioc.get_executor(), o);
  EXPECT_NE(first_outcome(ioc, c).find("redis_tls_ca_file"), std::string::npos);
  EXPECT_TRUE(c.refused_configuration());
}

TEST(RedisTls, ServerIsReadyOverTlsAndNotReadyWithTheWrongCa) {
  TlsRedis t;
  auto over_tls = [&](const std::string& ca) {
    return [&t, ca](Config& c) {
      c.redis = *parse_target(t.url());
      c.redis_tls.ca_file = TlsCerts::get().pem(ca);
    };
  };
  {
    test::TestServer good(t.rs, over_tls("ca"));
    auto r = good.get("/readyz");
    EXPECT_EQ(r.status, 200) << r.body;
    auto created =
        good.post("/v1/sessions", R"({"user_id":"u-tls"})", {{"Authorization", "Bearer " + test::kAdminKey}});
    EXPECT_EQ(created.status, 201) << created.body;
  }
  {
    test::TestServer bad(t.rs, over_tls("other_ca"), std::nullopt, std::nullopt, false);
    std::this_thread::sleep_for(200ms);  // attempts made and refused (the answer is 503 either way)
    auto r = bad.get("/readyz");
    EXPECT_EQ(r.status, 503) << r.body;
    auto created = bad.post("/v1/sessions", R"({"user_id":"u-tls"})", {{"Authorization", "Bearer " + test::kAdminKey}});
    EXPECT_EQ(created.status, 503) << created.body;
  }
}

// A reload (SIGHUP, `latchkey reload`, POST /v1/server/reload) re-reads the Redis client's TLS
// files for the next connection: here a CA file that was wrong at start is fixed in place, the
// server stays unready until the reload, and is ready after it without a restart.
TEST(RedisTls, ReloadReadsTheRedisTlsFilesForTheNextConnection) {
  TlsRedis t;
  const auto& certs = TlsCerts::get();
  const std::string dir = certs.dir() + "/redis-reload-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string ca_file = dir + "/redis-ca.pem";
  auto put = [&](const std::string& name) {
    std::filesystem::copy_file(certs.pem(name), ca_file, std::filesystem::copy_options::overwrite_existing);
  };
  put("other_ca");
  const std::string secrets_dir = dir + "/secrets";  // the reload re-reads the rings from here
  ASSERT_EQ(init_secrets(secrets_dir), std::nullopt);
  auto rings = load_secrets(secrets_dir);
  ASSERT_TRUE(std::holds_alternative<Secrets>(rings));
  test::TestServer srv(
      t.rs,
      [&](Config& c) {
        c.redis = *parse_target(t.url());
        c.redis_tls.ca_file = ca_file;
        c.secrets_dir = secrets_dir;
      },
      std::nullopt, std::get<Secrets>(std::move(rings)), false);
  const std::map<std::string, std::string> admin{{"Authorization", "Bearer " + test::kAdminKey}};
  auto ready_within = [&](std::chrono::milliseconds max) {
    auto deadline = std::chrono::steady_clock::now() + max;
    while (std::chrono::steady_clock::now() < deadline) {
      if (srv.get("/readyz").status == 200) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  };
  EXPECT_FALSE(ready_within(300ms)) << "the wrong CA refuses";
  put("ca");
  // The file is right now, but the context in use was built from the old one: still refused
  // through several reconnect attempts (test_config: redis_reconnect_max 200 ms).
  EXPECT_FALSE(ready_within(500ms)) << "nothing is re-read without a reload";
  auto r = srv.post("/v1/server/reload", "", admin);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("reloaded":true)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("Redis TLS files"), std::string::npos) << r.body;
  EXPECT_TRUE(ready_within(5s)) << "the next connection uses the reloaded CA";
  auto created = srv.post("/v1/sessions", R"({"user_id":"u-tls-reload"})", admin);
  EXPECT_EQ(created.status, 201) << created.body;
  // A CA file that is no longer usable: the reload is refused and the link in force stays.
  {
    std::ofstream broken(ca_file, std::ios::trunc);
    broken << "not a certificate";
  }
  auto refused = srv.post("/v1/server/reload", "", admin);
  EXPECT_NE(refused.body.find(R"("reloaded":false)"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("redis_tls_ca_file"), std::string::npos) << refused.body;
  EXPECT_EQ(srv.get("/readyz").status, 200);
  std::filesystem::remove_all(dir);
}
