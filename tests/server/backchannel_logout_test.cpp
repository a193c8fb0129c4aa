// OpenID Connect Back-Channel Logout over real HTTP: a test endpoint (a real listening socket)
// receives the logout tokens latchkey POSTs when it ends a user's grants (all the user's
// tokens, one grant by an admin, a replayed code, a reused refresh token); each token verifies
// with the JWKS (here and in PyJWT); a failing first attempt is retried; the outcome is a
// security event; the request that ended the grant never waits for the delivery.
#include "latchkey/clock.hpp"
#include "latchkey/crypto/jws.hpp"
#include "latchkey/crypto/primitives.hpp"

#include "support/oauth_support.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"
#include "support/tls_certs.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

using namespace latchkey;
using namespace latchkey::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

// A client's back-channel logout endpoint: accepts on 127.0.0.1, reads one request per
// connection, answers the next scripted status (200 when none is left), or holds the
// connection without answering while `hold` is set.
class Receiver {
 public:
  Receiver() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0)
      throw std::runtime_error("bind");
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~Receiver() {
    stop_ = true;
    hold = false;
    thread_.join();
    ::close(fd_);
  }
  std::string uri() const { return "http://127.0.0.1:" + std::to_string(port_) + "/bcl"; }
  void script(std::vector<int> statuses) {
    std::lock_guard l(m_);
    statuses_.assign(statuses.begin(), statuses.end());
  }
  // The bodies received, waiting (bounded: 15 s) until there are at least `n`.
  std::vector<std::string> bodies(std::size_t n) {
    std::unique_lock l(m_);
    cv_.wait_for(l, 15s, [&] { return bodies_.size() >= n; });
    return bodies_;
  }
  std::atomic<bool> hold{false};
  // Waits (bounded: 15 s) until `n` requests were read (answered or held).
  bool wait_arrived(int n) {
    for (int i = 0; i < 1500 && arrived_ < n; ++i) std::this_thread::sleep_for(10ms);
    return arrived_ >= n;
  }

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string req;
      char buf[4096];
      std::size_t want = std::string::npos;
      while (true) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 2000) <= 0) break;
        auto n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, static_cast<std::size_t>(n));
        auto end = req.find("\r\n\r\n");
        if (end != std::string::npos && want == std::string::npos) {
          auto cl = req.find("Content-Length: ");
          std::size_t len = cl == std::string::npos ? 0 : std::stoul(req.substr(cl + 16));
          want = end + 4 + len;
        }
        if (want != std::string::npos && req.size() >= want) break;
      }
      ++arrived_;
      while (hold && !stop_) std::this_thread::sleep_for(10ms);
      int status = 200;
      {
        std::lock_guard l(m_);
        if (!statuses_.empty()) {
          status = statuses_.front();
          statuses_.pop_front();
        }
        auto end = req.find("\r\n\r\n");
        bodies_.push_back(end == std::string::npos ? std::string() : req.substr(end + 4));
        headers_.push_back(req.substr(0, end));
      }
      cv_.notify_all();
      std::string answer =
          "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!::write(c, answer.data(), answer.size());
      ::close(c);
    }
  }
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> arrived_{0};
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<int> statuses_;
  std::vector<std::string> bodies_;

 public:
  std::vector<std::string> headers_;
};

class BackchannelLogoutTest : public OAuthHttpTest {
 protected:
  void SetUp() override {
    start([](Config& c) { c.token_issuer = "https://auth.example"; });
  }
  ClientCreds bcl_client(const std::string& uri) {
    return register_client(R"({"client_name":"Shop","redirect_uris":[")" + kRedirect +
                           R"("],"grant_types":["authorization_code","refresh_token"],"scope":"openid read",)"
                           R"("backchannel_logout_uri":")" +
                           uri + R"("})");
  }
  // A grant of alice's with `c`: its tokens.
  json::object grant(const ClientCreds& c) {
    auto r = redeem(c, code_for(c.id, R"({"scope":"openid","nonce":"n"})"));
    EXPECT_EQ(r.status, 200) << r.body;
    return obj(r);
  }
  // The claims of a logout token (from a POST body), verified with the JWKS; empty if not.
  json::object logout_claims(const std::string& body) {
    EXPECT_TRUE(body.starts_with("logout_token=")) << body;
    std::string token = body.substr(13);
    auto jwks = json_of(srv->get("/.well-known/jwks.json", {{"Authorization", ""}}));
    std::vector<crypto::jws::Key> keys;
    for (const auto& k : jwks.at("keys").as_array())
      if (auto key = crypto::jws::Key::from_jwk(k.as_object())) keys.push_back(*key);
    auto r = crypto::jws::Verifier(std::move(keys)).verify(token);
    auto* ok = std::get_if<crypto::jws::Verified>(&r);
    if (!ok) return {};
    EXPECT_EQ(ok->header.at("typ").as_string(), "logout+jwt");
    return ok->claims;
  }
  std::string sid_of(const json::object& tokens) {
    const std::string id = str(tokens, "id_token");
    auto payload =
        json::parse(*crypto::base64url_decode(id.substr(id.find('.') + 1, id.rfind('.') - id.find('.') - 1)));
    return std::string(payload.at("sid").as_string());
  }
  Receiver rx;
};

const char* kEvent = "http://schemas.openid.net/event/backchannel-logout";

}  // namespace

TEST_F(BackchannelLogoutTest, RevokingAUsersTokensTellsEveryClientThatAsked) {
  auto a = bcl_client(rx.uri());
  auto b = register_client(R"({"redirect_uris":[")" + kRedirect +
                           R"("],"grant_types":["authorization_code","refresh_token"],"scope":"openid"})");
  auto ta = grant(a);
  grant(b);
  auto r = srv->del("/v1/users/alice/tokens");
  ASSERT_EQ(r.status, 200) << r.body;
  auto bodies = rx.bodies(1);
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_NE(rx.headers_[0].find("Content-Type: application/x-www-form-urlencoded"), std::string::npos)
      << rx.headers_[0];
  auto c = logout_claims(bodies[0]);
  ASSERT_FALSE(c.empty()) << "the logout token verifies with the JWKS";
  EXPECT_EQ(str(c, "iss"), "https://auth.example");
  EXPECT_EQ(str(c, "aud"), a.id);
  EXPECT_EQ(str(c, "sub"), "alice");
  EXPECT_EQ(str(c, "sid"), sid_of(ta));
  EXPECT_FALSE(str(c, "jti").empty());
  EXPECT_TRUE(c.at("events").as_object().contains(kEvent));
  EXPECT_FALSE(c.contains("nonce")) << "Back-Channel Logout 2.4: a logout token has no nonce";
  EXPECT_GT(c.at("exp").as_int64(), c.at("iat").as_int64());
  auto e = event_of(*srv, "backchannel_logout");
  EXPECT_EQ(str(e, "outcome"), "delivered") << json::serialize(e);
  EXPECT_EQ(str(e, "client_id"), a.id);
  EXPECT_EQ(str(e, "reason"), "user_tokens_revoked");
  EXPECT_EQ(str(e, "attempts"), "1");

  // PyJWT verifies it too, through the same JWKS.
  char tmpl[] = "/tmp/latchkey-bcl-XXXXXX";
  ASSERT_TRUE(::mkdtemp(tmpl));
  const std::string dir = tmpl;
  std::ofstream(dir + "/jwks.json") << srv->get("/.well-known/jwks.json", {{"Authorization", ""}}).body;
  Process p({"/usr/bin/python3", std::string(LATCHKEY_SOURCE_DIR) + "/tests/interop/pyjwt_interop.py", "verify-logout",
             dir + "/jwks.json", "https://auth.example", a.id, bodies[0].substr(13)},
            {});
  EXPECT_EQ(p.wait(60s), 0) << p.err();
  EXPECT_EQ(p.out(), "ok 1\n") << p.err();
  std::filesystem::remove_all(dir);
}

TEST_F(BackchannelLogoutTest, AFailingFirstAttemptIsRetriedAndThreeFailuresAreRecorded) {
  auto a = bcl_client(rx.uri());
  auto t1 = grant(a);
  rx.script({500});
  ASSERT_EQ(srv->del("/v1/users/alice/tokens").status, 200);
  auto bodies = rx.bodies(2);
  ASSERT_EQ(bodies.size(), 2u) << "one retry after the 500";
  EXPECT_EQ(str(logout_claims(bodies[1]), "sid"), sid_of(t1));
  auto delivered = event_of(*srv, "backchannel_logout");
  EXPECT_EQ(str(delivered, "outcome"), "delivered");
  EXPECT_EQ(str(delivered, "attempts"), "2");

  grant(a);
  rx.script({503, 500, 502});
  ASSERT_EQ(srv->del("/v1/users/alice/tokens").status, 200);
  EXPECT_EQ(rx.bodies(5).size(), 5u) << "three attempts, no more";
  auto failed = events_of(*srv, "?type=backchannel_logout", 2);
  bool seen = false;
  for (const auto& ev : failed) {
    const auto& o = ev.as_object();
    if (str(o, "outcome") != "failed") continue;
    seen = true;
    EXPECT_EQ(str(o, "attempts"), "3");
    EXPECT_NE(str(o, "detail").find("502"), std::string::npos) << json::serialize(o);
  }
  EXPECT_TRUE(seen) << json::serialize(failed);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(rx.bodies(5).size(), 5u);
}

TEST_F(BackchannelLogoutTest, AnAdminRevokingOneGrantTellsOnlyThatGrantsClient) {
  auto a = bcl_client(rx.uri());
  auto t1 = grant(a);
  auto t2 = grant(a);
  auto fams = json_of(srv->get("/v1/users/alice/tokens")).at("families").as_array();
  ASSERT_EQ(fams.size(), 2u);
  std::string sid2 = sid_of(t2);
  ASSERT_EQ(srv->del("/v1/users/alice/tokens/" + sid2).status, 204);
  auto bodies = rx.bodies(1);
  ASSERT_EQ(bodies.size(), 1u);
  auto c = logout_claims(bodies[0]);
  EXPECT_EQ(str(c, "sid"), sid2);
  EXPECT_EQ(str(c, "sub"), "alice");
  EXPECT_EQ(str(event_of(*srv, "backchannel_logout"), "reason"), "grant_revoked");
  // The other grant lives on.
  EXPECT_EQ(refresh(a, str(t1, "refresh_token")).status, 200);
}

TEST_F(BackchannelLogoutTest, AReplayedCodeAndAReusedRefreshTokenEndTheirGrantAndTellTheClient) {
  auto a = bcl_client(rx.uri());
  auto code = code_for(a.id, R"({"scope":"openid"})");
  auto t = obj(redeem(a, code));
  ASSERT_EQ(redeem(a, code).status, 400);
  auto bodies = rx.bodies(1);
  ASSERT_EQ(bodies.size(), 1u);
  auto c = logout_claims(bodies[0]);
  EXPECT_EQ(str(c, "sid"), sid_of(t));
  EXPECT_FALSE(c.contains("sub")) << "a replayed code names the grant only";

  auto t2 = grant(a);
  auto second = obj(refresh(a, str(t2, "refresh_token")));
  ASSERT_EQ(refresh(a, str(second, "refresh_token")).status, 200);
  // The first token, two rotations back (no grace retry): reuse, the family is revoked.
  ASSERT_EQ(refresh(a, str(t2, "refresh_token")).status, 400);
  bodies = rx.bodies(2);
  ASSERT_EQ(bodies.size(), 2u);
  auto c2 = logout_claims(bodies[1]);
  EXPECT_EQ(str(c2, "sid"), sid_of(t2));
  // A token two rotations back no longer holds its grant (pruned): the grant is named by sid.
  EXPECT_FALSE(c2.contains("sub"));
  auto delivered = events_of(*srv, "?type=backchannel_logout", 2);
  ASSERT_EQ(delivered.size(), 2u);
  for (const auto& e : delivered) {
    EXPECT_EQ(str(e.as_object(), "outcome"), "delivered");
    EXPECT_EQ(str(e.as_object(), "client_id"), a.id);
  }
}

TEST_F(BackchannelLogoutTest, TheRequestThatEndsTheGrantNeverWaitsForTheDelivery) {
  auto a = bcl_client(rx.uri());
  grant(a);
  rx.hold = true;  // the endpoint reads the request and does not answer until released
  auto r = srv->del("/v1/users/alice/tokens");
  EXPECT_EQ(r.status, 200);
  // The delivery reached the endpoint and has had no answer: the DELETE above was answered
  // without waiting for it.
  EXPECT_TRUE(rx.wait_arrived(1));
  EXPECT_TRUE(rx.bodies(0).empty()) << "not answered yet";
  rx.hold = false;
  EXPECT_EQ(rx.bodies(1).size(), 1u);
}

TEST_F(BackchannelLogoutTest, RegistrationChecksTheUriAndADeletedClientIsNotTold) {
  for (const char* bad : {R"("ftp://x.example/bcl")", R"("https://x.example/bcl#f")", R"("http://x.example/bcl")",
                          R"(7)", R"("relative/path")"}) {
    auto r = srv->post("/v1/oauth/clients",
                       std::string(R"({"grant_types":["client_credentials"],"backchannel_logout_uri":)") + bad + "}");
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
    EXPECT_EQ(error_code(r), "invalid_client_metadata") << bad;
  }
  auto a = bcl_client(rx.uri());
  EXPECT_EQ(str(json_of(srv->get("/v1/oauth/clients/" + a.id)).as_object(), "backchannel_logout_uri"), rx.uri());
  grant(a);
  ASSERT_EQ(srv->del("/v1/oauth/clients/" + a.id).status, 204);
  ASSERT_EQ(srv->del("/v1/users/alice/tokens").status, 200);
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(rx.bodies(0).empty()) << "nobody to tell";
}

// An https backchannel_logout_uri: the certificate must chain to oauth_backchannel_logout_ca_file
// (else the system's CAs) and name the URI's host; an untrusted one gets nothing.
TEST_F(BackchannelLogoutTest, HttpsEndpointsAreVerifiedAgainstTheConfiguredCas) {
  for (const bool trusted : {true, false}) {
    SCOPED_TRACE(trusted ? "trusted CA" : "another CA");
    const auto& certs = TlsCerts::get();
    start([&](Config& c) {
      c.token_issuer = "https://auth.example";
      c.oauth_backchannel_logout_ca_file = certs.pem(trusted ? "ca" : "other_ca");
    });
    std::uint16_t port = free_port();
    Process rx_https({"/usr/bin/python3", std::string(LATCHKEY_SOURCE_DIR) + "/tests/support/https_receiver.py",
                      std::to_string(port), certs.pem("server"), certs.key("server"), "1", trusted ? "20" : "6"},
                     {});
    for (int i = 0; i < 500 && rx_https.out().find("listening") == std::string::npos; ++i)
      std::this_thread::sleep_for(10ms);
    ASSERT_NE(rx_https.out().find("listening"), std::string::npos) << rx_https.err();
    auto a = bcl_client("https://localhost:" + std::to_string(port) + "/bcl");
    grant(a);
    ASSERT_EQ(srv->del("/v1/users/alice/tokens").status, 200);
    // Three attempts when they fail (1 s, then 2 s apart): wait for the outcome, bounded.
    json::array found;
    for (int i = 0; i < 10 && found.empty(); ++i) found = events_of(*srv, "?type=backchannel_logout", 1);
    ASSERT_EQ(found.size(), 1u);
    const auto& e = found[0].as_object();
    rx_https.wait(30s);
    if (trusted) {
      EXPECT_EQ(str(e, "outcome"), "delivered") << json::serialize(e);
      EXPECT_NE(rx_https.out().find("logout_token="), std::string::npos) << rx_https.err();
    } else {
      EXPECT_EQ(str(e, "outcome"), "failed") << json::serialize(e);
      EXPECT_NE(str(e, "detail").find("tls"), std::string::npos) << json::serialize(e);
      EXPECT_EQ(rx_https.out().find("logout_token="), std::string::npos) << "nothing reached an untrusted endpoint";
    }
    rs.command({"FLUSHALL"});
  }
}

// Shutdown cancels deliveries in flight: a client endpoint that never answers does not hold
// the process. The receiver is released only after stop() returned, or by a watchdog at 4 s:
// shorter than one attempt's own deadline (5 s, BackchannelLogout::kTimeout), so a stop()
// that waited for the attempt to time out trips it (checked: without the cancellation it does).
TEST_F(BackchannelLogoutTest, ShutdownDoesNotWaitForASlowClient) {
  auto a = bcl_client(rx.uri());
  grant(a);
  rx.hold = true;
  ASSERT_EQ(srv->del("/v1/users/alice/tokens").status, 200);
  ASSERT_TRUE(rx.wait_arrived(1));
  std::atomic<bool> stopped{false}, watchdog_fired{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 400 && !stopped; ++i) std::this_thread::sleep_for(10ms);
    if (!stopped) {
      watchdog_fired = true;
      rx.hold = false;
    }
  });
  srv->stop();
  stopped = true;
  watchdog.join();
  EXPECT_FALSE(watchdog_fired) << "stop() waited for the delivery";
  rx.hold = false;
}
