// The latchkey executable as an operator runs it: subcommands, start-up refusals with one
// clear message, start-up while Redis is down, SIGTERM draining in-flight requests, and an
// access log that never carries a secret.
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"

#include "server/routes.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <signal.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <future>
#include <iostream>
#include <thread>

using namespace latchkey::test;
using namespace std::chrono_literals;

namespace {

const std::string kAdminKey = "cli-admin-key-0123456789abcdef0123456789";

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/latchkey-cli-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

int run(std::vector<std::string> args, std::map<std::string, std::string> env = {}, std::string* out = nullptr,
        std::string* err = nullptr) {
  args.insert(args.begin(), latchkey_binary());
  Process p(args, env);
  auto code = p.wait(30s);
  if (out) *out = p.out();
  if (err) *err = p.err();
  return code.value_or(-999);
}

std::string init_keys(const TempDir& d) {
  std::string dir = d.path + "/secrets";
  EXPECT_EQ(run({"keys", "init", "--dir", dir}), 0);
  return dir;
}

std::map<std::string, std::string> serve_env(const std::string& secrets, const std::string& redis_url,
                                             std::uint16_t port) {
  return {{"LATCHKEY_ADMIN_API_KEYS", kAdminKey}, {"LATCHKEY_SECRETS_DIR", secrets},
          {"LATCHKEY_REDIS_URL", redis_url},      {"LATCHKEY_LISTEN", "127.0.0.1:" + std::to_string(port)},
          {"LATCHKEY_REDIS_TIMEOUT_MS", "2000"},  {"LATCHKEY_REDIS_RECONNECT_MAX_MS", "200"}};
}

bool wait_for_status(std::uint16_t port, const std::string& path, int status, std::chrono::milliseconds max);

// `latchkey serve` on a free port against `rs`, with fresh key rings.
struct Serving {
  explicit Serving(const RedisServer& rs)
      : secrets(init_keys(dir)),
        port(reserved_listen_port()),
        process({latchkey_binary(), "serve"}, serve_env(secrets, rs.url(), port)) {}
  TempDir dir;
  std::string secrets;
  std::uint16_t port;
  Process process;
};

bool wait_for_status(std::uint16_t port, const std::string& path, int status, std::chrono::milliseconds max) {
  auto deadline = std::chrono::steady_clock::now() + max;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if (http_request(port, "GET", path).status == status) return true;
    } catch (const std::exception&) {}
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

}  // namespace

// The server binary allocates with mimalloc (src/CMakeLists.txt), except in sanitizer builds.
TEST(Cli, TheServerAllocatesWithMimalloc) {
  std::string out, err;
  ASSERT_EQ(run({"version"}, {{"MIMALLOC_VERBOSE", "1"}}, &out, &err), 0);
#ifdef LATCHKEY_EXPECT_MIMALLOC
  EXPECT_NE(err.find("mimalloc: process init"), std::string::npos) << err;
#else
  EXPECT_EQ(err.find("mimalloc"), std::string::npos) << "a sanitizer build keeps the sanitizer's allocator: " << err;
#endif
}

TEST(Cli, VersionAndUsage) {
  std::string out, err;
  EXPECT_EQ(run({"version"}, {}, &out), 0);
  EXPECT_EQ(out.rfind("latchkey ", 0), 0u) << out;
  EXPECT_EQ(run({}, {}, nullptr, &err), 2);
  EXPECT_NE(err.find("usage"), std::string::npos);
  EXPECT_EQ(run({"frobnicate"}, {}, nullptr, &err), 2);
  EXPECT_NE(err.find("unknown command 'frobnicate'"), std::string::npos);
}

TEST(Cli, KeysInitCreatesPrivateRingsAndNeverOverwrites) {
  TempDir d;
  std::string dir = init_keys(d);
  std::string ring = dir + "/encryption.json";
  struct stat st {};
  ASSERT_EQ(::stat(ring.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string before = read_file(ring);
  std::string signing = dir + "/signing.json";
  ASSERT_EQ(::stat(signing.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string signing_before = read_file(signing);
  EXPECT_NE(signing_before.find("\"alg\":\"EdDSA\""), std::string::npos) << "asymmetric by default";
  EXPECT_EQ(run({"keys", "init", "--dir", dir}), 0);
  EXPECT_EQ(read_file(ring), before);
  EXPECT_EQ(read_file(signing), signing_before);
}

TEST(Cli, KeysAddListRemoveRotateTheSigningRing) {
  TempDir d;
  std::string dir = init_keys(d);
  std::string out, err;
  ASSERT_EQ(run({"keys", "list", "--dir", dir}, {}, &out), 0);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  std::string first_kid = out.substr(0, out.find(' '));
  EXPECT_NE(out.find("(signing)"), std::string::npos);
  // Times as RFC 3339 UTC, a key without an end as "never".
  EXPECT_TRUE(std::regex_search(out, std::regex(" created=20\\d\\d-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ "))) << out;
  EXPECT_NE(out.find(" expires=never"), std::string::npos) << out;
  for (std::string alg : {"ES256", "RS256", "HS256"})
    ASSERT_EQ(run({"keys", "add", "--dir", dir, "--alg", alg}, {}, &out), 0) << alg;
  ASSERT_EQ(run({"keys", "add", "--dir", dir, "--alg=EdDSA", "--activate-in", "3600"}, {}, &out), 0);
  ASSERT_EQ(run({"keys", "list", "--dir", dir}, {}, &out), 0);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 5) << out;
  // The HS256 key (newest active) signs; the one activating in an hour does not yet.
  auto signing_line = out.substr(out.rfind('\n', out.find("(signing)")) + 1);
  EXPECT_NE(signing_line.find("HS256"), std::string::npos) << out;
  EXPECT_EQ(out.find("PRIVATE"), std::string::npos) << "list never prints key material";
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/signing.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(run({"keys", "retire", "--dir", dir, "--kid", first_kid, "--in", "0"}, {}, &out), 0);
  ASSERT_EQ(run({"keys", "list", "--dir", dir}, {}, &out), 0);
  EXPECT_NE(out.find(first_kid + " EdDSA"), std::string::npos);
  EXPECT_NE(out.substr(out.find(first_kid)).find("(expired)"), std::string::npos) << out;
  EXPECT_EQ(run({"keys", "retire", "--dir", dir, "--kid", "nope"}, {}, nullptr, &err), 1);
  EXPECT_EQ(run({"keys", "remove", "--dir", dir, "--kid", first_kid}, {}, &out), 0);
  ASSERT_EQ(run({"keys", "list", "--dir", dir}, {}, &out), 0);
  EXPECT_EQ(out.find(first_kid), std::string::npos);
  EXPECT_EQ(run({"keys", "remove", "--dir", dir, "--kid", "nope"}, {}, nullptr, &err), 1);
  EXPECT_EQ(run({"keys", "add", "--dir", dir, "--alg", "none"}, {}, nullptr, &err), 1);
  EXPECT_NE(err.find("--alg"), std::string::npos) << err;
  EXPECT_EQ(run({"keys", "add", "--dir", dir, "--alg", "HS512"}, {}, nullptr, &err), 1);
}

TEST(Cli, RefusesAWeakOrBrokenSigningRingNamingTheKey) {
  TempDir d;
  std::string dir = init_keys(d);
  std::ofstream(dir + "/signing.json") << R"({"keys":[{"kid":"short","alg":"HS256","secret":"c2hvcnQ"}]})";
  std::string err;
  EXPECT_EQ(run({"serve"}, serve_env(dir, "redis://127.0.0.1:1/0", 1), nullptr, &err), 2);
  EXPECT_NE(err.find("signing.json"), std::string::npos) << err;
  EXPECT_NE(err.find("'short'"), std::string::npos) << err;
  EXPECT_NE(err.find("32"), std::string::npos) << err;
  ::unlink((dir + "/signing.json").c_str());
  EXPECT_EQ(run({"serve"}, serve_env(dir, "redis://127.0.0.1:1/0", 1), nullptr, &err), 2);
  EXPECT_NE(err.find("signing key ring"), std::string::npos) << err;
  EXPECT_NE(err.find("keys init"), std::string::npos) << err;
}

TEST(Cli, InvalidConfigStopsStartupNamingTheOption) {
  TempDir d;
  std::string dir = init_keys(d);
  std::string err;
  auto env = serve_env(dir, "redis://127.0.0.1:1/0", 1);
  env["LATCHKEY_THREADS"] = "lots";
  EXPECT_EQ(run({"serve"}, env, nullptr, &err), 2);
  EXPECT_NE(err.find("'threads'"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "one clear message: " << err;

  std::string conf = d.path + "/bad.conf";
  std::ofstream(conf) << "listen = 127.0.0.1:8080\nmax_body_bytes = tiny\n";
  EXPECT_EQ(run({"serve", "--config", conf}, serve_env(dir, "redis://127.0.0.1:1/0", 1), nullptr, &err), 2);
  EXPECT_NE(err.find("'max_body_bytes'"), std::string::npos) << err;
  EXPECT_NE(err.find("bad.conf:2"), std::string::npos) << err;

  auto no_keys = serve_env(dir, "redis://127.0.0.1:1/0", 1);
  no_keys.erase("LATCHKEY_ADMIN_API_KEYS");
  EXPECT_EQ(run({"serve"}, no_keys, nullptr, &err), 2);
  EXPECT_NE(err.find("admin_api_keys"), std::string::npos) << err;
}

TEST(Cli, RefusesToStartWithoutKeyRings) {
  TempDir d;
  std::string err;
  EXPECT_EQ(run({"serve"}, serve_env(d.path + "/nothing", "redis://127.0.0.1:1/0", 1), nullptr, &err), 2);
  EXPECT_NE(err.find("encryption.json"), std::string::npos) << err;
  EXPECT_NE(err.find("keys init"), std::string::npos) << err;
}

TEST(Cli, RefusesAnEvictingRedisAndSaysWhy) {
  RedisServer rs({"--maxmemory-policy", "allkeys-lru"});
  TempDir d;
  std::string dir = init_keys(d);
  std::string err;
  EXPECT_EQ(run({"serve"}, serve_env(dir, rs.url(), reserved_listen_port()), nullptr, &err), 2);
  EXPECT_NE(err.find("allkeys-lru"), std::string::npos) << err;
  EXPECT_NE(err.find("revocations"), std::string::npos) << err;
  EXPECT_NE(err.find("redis_allow_eviction"), std::string::npos) << err;
}

// Issue 12 item 10: the eviction guard speaks once. Refused: one line saying why (not also a
// "redis unavailable" line per attempt); allowed: one warning for the process (not one per
// shard and one more for the start-up check), which does not tell to set what is set.
namespace {
std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}
}  // namespace

TEST(Cli, TheEvictionGuardIsPrintedOnce) {
  RedisServer rs({"--maxmemory-policy", "volatile-lru"});
  TempDir d;
  std::string dir = init_keys(d);
  std::string err;
  auto env = serve_env(dir, rs.url(), reserved_listen_port());
  EXPECT_EQ(run({"serve"}, env, nullptr, &err), 2);
  EXPECT_EQ(occurrences(err, "volatile-lru"), 1u) << err;
  EXPECT_EQ(occurrences(err, "redis unavailable"), 0u) << err;

  env["LATCHKEY_REDIS_ALLOW_EVICTION"] = "true";
  env["LATCHKEY_THREADS"] = "2";
  auto port = reserved_listen_port();
  env["LATCHKEY_LISTEN"] = "127.0.0.1:" + std::to_string(port);
  Process p({latchkey_binary(), "serve"}, env);
  ASSERT_TRUE(wait_for_status(port, "/readyz", 200, 10s)) << p.err();
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(10s), 0) << p.err();
  EXPECT_EQ(occurrences(p.err(), "volatile-lru"), 1u) << p.err();
  EXPECT_EQ(occurrences(p.err(), "allowed by redis_allow_eviction"), 1u) << p.err();
  EXPECT_EQ(occurrences(p.err(), "set redis_allow_eviction=true"), 0u) << p.err();
}

// log_level drops the events below it: at warn the start-up's info lines are gone and the
// eviction warning stays; at error the warning goes too.
TEST(Cli, LogLevelDropsLessSevereEvents) {
  RedisServer rs({"--maxmemory-policy", "volatile-lru"});
  TempDir d;
  std::string dir = init_keys(d);
  for (const char* level : {"info", "warn", "error"}) {
    auto env = serve_env(dir, rs.url(), 0);
    env["LATCHKEY_REDIS_ALLOW_EVICTION"] = "true";
    env["LATCHKEY_LOG_LEVEL"] = level;
    auto port = reserved_listen_port();
    env["LATCHKEY_LISTEN"] = "127.0.0.1:" + std::to_string(port);
    Process p({latchkey_binary(), "serve"}, env);
    ASSERT_TRUE(wait_for_status(port, "/readyz", 200, 10s)) << p.err();
    p.signal(SIGTERM);
    ASSERT_EQ(p.wait(10s), 0) << p.err();
    const std::string level_s(level);
    EXPECT_EQ(occurrences(p.err(), "\"level\":\"info\"") > 0, level_s == "info") << level << ": " << p.err();
    EXPECT_EQ(occurrences(p.err(), "allowed by redis_allow_eviction") == 1, level_s != "error")
        << level << ": " << p.err();
  }
  std::string err;
  EXPECT_EQ(run({"serve", "--log_level=loud"}, serve_env(dir, rs.url(), 1), nullptr, &err), 2);
  EXPECT_NE(err.find("'log_level'"), std::string::npos) << err;
  EXPECT_NE(err.find("debug, info, warn or error"), std::string::npos) << err;
}

// Issue 12 item 10: a wrong or missing Redis password stops start-up with that cause.
TEST(Cli, RefusesWrongOrMissingRedisCredentialsAndSaysWhy) {
  RedisServer rs({"--requirepass", "s3cret"});
  TempDir d;
  std::string dir = init_keys(d);
  std::string err;
  std::string wrong = "redis://:nope@127.0.0.1:" + std::to_string(rs.port()) + "/0";
  EXPECT_EQ(run({"serve"}, serve_env(dir, wrong, reserved_listen_port()), nullptr, &err), 2);
  EXPECT_NE(err.find("refusing to start"), std::string::npos) << err;
  EXPECT_NE(err.find("refused the credentials"), std::string::npos) << err;
  EXPECT_EQ(err.find("nope"), std::string::npos) << "never the password: " << err;
  err.clear();
  EXPECT_EQ(run({"serve"}, serve_env(dir, rs.url(), reserved_listen_port()), nullptr, &err), 2);
  EXPECT_NE(err.find("requires a password"), std::string::npos) << err;
  EXPECT_EQ(err.find("maxmemory"), std::string::npos) << err;
}

TEST(Cli, StartsWithRedisDownAndBecomesReadyWhenItAppears) {
  RedisServer rs;
  rs.kill();
  Serving s(rs);
  auto port = s.port;
  Process& p = s.process;
  ASSERT_TRUE(wait_for_status(port, "/healthz", 200, 10s)) << p.err();
  EXPECT_EQ(http_request(port, "GET", "/readyz").status, 503);
  rs.start();
  EXPECT_TRUE(wait_for_status(port, "/readyz", 200, 10s)) << p.err();
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(10s), 0) << p.err();
}

TEST(Cli, SigtermDrainsInFlightRequests) {
  RedisServer rs;
  Serving s(rs);
  auto port = s.port;
  Process& p = s.process;
  ASSERT_TRUE(wait_for_status(port, "/readyz", 200, 10s)) << p.err();
  // Freeze Redis for 0.8 s, so /readyz requests are in flight when SIGTERM arrives.
  auto sleeper = std::async(std::launch::async, [&] { return rs.command({"DEBUG", "SLEEP", "0.8"}); });
  std::this_thread::sleep_for(100ms);
  std::vector<std::future<HttpResult>> inflight;
  for (int i = 0; i < 8; ++i)
    inflight.push_back(std::async(std::launch::async, [port] { return http_request(port, "GET", "/readyz"); }));
  std::this_thread::sleep_for(200ms);
  p.signal(SIGTERM);
  for (auto& f : inflight) EXPECT_EQ(f.get().status, 200) << "in-flight request lost at shutdown";
  EXPECT_EQ(sleeper.get(), "OK");
  EXPECT_EQ(p.wait(10s), 0) << p.err();
  EXPECT_NE(p.err().find("draining"), std::string::npos);
}

TEST(Cli, AccessLogIsJsonAndCarriesNoSecret) {
  RedisServer rs;
  Serving s(rs);
  auto port = s.port;
  Process& p = s.process;
  ASSERT_TRUE(wait_for_status(port, "/readyz", 200, 10s)) << p.err();
  const std::string secret_token = "SECRETTOKENVALUE0123456789abcdefghijklmnopq";
  http_request(port, "POST", "/v1/sessions/validate", "{\"token\":\"" + secret_token + "\"}",
               {{"Authorization", "Bearer " + kAdminKey},
                {"Content-Type", "application/json"},
                {"X-Session-Token", secret_token},
                {"Cookie", "sid=" + secret_token}});
  http_request(port, "GET", "/healthz?token=" + secret_token);
  http_request(port, "GET", "/v1/users/" + secret_token + "/sessions", "", {{"Authorization", "Bearer wrong"}});
  p.signal(SIGTERM);
  ASSERT_EQ(p.wait(10s), 0);
  std::string out = p.out(), err = p.err();
  EXPECT_EQ(out.find(secret_token), std::string::npos) << out;
  EXPECT_EQ(out.find(kAdminKey), std::string::npos);
  EXPECT_EQ(err.find(secret_token), std::string::npos);
  EXPECT_EQ(err.find(kAdminKey), std::string::npos);
  // One JSON object per line, with the fields an operator filters on.
  std::istringstream lines(out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    EXPECT_EQ(line.front(), '{');
    EXPECT_NE(line.find("\"request_id\""), std::string::npos);
    EXPECT_NE(line.find("\"status\""), std::string::npos);
    EXPECT_NE(line.find("\"route\""), std::string::npos);
  }
  EXPECT_GE(n, 4);
}

TEST(Cli, ClientsAddGetListDeleteAgainstTheConfiguredRedis) {
  RedisServer rs;
  TempDir d;
  std::string dir = init_keys(d);
  auto env = serve_env(dir, rs.url(), 1);
  std::string out, err;
  ASSERT_EQ(run({"clients", "add", "--client-name", "Shop", "--redirect-uri", "https://shop.example/cb", "--grant-type",
                 "authorization_code", "--grant-type", "client_credentials", "--scope", "read write"},
                env, &out, &err),
            0)
      << err;
  auto id_at = out.find("client_id: ");
  ASSERT_NE(id_at, std::string::npos) << out;
  std::string id = out.substr(id_at + 11, 22);
  auto secret_at = out.find("client_secret: ");
  ASSERT_NE(secret_at, std::string::npos) << out;
  std::string secret = out.substr(secret_at + 15, 43);
  EXPECT_EQ(rs.dump_all(true).find(secret), std::string::npos) << "stored hashed";
  ASSERT_EQ(run({"clients", "get", id}, env, &out, &err), 0) << err;
  EXPECT_NE(out.find("grant_types: authorization_code client_credentials"), std::string::npos) << out;
  EXPECT_EQ(out.find(secret), std::string::npos);
  ASSERT_EQ(run({"clients", "add", "--redirect-uri=https://app.example/cb", "--auth-method=none"}, env, &out, &err), 0)
      << err;
  EXPECT_EQ(out.find("client_secret"), std::string::npos) << "public clients have no secret";
  const std::string app_id = out.substr(out.find("client_id: ") + 11, 22);
  ASSERT_EQ(run({"clients", "list"}, env, &out, &err), 0) << err;
  const std::string shop_line = id + "\tShop\n", app_line = app_id + "\t\n";
  EXPECT_EQ(out, id < app_id ? shop_line + app_line : app_line + shop_line);
  EXPECT_EQ(run({"clients", "list", id}, env, &out, &err), 2);
  EXPECT_EQ(run({"clients", "delete", id}, env, &out, &err), 0) << err;
  ASSERT_EQ(run({"clients", "list"}, env, &out, &err), 0) << err;
  EXPECT_EQ(out, app_line);
  EXPECT_EQ(run({"clients", "get", id}, env, &out, &err), 1);
  EXPECT_NE(err.find("no such client"), std::string::npos);
  EXPECT_EQ(run({"clients", "add", "--redirect-uri", "http://shop.example/cb"}, env, &out, &err), 1);
  EXPECT_NE(err.find("invalid_redirect_uri"), std::string::npos) << err;
  EXPECT_EQ(run({"clients", "add", "--redirect-uri", "https://a.example/cb", "--auth-method", "jwt"}, env, &out, &err),
            1);
  EXPECT_EQ(run({"clients", "frobnicate"}, env, &out, &err), 2);
  EXPECT_EQ(run({"clients", "get", "x"}, serve_env(dir, "redis://127.0.0.1:1/0", 1), &out, &err), 3)
      << "Redis down: " << err;
}

// Hardening 14: key rings readable by others refuse to load (or load with a loud warning when
// the operator says so); a new data key is one command.
TEST(Cli, Hardening14ExposedKeyRingsAreRefused) {
  TempDir d;
  std::string dir = init_keys(d);
  std::string err;
  ::chmod((dir + "/encryption.json").c_str(), 0640);
  EXPECT_EQ(run({"serve"}, serve_env(dir, "redis://127.0.0.1:1/0", 1), nullptr, &err), 2);
  EXPECT_NE(err.find("encryption.json' has mode 0640"), std::string::npos) << err;
  EXPECT_NE(err.find("chmod 600"), std::string::npos) << err;
  ::chmod((dir + "/encryption.json").c_str(), 0600);
  ::chmod(dir.c_str(), 0755);
  EXPECT_EQ(run({"serve"}, serve_env(dir, "redis://127.0.0.1:1/0", 1), nullptr, &err), 2);
  EXPECT_NE(err.find("secrets folder"), std::string::npos) << err;
  EXPECT_NE(err.find("chmod 700"), std::string::npos) << err;
  // The operator's explicit choice: it starts, and says so loudly.
  RedisServer rs;
  auto port = reserved_listen_port();
  auto env = serve_env(dir, rs.url(), port);
  env["LATCHKEY_SECRETS_ALLOW_INSECURE_MODE"] = "true";
  Process p({latchkey_binary(), "serve"}, env);
  EXPECT_TRUE(wait_for_status(port, "/healthz", 200, 10s));
  p.signal(SIGTERM);
  p.wait(10s);
  EXPECT_NE(p.err().find("WARNING: secrets are exposed"), std::string::npos) << p.err();
}

TEST(Cli, Hardening14KeysAddEncryptionAddsADataKey) {
  TempDir d;
  std::string dir = init_keys(d);
  std::string before = read_file(dir + "/encryption.json");
  std::string out;
  EXPECT_EQ(run({"keys", "add-encryption", "--dir", dir}, {}, &out), 0);
  EXPECT_NE(out.find("added encryption key e"), std::string::npos) << out;
  std::string after = read_file(dir + "/encryption.json");
  auto kids = [](const std::string& s) {
    std::size_t n = 0;
    for (auto at = s.find("\"kid\""); at != std::string::npos; at = s.find("\"kid\"", at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(kids(before), 1u);
  EXPECT_EQ(kids(after), 2u);
  EXPECT_EQ(after.find(before.substr(before.find("\"key\""), 30)) != std::string::npos, true) << "the old key stays";
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/encryption.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(run({"keys", "add-encryption", "--dir", d.path + "/none"}), 0);
}

// Hardening 15: the identifier key is a secret of its own; an existing deployment adds it with
// `keys init`, which creates only what is missing.
TEST(Cli, Hardening15IdentifierKeyIsRequiredAndKeysInitAddsIt) {
  TempDir d;
  std::string dir = init_keys(d);
  std::string ids = read_file(dir + "/identifiers.json");
  EXPECT_NE(ids.find("\"key\""), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/identifiers.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string ring = read_file(dir + "/encryption.json");
  ::unlink((dir + "/identifiers.json").c_str());
  std::string err;
  EXPECT_EQ(run({"serve"}, serve_env(dir, "redis://127.0.0.1:1/0", 1), nullptr, &err), 2);
  EXPECT_NE(err.find("identifiers.json"), std::string::npos) << err;
  EXPECT_NE(err.find("keys init"), std::string::npos) << err;
  EXPECT_EQ(run({"keys", "init", "--dir", dir}), 0);
  EXPECT_NE(read_file(dir + "/identifiers.json"), ids) << "a fresh key";
  EXPECT_EQ(read_file(dir + "/encryption.json"), ring) << "nothing else changes";
}

namespace {
// A connected TCP socket to 127.0.0.1:port that never sends anything (-1 on failure).
int silent_connection(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}
}  // namespace

// Hardening 3: 300 silent connections from one client, with the descriptor limit at 256, once
// made /healthz time out for everyone (accept failed with EMFILE for 60 s). Now the caps keep
// descriptors for Redis, and at the limit the oldest idle connection makes room.
TEST(Cli, Hardening03SilentConnectionsCannotStarveTheServer) {
  RedisServer rs;
  TempDir d;
  std::string secrets = init_keys(d);
  for (const std::string per_client : {"0", "40"}) {
    auto port = reserved_listen_port();
    auto env = serve_env(secrets, rs.url(), port);
    env["LATCHKEY_MAX_CONNECTIONS_PER_CLIENT"] = per_client;
    env["LATCHKEY_FIRST_BYTE_TIMEOUT_MS"] = "60000";  // only the caps help here
    Process p({"/bin/bash", "-c", "ulimit -n 256 && exec '" + latchkey_binary() + "' serve"}, env);
    ASSERT_TRUE(wait_for_status(port, "/readyz", 200, 10s)) << p.err();
    std::vector<int> fds;
    for (int i = 0; i < 300; ++i)
      if (int fd = silent_connection(port); fd >= 0) fds.push_back(fd);
    std::this_thread::sleep_for(200ms);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(wait_for_status(port, "/healthz", 200, 5s)) << "per-client cap " << per_client;
    EXPECT_TRUE(wait_for_status(port, "/readyz", 200, 5s)) << "Redis kept its descriptor";
    std::cout << "per-client cap " << per_client << ": /healthz answered after "
              << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
              << " ms behind 300 silent connections\n";
    for (int fd : fds) ::close(fd);
    p.signal(SIGTERM);
    p.wait(10s);
    EXPECT_NE(p.err().find("max_connections lowered to"), std::string::npos) << p.err();
    EXPECT_NE(p.err().find("connection limit"), std::string::npos) << p.err();
  }
}

TEST(Cli, Hardening03ASilentNewConnectionIsClosedAtTheFirstByteDeadline) {
  RedisServer rs;
  Serving s(rs);
  ASSERT_TRUE(wait_for_status(s.port, "/readyz", 200, 10s));
  // The default first-byte deadline is 5 s; keep-alive connections wait idle_timeout (60 s).
  int fd = silent_connection(s.port);
  ASSERT_GE(fd, 0);
  timeval tv{8, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto t0 = std::chrono::steady_clock::now();
  char c;
  auto n = ::recv(fd, &c, 1, 0);
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(n, 0) << "closed by the server";
  EXPECT_LT(waited, 7s);
  ::close(fd);
}

// Hardening 18: lockout deadlines are on Redis's clock, the one every latchkey node shares. A
// node whose own clock is two hours ahead (libfaketime) locks for exactly as long as any other.
TEST(Cli, Hardening18LockoutsFollowRedissClockNotTheNodes) {
  RedisServer rs;
  TempDir d;
  std::string secrets = init_keys(d);
  auto port = reserved_listen_port();
  auto env = serve_env(secrets, rs.url(), port);
  env["LATCHKEY_LOGIN_MAX_FAILURES"] = "1";
  env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1";
  // Under AddressSanitizer, libfaketime is preloaded before the ASan runtime: allow it.
  const char* asan = std::getenv("ASAN_OPTIONS");
  env["ASAN_OPTIONS"] = std::string(asan ? asan : "") + (asan ? ":" : "") + "verify_asan_link_order=0";
  Process p({"/usr/bin/faketime", "-f", "+2h", latchkey_binary(), "serve"}, env);
  // A bound on waiting, not a timing check: under faketime with both cores busy (the ASan pass)
  // start-up has been seen to take more than 10 s.
  ASSERT_TRUE(wait_for_status(port, "/readyz", 200, 30s)) << p.err();
  const std::map<std::string, std::string> h{{"Authorization", "Bearer " + kAdminKey},
                                             {"Content-Type", "application/json"}};
  auto f = http_request(port, "POST", "/v1/logins/failure", R"({"user_id":"skew","ip":"192.0.2.1"})", h);
  ASSERT_EQ(f.status, 200) << f.body;
  EXPECT_NE(f.body.find("\"retry_after\":60"), std::string::npos) << f.body;
  auto c = http_request(port, "POST", "/v1/logins/check", R"({"user_id":"skew","ip":"192.0.2.2"})", h);
  ASSERT_EQ(c.status, 429) << c.body;
  auto at = c.body.find("\"locked_until\":");
  ASSERT_NE(at, std::string::npos) << c.body;
  long long locked_until = std::stoll(c.body.substr(at + 15));
  long long redis_now = std::stoll(rs.command({"TIME"}).substr(0, rs.command({"TIME"}).find('\n')));
  EXPECT_NEAR(static_cast<double>(locked_until), static_cast<double>(redis_now + 60), 5)
      << "not the node's clock (+7200 s)";
  p.signal(SIGTERM);
  p.wait(10s);
}

// Issue 12 item 7: the shards share their port with SO_REUSEPORT, which would let a second
// latchkey (another configuration) join and take half the traffic. It refuses to start; the
// first keeps serving everything.
TEST(Cli, ASecondLatchkeyOnAPortAlreadyServedRefusesToStart) {
  RedisServer rs;
  Serving first(rs);
  ASSERT_TRUE(wait_for_status(first.port, "/readyz", 200, 10s)) << first.process.err();
  TempDir d;
  std::string secrets = init_keys(d);
  Process second({latchkey_binary(), "serve"}, serve_env(secrets, rs.url(), first.port));
  auto rc = second.wait(10s);
  ASSERT_TRUE(rc) << "the second one exits";
  EXPECT_NE(*rc, 0);
  EXPECT_NE(second.err().find("already served by another process"), std::string::npos) << second.err();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(http_request(first.port, "GET", "/readyz").status, 200);
}

// Issue 12 item 8: every command has --help (its own usage on stdout, exit 0), and a missing
// required flag or argument names itself.
TEST(Cli, EveryCommandHasHelpAndAMissingFlagNamesItself) {
  for (const char* cmd : {"serve", "keys", "clients", "config", "routes", "version"}) {
    for (const char* flag : {"--help", "-h"}) {
      std::string out, err;
      EXPECT_EQ(run({cmd, flag}, {}, &out, &err), 0) << cmd << " " << flag << ": " << err;
      EXPECT_NE(out.find(std::string("  ") + cmd), std::string::npos) << out;
      EXPECT_EQ(out.find("latchkey <command>"), std::string::npos) << "its own usage, not the global one: " << out;
    }
  }
  std::string out;
  EXPECT_EQ(run({"help", "clients"}, {}, &out), 0);
  EXPECT_NE(out.find("clients add"), std::string::npos) << out;
  struct Case {
    std::vector<std::string> args;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{{{"keys"}, "give a subcommand"},
                                         {{"keys", "init"}, "init needs --dir DIR"},
                                         {{"keys", "retire", "--dir", "/nonexistent"}, "retire needs --kid KID"},
                                         {{"keys", "remove", "--dir", "/nonexistent"}, "remove needs --kid KID"},
                                         {{"keys", "rotate", "--dir", "/x"}, "unknown subcommand 'rotate'"},
                                         {{"clients", "get"}, "get needs a client ID"},
                                         {{"clients", "frob"}, "unknown subcommand 'frob'"},
                                         {{"config"}, "give --markdown or --sample"},
                                         {{"config", "--yaml"}, "unknown option '--yaml'"},
                                         {{"routes", "--yaml"}, "unknown option '--yaml'"}}) {
    std::string err;
    EXPECT_EQ(run(c.args, {}, nullptr, &err), 2) << c.says;
    EXPECT_NE(err.find(c.says), std::string::npos) << err;
    EXPECT_NE(err.find("usage:"), std::string::npos) << err;
  }
}

// `latchkey routes` prints the server's own table (so documentation and coverage checks read
// what is served), as text and as JSON.
TEST(Cli, RoutesPrintsTheTableTheServerServes) {
  std::string text, json;
  ASSERT_EQ(run({"routes"}, {}, &text), 0);
  ASSERT_EQ(run({"routes", "--json"}, {}, &json), 0);
  auto table = latchkey::server::make_routes();
  EXPECT_EQ(text, "METHOD  PATH                                        ACCESS        LISTENER\n" +
                      latchkey::server::describe_routes(table, false));
  EXPECT_EQ(json, latchkey::server::describe_routes(table, true));
  EXPECT_NE(text.find("POST    /oauth2/token                               oauth_client  public\n"), std::string::npos)
      << text;
  std::size_t objects = 0;
  for (auto at = json.find("{\"method\""); at != std::string::npos; at = json.find("{\"method\"", at + 1)) ++objects;
  EXPECT_EQ(objects, table.routes().size());
}

// A fresh signing ring in place of a broken one (keys init creates only what is missing).
std::string d_fix(const Serving& s) {
  std::filesystem::remove(s.secrets + "/signing.json");
  return s.secrets;
}

// SIGHUP re-reads the key rings: a signing key added with `latchkey keys add` appears in the
// JWKS and signs, an added encryption key is used, no request is dropped meanwhile; a broken
// ring file on SIGHUP is refused with one line and the server keeps serving with the old rings.
TEST(Cli, SighupReloadsKeyRingsWithoutDroppingARequest) {
  RedisServer rs;
  Serving s(rs);
  Process& p = s.process;
  ASSERT_TRUE(wait_for_status(s.port, "/readyz", 200, 10s)) << p.err();
  const std::map<std::string, std::string> admin{{"Authorization", "Bearer " + kAdminKey},
                                                 {"Content-Type", "application/json"}};
  auto jwks = [&] { return http_request(s.port, "GET", "/.well-known/jwks.json").body; };
  auto kid_of = [](const std::string& jwt) {
    std::string header = jwt.substr(0, jwt.find('.'));
    return header;  // compared as the encoded header: a new kid gives a new header
  };
  auto issue = [&] {
    auto r = http_request(s.port, "POST", "/v1/tokens", R"({"user_id":"reload-user"})", admin);
    EXPECT_EQ(r.status, 200) << r.body;
    auto at = r.body.find("\"access_token\":\"");
    return r.body.substr(at + 16, r.body.find('"', at + 16) - at - 16);
  };
  const std::string before_jwks = jwks();
  const std::string old_header = kid_of(issue());
  auto session = http_request(s.port, "POST", "/v1/sessions", R"({"user_id":"reload-user","data":{"a":1}})", admin);
  ASSERT_EQ(session.status, 201) << session.body;

  // Load during the reloads: every request must be answered 200.
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0}, dropped{0};
  std::thread load([&] {
    while (!stop) {
      auto r = http_request(s.port, "GET", "/.well-known/jwks.json");
      (r.status == 200 ? answered : dropped)++;
    }
  });

  std::string out;
  ASSERT_EQ(run({"keys", "add", "--dir", s.secrets}, {}, &out), 0) << out;
  ASSERT_EQ(run({"keys", "add-encryption", "--dir", s.secrets}, {}, &out), 0) << out;
  EXPECT_EQ(jwks(), before_jwks) << "nothing changes before the signal";
  p.signal(SIGHUP);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (jwks() == before_jwks && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  EXPECT_NE(jwks(), before_jwks) << "the new kid is published";
  EXPECT_NE(kid_of(issue()), old_header) << "the new key signs (active at once: no --activate-in)";
  auto after = http_request(s.port, "POST", "/v1/sessions", R"({"user_id":"reload-user","data":{"b":2}})", admin);
  EXPECT_EQ(after.status, 201) << after.body;
  // The session sealed before the reload still opens (old keys decrypt).
  auto tok = session.body.substr(session.body.find("\"token\":\"") + 9);
  tok = tok.substr(0, tok.find('"'));
  EXPECT_EQ(http_request(s.port, "GET", "/v1/sessions/current", "",
                         {{"Authorization", "Bearer " + kAdminKey}, {"X-Session-Token", tok}})
                .status,
            200);

  // A broken ring: refused, the server keeps its rings and keeps serving.
  const std::string after_jwks = jwks();
  {
    std::ofstream broken(s.secrets + "/signing.json", std::ios::trunc);
    broken << "{not json";
  }
  p.signal(SIGHUP);
  deadline = std::chrono::steady_clock::now() + 5s;
  while (p.err().find("reload refused") == std::string::npos && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  EXPECT_NE(p.err().find("reload refused"), std::string::npos) << p.err();
  EXPECT_EQ(jwks(), after_jwks);
  EXPECT_FALSE(issue().empty()) << "still signing with the rings in force";
  stop = true;
  load.join();
  EXPECT_GT(answered.load(), 0);
  EXPECT_EQ(dropped.load(), 0) << "a request was dropped during a reload";
  EXPECT_EQ(p.wait(0ms), std::nullopt) << "still running";

  // `latchkey reload` (no signal): the same, through POST /v1/server/reload.
  std::string reload_out, reload_err;
  auto env = serve_env(s.secrets, rs.url(), s.port);
  EXPECT_EQ(run({"reload"}, env, &reload_out, &reload_err), 1) << "the broken ring is still there: " << reload_err;
  EXPECT_NE(reload_out.find("\"reloaded\":false"), std::string::npos) << reload_out;
  ASSERT_EQ(run({"keys", "init", "--dir", d_fix(s)}), 0);
  EXPECT_EQ(run({"reload"}, env, &reload_out, &reload_err), 0) << reload_out << reload_err;
  EXPECT_NE(reload_out.find("\"reloaded\":true"), std::string::npos) << reload_out;
  EXPECT_NE(jwks(), after_jwks) << "a new signing ring is in force";
  auto unauthorized = http_request(s.port, "POST", "/v1/server/reload", "", {});
  EXPECT_EQ(unauthorized.status, 401) << "admin only";
}
