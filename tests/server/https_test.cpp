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
Curl curl(std::uint16_t port, const std::string& path, const std::string& args) {
  std::string cmd = "curl -s --max-time 5 --resolve localhost:" + std::to_string(port) + ":127.0.0.1 " + args +
                    " -w '\\n%{http_version} %{http_code}' https://localhost:" + std::to_string(port) + path +
                    " 2>&1";
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
  EXPECT_NE(curl(srv.port(), "/healthz", ca + " --cert " + certs.pem("other_client") + " --key " +
                                             certs.key("other_client"))
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
