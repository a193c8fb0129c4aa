// latchkey's own HTTPS (tls_cert_file, tls_key_file, tls_client_ca_file), driven by curl:
// a client trusting the CA gets answers over TLS with ALPN http/1.1, plaintext to the TLS
// port is dropped at once, mutual TLS refuses a missing or foreign client certificate, and
// unusable files stop start-up.
#include "support/http_client.hpp"
#include "support/redis_server.hpp"
#include "support/test_server.hpp"
#include "support/tls_certs.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <unistd.h>

using namespace latchkey;
using namespace latchkey::test;
using namespace std::chrono_literals;

namespace {

struct Curl {
  int exit_code = -1;
  std::string out;
};

// curl with the given extra arguments against https://localhost:PORT/PATH; stdout is the
// body then, after a newline, "http_version status".
Curl curl(std::uint16_t port, const std::string& path, const std::string& args, const std::string& host = "localhost") {
  const std::string at = host + ":" + std::to_string(port);
  std::string cmd = "curl -s --max-time 5 --resolve " + at + ":127.0.0.1 " + args +
                    " -w '\\n%{http_version} %{http_code}' https://" + at + path + " 2>&1";
  Curl c;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return c;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) c.out.append(buf.data(), n);
  int st = ::pclose(p);
  c.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return c;
}

std::function<void(Config&)> https(bool mutual) {
  return [mutual](Config& c) {
    const auto& certs = TlsCerts::get();
    c.tls_cert_file = certs.pem("server");
    c.tls_key_file = certs.key("server");
    if (mutual) c.tls_client_ca_file = certs.pem("ca");
  };
}

}  // namespace

TEST(Https, ServesOverTlsWithAlpnHttp11) {
  RedisServer rs;
  TestServer srv(rs, https(false));
  const std::string ca = "--cacert " + TlsCerts::get().pem("ca");
  auto ok = curl(srv.port(), "/readyz", ca);
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_NE(ok.out.find("\"status\":\"ready\""), std::string::npos) << ok.out;
  EXPECT_TRUE(ok.out.ends_with("1.1 200")) << ok.out;
  auto alpn = curl(srv.port(), "/healthz", ca + " -v");
  EXPECT_NE(alpn.out.find("ALPN: server accepted http/1.1"), std::string::npos) << alpn.out;
  // TLS 1.1 is refused; 1.2 and 1.3 are served.
  EXPECT_NE(curl(srv.port(), "/healthz", ca + " --tlsv1.1 --tls-max 1.1").exit_code, 0);
  EXPECT_EQ(curl(srv.port(), "/healthz", ca + " --tlsv1.2 --tls-max 1.2").exit_code, 0);
  EXPECT_EQ(curl(srv.port(), "/healthz", ca + " --tlsv1.3").exit_code, 0);
  // A client that does not trust the CA refuses the server.
  EXPECT_NE(curl(srv.port(), "/healthz", "").exit_code, 0);
  EXPECT_NE(srv.server().describe_listeners().find("https://"), std::string::npos);
}

TEST(Https, PlaintextToTheTlsPortIsDroppedQuickly) {
  RedisServer rs;
  TestServer srv(rs, https(false));
  HttpConnection plain(srv.port());
  ASSERT_TRUE(plain.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(plain.closed_by_peer(3s)) << "not a ClientHello: the connection is closed";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  // And it never answered in HTTP: no "HTTP/1.1" came back (closed_by_peer saw only EOF).
}

TEST(Https, MutualTlsNeedsAClientCertificateFromTheCa) {
  RedisServer rs;
  TestServer srv(rs, https(true));
  const auto& certs = TlsCerts::get();
  const std::string ca = "--cacert " + certs.pem("ca");
  EXPECT_NE(curl(srv.port(), "/healthz", ca).exit_code, 0) << "no client certificate";
  EXPECT_NE(
      curl(srv.port(), "/healthz", ca + " --cert " + certs.pem("other_client") + " --key " + certs.key("other_client"))
          .exit_code,
      0)
      << "a client certificate from another CA";
  auto ok = curl(srv.port(), "/healthz", ca + " --cert " + certs.pem("client") + " --key " + certs.key("client"));
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_TRUE(ok.out.ends_with("1.1 200")) << ok.out;
}

TEST(Https, UnusableFilesStopStartUp) {
  RedisServer rs;
  const auto& certs = TlsCerts::get();
  auto start_with = [&](const std::string& cert, const std::string& key) -> std::string {
    try {
      TestServer srv(rs, [&](Config& c) {
        c.tls_cert_file = cert;
        c.tls_key_file = key;
      });
      return "";
    } catch (const std::exception& e) {
      return e.what();
    }
  };
  EXPECT_NE(start_with(certs.pem("server"), certs.key("client")).find("tls_key_file"), std::string::npos);
  EXPECT_NE(start_with(certs.dir() + "/server.ext", certs.key("server")).find("tls_cert_file"), std::string::npos);
}

TEST(Https, ReloadSwapsTheCertificateForNewConnectionsAndRefusesABrokenOne) {
  RedisServer rs;
  const auto& certs = TlsCerts::get();
  const std::string dir = certs.dir() + "/reload-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  auto put = [&](const std::string& name) {
    std::filesystem::copy_file(certs.pem(name), dir + "/https.crt", std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(certs.key(name), dir + "/https.key", std::filesystem::copy_options::overwrite_existing);
  };
  put("server");
  const std::string secrets_dir = dir + "/secrets";  // reload re-reads the rings from here
  ASSERT_EQ(init_secrets(secrets_dir), std::nullopt);
  auto rings = load_secrets(secrets_dir);
  ASSERT_TRUE(std::holds_alternative<Secrets>(rings));
  TestServer srv(
      rs,
      [&](Config& c) {
        c.tls_cert_file = dir + "/https.crt";
        c.tls_key_file = dir + "/https.key";
        c.secrets_dir = secrets_dir;
      },
      std::nullopt, std::get<Secrets>(std::move(rings)));
  const std::string ca = "--cacert " + certs.pem("ca");
  ASSERT_EQ(curl(srv.port(), "/healthz", ca).exit_code, 0);
  // A certificate for another name: served to new connections after the reload.
  put("wrong_name");
  EXPECT_EQ(curl(srv.port(), "/healthz", ca).exit_code, 0) << "nothing changes before the reload";
  std::string summary;
  ASSERT_EQ(srv.server().reload(&summary), std::nullopt);
  EXPECT_NE(summary.find("HTTPS certificate"), std::string::npos) << summary;
  std::this_thread::sleep_for(100ms);  // the shards take it on their own threads
  auto refused = curl(srv.port(), "/healthz", ca);
  EXPECT_NE(refused.exit_code, 0) << "the new certificate does not name localhost: " << refused.out;
  // A broken file: refused as a whole, the certificate in force stays.
  {
    std::ofstream broken(dir + "/https.crt", std::ios::trunc);
    broken << "not a certificate";
  }
  auto err = srv.server().reload();
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->find("tls_cert_file"), std::string::npos) << *err;
  EXPECT_EQ(curl(srv.port(), "/healthz", ca, "wrong.invalid").exit_code, 0)
      << "still serving with the certificate of the last good reload";
  std::filesystem::remove_all(dir);
}
