// Configuration: defaults, precedence (file < environment < flags), secrets from files, and
// one clear error naming the option for each kind of mistake.
#include "latchkey/config.hpp"

#include "support/process.hpp"

#include <gtest/gtest.h>

#include <sstream>

using namespace latchkey;

namespace {
const std::string kKey = "k-0123456789abcdef0123456789abcdef";

ConfigInputs base() {
  ConfigInputs in;
  in.environment["LATCHKEY_ADMIN_API_KEYS"] = kKey;
  return in;
}

Config ok(const ConfigInputs& in) {
  auto r = load_config(in);
  if (auto* e = std::get_if<ConfigError>(&r)) ADD_FAILURE() << e->message;
  return std::get_if<Config>(&r) ? std::get<Config>(r) : Config{};
}

std::string error(const ConfigInputs& in) {
  auto r = load_config(in);
  auto* e = std::get_if<ConfigError>(&r);
  return e ? e->message : "(no error)";
}
}  // namespace

TEST(Config, DefaultsMatchTheOperatorContract) {
  Config c = ok(base());
  EXPECT_EQ(c.listen_host, "127.0.0.1");
  EXPECT_EQ(c.listen_port, 8080);
  EXPECT_EQ(c.redis.describe(), "127.0.0.1:6379/0");
  EXPECT_EQ(c.redis.node.port, 6379);
  EXPECT_EQ(c.admin_api_keys, std::vector<std::string>{kKey});
  EXPECT_FALSE(c.redis_allow_eviction);
  EXPECT_GE(c.effective_threads(), 1u);
}

TEST(Config, PrecedenceFileThenEnvironmentThenFlags) {
  auto in = base();
  in.file_text = "# comment\nlisten = 0.0.0.0:9000\nthreads = 3\nredis_timeout_ms = 250\n";
  in.file_name = "test.conf";
  in.environment["LATCHKEY_THREADS"] = "4";
  in.args = {"--threads", "5", "--redis-timeout-ms=300"};
  Config c = ok(in);
  EXPECT_EQ(c.listen_host, "0.0.0.0");
  EXPECT_EQ(c.listen_port, 9000);
  EXPECT_EQ(c.threads, 5u);
  EXPECT_EQ(c.redis_timeout.count(), 300);
}

TEST(Config, SecretsFromFiles) {
  ConfigInputs in;
  in.environment["LATCHKEY_ADMIN_API_KEYS_FILE"] = "/run/secrets/keys";
  in.args = {"--redis-url-file=/run/secrets/redis"};
  in.read_file = [](const std::string& p) -> std::optional<std::string> {
    if (p == "/run/secrets/keys") return kKey + ", " + kKey + "2\n";
    if (p == "/run/secrets/redis") return "redis://:pw@db:6390/2\n";
    return std::nullopt;
  };
  Config c = ok(in);
  ASSERT_EQ(c.admin_api_keys.size(), 2u);
  EXPECT_EQ(c.admin_api_keys[1], kKey + "2");
  EXPECT_EQ(c.redis.node.password, "pw");
  EXPECT_EQ(c.redis.node.db, 2);
}

TEST(Config, ErrorsNameTheOption) {
  {
    auto in = base();
    in.environment["LATCHKEY_THREADS"] = "many";
    auto e = error(in);
    EXPECT_NE(e.find("'threads'"), std::string::npos) << e;
    EXPECT_NE(e.find("LATCHKEY_THREADS"), std::string::npos) << e;
  }
  {
    auto in = base();
    in.args = {"--listen=nowhere"};
    EXPECT_NE(error(in).find("'listen'"), std::string::npos);
  }
  {
    auto in = base();
    in.file_text = "redis_url = http://x\n";
    in.file_name = "f.conf";
    auto e = error(in);
    EXPECT_NE(e.find("'redis_url'"), std::string::npos) << e;
    EXPECT_NE(e.find("f.conf:1"), std::string::npos) << e;
  }
  {
    auto in = base();
    in.file_text = "no_such_option = 1\n";
    in.file_name = "f.conf";
    EXPECT_NE(error(in).find("unknown option 'no_such_option'"), std::string::npos);
  }
  {
    auto in = base();
    in.file_text = "just words\n";
    in.file_name = "f.conf";
    EXPECT_NE(error(in).find("f.conf:1"), std::string::npos);
  }
  {
    auto in = base();
    in.args = {"--threads"};
    EXPECT_NE(error(in).find("--threads needs a value"), std::string::npos);
  }
  {
    auto in = base();
    in.args = {"--threads-file=/x"};
    EXPECT_NE(error(in).find("cannot be read from a file"), std::string::npos);
  }
  {
    auto in = base();
    in.environment["LATCHKEY_REDIS_RECONNECT_MIN_MS"] = "5000";
    in.environment["LATCHKEY_REDIS_RECONNECT_MAX_MS"] = "100";
    EXPECT_NE(error(in).find("redis_reconnect_min_ms"), std::string::npos);
  }
  {
    auto in = base();
    in.environment["LATCHKEY_ACCESS_LOG"] = "maybe";
    EXPECT_NE(error(in).find("'access_log'"), std::string::npos);
  }
}

// oauth_client_cache_ttl: whole seconds 0 (off) to 60, default 2; anything else names the option
// and loads nothing.
TEST(Config, OAuthClientCacheTtl) {
  EXPECT_EQ(ok(base()).oauth_client_cache_ttl.count(), 2);
  for (const char* good : {"0", "60", "15"}) {
    auto in = base();
    in.environment["LATCHKEY_OAUTH_CLIENT_CACHE_TTL"] = good;
    EXPECT_EQ(ok(in).oauth_client_cache_ttl.count(), std::stoll(good));
  }
  for (const char* bad : {"-1", "61", "2s", "", " ", "1.5", "99999999999999999999", "0x10", "two"}) {
    auto in = base();
    in.environment["LATCHKEY_OAUTH_CLIENT_CACHE_TTL"] = bad;
    auto e = error(in);
    EXPECT_NE(e.find("'oauth_client_cache_ttl'"), std::string::npos) << "'" << bad << "': " << e;
  }
}

TEST(Config, TheConsoleListensAloneAndOnlyOnLoopbackWithoutHttps) {
  auto in = base();
  in.environment["LATCHKEY_CONSOLE_LISTEN"] = "127.0.0.1:9091";
  const Config c = ok(in);
  EXPECT_EQ(c.console_listen, (ListenAddress{"127.0.0.1", 9091}));
  EXPECT_EQ(c.console_idle_ttl, std::chrono::seconds(900));
  EXPECT_EQ(c.console_absolute_ttl, std::chrono::seconds(28800));
  EXPECT_FALSE(ok(base()).console_listen) << "off by default";
  const std::pair<std::map<std::string, std::string>, std::string> bad[] = {
      {{{"LATCHKEY_CONSOLE_LISTEN", "0.0.0.0:9091"}}, "needs HTTPS"},
      {{{"LATCHKEY_CONSOLE_LISTEN", "10.0.0.5:9091"}}, "needs HTTPS"},
      {{{"LATCHKEY_CONSOLE_LISTEN", "127.0.0.1:9090"}, {"LATCHKEY_ADMIN_LISTEN", "127.0.0.1:9090"}}, "of its own"},
      {{{"LATCHKEY_CONSOLE_LISTEN", "127.0.0.1:8080"}}, "of its own"},
      {{{"LATCHKEY_CONSOLE_LISTEN", "nowhere"}}, "'console_listen'"},
      {{{"LATCHKEY_CONSOLE_IDLE_TTL", "7200"}, {"LATCHKEY_CONSOLE_ABSOLUTE_TTL", "3600"}}, "console_idle_ttl"},
      {{{"LATCHKEY_CONSOLE_IDLE_TTL", "10"}}, "'console_idle_ttl'"},
      {{{"LATCHKEY_CONSOLE_ABSOLUTE_TTL", "99999999"}}, "'console_absolute_ttl'"},
      {{{"LATCHKEY_CONSOLE_ABSOLUTE_TTL", "86400"},
        {"LATCHKEY_SESSION_MAX_ABSOLUTE_TTL", "3600"},
        {"LATCHKEY_SESSION_ABSOLUTE_TTL", "3600"}},
       "a console session is a session"},
  };
  for (const auto& [env, want] : bad) {
    auto b = base();
    for (const auto& [k, v] : env) b.environment[k] = v;
    auto e = error(b);
    EXPECT_NE(e.find(want), std::string::npos) << want << " <- " << e;
  }
}

TEST(Config, AdminKeysAreRequiredAndStrong) {
  ConfigInputs none;
  EXPECT_NE(error(none).find("'admin_api_keys'"), std::string::npos);
  auto in = base();
  in.environment["LATCHKEY_ADMIN_API_KEYS"] = "tooShortKeyValue";
  auto e = error(in);
  EXPECT_NE(e.find("'admin_api_keys'"), std::string::npos);
  EXPECT_EQ(e.find("tooShortKeyValue"), std::string::npos) << "a secret's value must never be echoed: " << e;
  // Long enough but a placeholder: refused, naming why; a random hex key is accepted.
  for (std::string placeholder :
       {std::string(36, 'a'), std::string("abcd").append("abcd").append(std::string(28, 'a'))}) {
    in.environment["LATCHKEY_ADMIN_API_KEYS"] = placeholder;
    e = error(in);
    EXPECT_NE(e.find("distinct characters"), std::string::npos) << e;
    EXPECT_EQ(e.find(placeholder), std::string::npos) << e;
  }
  in.environment["LATCHKEY_ADMIN_API_KEYS"] = "9f86d081884c7d659a2feaa0c55ad015";
  EXPECT_EQ(error(in), "(no error)");
}

TEST(Config, SecretValuesAreNeverEchoed) {
  auto in = base();
  in.environment["LATCHKEY_REDIS_URL"] = "redis://user:hunter2@host:badport";
  auto e = error(in);
  EXPECT_NE(e.find("'redis_url'"), std::string::npos);
  EXPECT_EQ(e.find("hunter2"), std::string::npos) << e;
}

// docs/configuration.md is generated from the option table; this keeps them in step.
TEST(Config, DocumentationIsCurrent) {
  const std::string text = test::read_file(std::string(LATCHKEY_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_FALSE(text.empty()) << "docs/configuration.md is missing";
  EXPECT_EQ(text, configuration_markdown())
      << "regenerate with: build/latchkey config --markdown > docs/configuration.md";
}

// docs/latchkey.conf.sample comes from the same table; loaded as it is it changes nothing, and
// with every non-secret line uncommented it gives the defaults (every name and default valid).
TEST(Config, SampleFileIsCurrentAndGivesTheDefaults) {
  const std::string text = test::read_file(std::string(LATCHKEY_SOURCE_DIR) + "/docs/latchkey.conf.sample");
  ASSERT_FALSE(text.empty()) << "docs/latchkey.conf.sample is missing";
  EXPECT_EQ(text, configuration_sample())
      << "regenerate with: build/latchkey config --sample > docs/latchkey.conf.sample";
  auto in = base();
  in.file_text = configuration_sample();
  in.file_name = "latchkey.conf.sample";
  Config as_is = ok(in);
  std::string uncommented;
  std::istringstream lines(configuration_sample());
  int options = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("#") && line.find(" = ") != std::string::npos && line.find("_file = ") == std::string::npos &&
        line.find(' ') > 1 && !line.ends_with(" = ")) {
      uncommented += line.substr(1) + "\n";
      ++options;
    }
  }
  EXPECT_GT(options, 40);
  in.file_text = uncommented;
  Config all = ok(in);
  Config defaults = ok(base());
  EXPECT_EQ(all.listen_port, defaults.listen_port);
  EXPECT_EQ(all.session_idle_ttl, defaults.session_idle_ttl);
  EXPECT_EQ(all.login_max_failures, defaults.login_max_failures);
  EXPECT_EQ(as_is.login_max_failures, defaults.login_max_failures);
}

// Issue 12 item 9: quoted values lose their quotes, inline comments are comments, a bad quote
// is an error naming the line, and an unknown name says which option was meant.
TEST(Config, FileValuesQuotesAndInlineComments) {
  auto in = base();
  in.file_name = "l.conf";
  in.file_text =
      "token_issuer = \"https://auth.example.com\"  # quoted\n"
      "key_prefix = 'my#app:'\n"
      "login_max_failures = 7 # inline comment\n";
  Config c = ok(in);
  EXPECT_EQ(c.token_issuer, "https://auth.example.com");
  EXPECT_EQ(c.key_prefix, "my#app:");
  in.file_text = "token_issuer = 'issuer # one'   # a comment\n";
  EXPECT_EQ(ok(in).token_issuer, "issuer # one") << "a # inside quotes is part of the value";
  EXPECT_EQ(c.login_max_failures, 7);
  in.file_text = "token_issuer = https://x/a#b\n";
  EXPECT_EQ(ok(in).token_issuer, "https://x/a#b") << "a # not after white space is part of the value";
  for (const char* bad :
       {"token_issuer = \"https://x\n", "token_issuer = \"https://x\" trailing\n", "token_issuer = 'x\n"}) {
    in.file_text = bad;
    auto e = error(in);
    EXPECT_NE(e.find("l.conf:1"), std::string::npos) << e;
    EXPECT_NE(e.find("quote"), std::string::npos) << e;
  }
}

TEST(Config, UnknownNamesSayWhichOptionWasMeant) {
  auto in = base();
  in.environment["LATCHKEY_LOGIN_MAX_FAILRES"] = "3";
  EXPECT_NE(error(in).find("did you mean 'login_max_failures'?"), std::string::npos) << error(in);
  in = base();
  in.args = {"--sesion-idle-ttl=60"};
  EXPECT_NE(error(in).find("did you mean 'session_idle_ttl'?"), std::string::npos) << error(in);
  in = base();
  in.environment["LATCHKEY_COMPLETELY_DIFFERENT_THING"] = "1";
  auto e = error(in);
  EXPECT_NE(e.find("unknown option 'completely_different_thing'"), std::string::npos) << e;
  EXPECT_EQ(e.find("did you mean"), std::string::npos) << e;
}

TEST(Config, AdminAndMetricsListenersDefaultToListenAndTakeHostPort) {
  Config d = ok(base());
  EXPECT_FALSE(d.admin_listen);
  EXPECT_FALSE(d.metrics_listen);
  auto in = base();
  in.environment["LATCHKEY_ADMIN_LISTEN"] = "10.0.0.5:8081";
  in.args = {"--metrics-listen=[::1]:9090"};
  Config c = ok(in);
  ASSERT_TRUE(c.admin_listen);
  EXPECT_EQ(*c.admin_listen, (ListenAddress{"10.0.0.5", 8081}));
  ASSERT_TRUE(c.metrics_listen);
  EXPECT_EQ(*c.metrics_listen, (ListenAddress{"::1", 9090}));
  // Empty puts it back on `listen` (a flag can undo the file).
  in.args = {"--metrics-listen="};
  EXPECT_FALSE(ok(in).metrics_listen);
  for (const char* bad : {"8081", ":8081", "host:", "host:65536", "host:-1", "host:80x"}) {
    auto b = base();
    b.environment["LATCHKEY_ADMIN_LISTEN"] = bad;
    auto e = error(b);
    EXPECT_NE(e.find("'admin_listen'"), std::string::npos) << bad << ": " << e;
  }
}

// The table is the one declaration of an option: Config() takes every default from it, each
// documented default is a value its own parser accepts (but the required admin keys), and the
// reference shows the accepted range of every numeric option.
TEST(Config, EveryDefaultIsDeclaredOnceInTheTableAndParses) {
  Config fresh;
  EXPECT_EQ(fresh.listen_port, 8080);
  EXPECT_EQ(fresh.redis_timeout.count(), 1000);
  EXPECT_EQ(fresh.session_cookie_name, "__Host-session");
  EXPECT_EQ(fresh.login_max_failures, 5);
  EXPECT_EQ(fresh.redis.describe(), "127.0.0.1:6379/0");
  EXPECT_TRUE(fresh.admin_api_keys.empty());
  for (const auto& doc : option_docs()) {
    if (doc.name == "admin_api_keys") continue;
    auto in = base();
    in.args = {"--" + doc.name + "=" + doc.default_value};
    auto r = load_config(in);
    auto* e = std::get_if<ConfigError>(&r);
    EXPECT_FALSE(e) << doc.name << " = '" << doc.default_value << "': " << (e ? e->message : "");
  }
  std::string md = configuration_markdown();
  EXPECT_NE(md.find("| `redis_timeout_ms` | `LATCHKEY_REDIS_TIMEOUT_MS` | `1000` | 1 to 60000 |"), std::string::npos);
  EXPECT_NE(md.find("| `threads` | `LATCHKEY_THREADS` | `0` | 0 to 256 |"), std::string::npos);
}

TEST(Config, RedisTlsAndSentinelOptions) {
  auto in = base();
  in.read_file = [](const std::string& path) -> std::optional<std::string> {
    if (path == "/etc/latchkey/ca.pem" || path == "/etc/latchkey/client.pem" || path == "/etc/latchkey/client.key")
      return std::string("PEM");
    return std::nullopt;
  };
  in.environment["LATCHKEY_REDIS_URL"] = "rediss://cache.internal:6380/1";
  in.environment["LATCHKEY_REDIS_TLS_CA_FILE"] = "/etc/latchkey/ca.pem";
  in.environment["LATCHKEY_REDIS_TLS_CERT_FILE"] = "/etc/latchkey/client.pem";
  in.environment["LATCHKEY_REDIS_TLS_KEY_FILE"] = "/etc/latchkey/client.key";
  in.environment["LATCHKEY_REDIS_TLS_VERIFY"] = "ca";
  in.environment["LATCHKEY_REDIS_TLS_MIN_VERSION"] = "1.3";
  in.environment["LATCHKEY_REDIS_TLS_SERVER_NAME"] = "redis.internal";
  Config c = ok(in);
  EXPECT_TRUE(c.redis.node.tls);
  EXPECT_EQ(c.redis_tls.ca_file, "/etc/latchkey/ca.pem");
  EXPECT_EQ(c.redis_tls.verify, redis::TlsVerify::ca);
  EXPECT_EQ(c.redis_tls.min_version, 13);
  EXPECT_EQ(c.redis_tls.server_name, "redis.internal");
  EXPECT_EQ(Config{}.redis_tls.verify, redis::TlsVerify::full) << "full by default";
  EXPECT_EQ(Config{}.redis_tls.min_version, 12);

  auto with = [&](std::map<std::string, std::string> env) {
    auto i = in;
    for (auto& [k, v] : env) {
      if (v.empty())
        i.environment.erase(k);
      else
        i.environment[k] = v;
    }
    return error(i);
  };
  EXPECT_NE(with({{"LATCHKEY_REDIS_URL", "redis://h:1/0"}}).find("does not use TLS"), std::string::npos);
  EXPECT_NE(with({{"LATCHKEY_REDIS_TLS_KEY_FILE", ""}}).find("give both"), std::string::npos);
  EXPECT_NE(with({{"LATCHKEY_REDIS_TLS_CA_FILE", "/missing/ca.pem"}}).find("cannot read file '/missing/ca.pem'"),
            std::string::npos);
  EXPECT_NE(with({{"LATCHKEY_REDIS_TLS_VERIFY", "strict"}}).find("expected full, ca or none"), std::string::npos);
  EXPECT_NE(with({{"LATCHKEY_REDIS_TLS_MIN_VERSION", "1.1"}}).find("expected 1.2 or 1.3"), std::string::npos);
  EXPECT_EQ(with({{"LATCHKEY_REDIS_URL", "rediss+sentinel://s1,s2/mymaster"}}), "(no error)");

  auto s = base();
  s.environment["LATCHKEY_REDIS_SENTINEL_PASSWORD"] = "spw";
  EXPECT_NE(error(s).find("need a redis+sentinel:// URL"), std::string::npos) << error(s);
  s.environment["LATCHKEY_REDIS_URL"] = "redis+sentinel://:datapw@127.0.0.1:26379,127.0.0.1:26380/mymaster/2";
  s.environment["LATCHKEY_REDIS_SENTINEL_USERNAME"] = "watcher";
  Config sc = ok(s);
  EXPECT_TRUE(sc.redis.sentinel());
  EXPECT_EQ(sc.redis.node.password, "datapw");
  EXPECT_EQ(sc.redis_sentinel_username, "watcher");
  EXPECT_EQ(sc.redis_sentinel_password, "spw");
  EXPECT_TRUE(sc.redis_sentinel_tls);
  s.environment.erase("LATCHKEY_REDIS_SENTINEL_PASSWORD");
  EXPECT_NE(error(s).find("needs redis_sentinel_password"), std::string::npos);
  s.environment["LATCHKEY_REDIS_URL"] = "redis+sentinel://127.0.0.1:26379";
  EXPECT_NE(error(s).find("name of the master"), std::string::npos) << error(s);
}

TEST(Config, HttpsOptions) {
  auto in = base();
  in.read_file = [](const std::string& path) -> std::optional<std::string> {
    if (path.starts_with("/etc/latchkey/")) return std::string("PEM");
    return std::nullopt;
  };
  in.environment["LATCHKEY_TLS_CERT_FILE"] = "/etc/latchkey/https.pem";
  in.environment["LATCHKEY_TLS_KEY_FILE"] = "/etc/latchkey/https.key";
  in.environment["LATCHKEY_TLS_CLIENT_CA_FILE"] = "/etc/latchkey/backends-ca.pem";
  Config c = ok(in);
  EXPECT_EQ(c.tls_cert_file, "/etc/latchkey/https.pem");
  EXPECT_EQ(c.tls_client_ca_file, "/etc/latchkey/backends-ca.pem");
  auto only_cert = in;
  only_cert.environment.erase("LATCHKEY_TLS_KEY_FILE");
  EXPECT_NE(error(only_cert).find("give both"), std::string::npos);
  auto ca_alone = base();
  ca_alone.read_file = in.read_file;
  ca_alone.environment["LATCHKEY_TLS_CLIENT_CA_FILE"] = "/etc/latchkey/backends-ca.pem";
  EXPECT_NE(error(ca_alone).find("needs tls_cert_file"), std::string::npos);
  auto missing = in;
  missing.environment["LATCHKEY_TLS_KEY_FILE"] = "/nope/https.key";
  EXPECT_NE(error(missing).find("cannot read file '/nope/https.key'"), std::string::npos);
}

TEST(Config, ReadOnlyAdminKeysAreMarkedAndNeedAFullKeyBeside) {
  auto in = base();
  in.environment["LATCHKEY_ADMIN_API_KEYS"] = kKey + ",read:" + kKey + "r";
  Config c = ok(in);
  EXPECT_EQ(c.admin_api_keys, std::vector<std::string>{kKey});
  EXPECT_EQ(c.admin_read_only_keys, std::vector<std::string>{kKey + "r"});
  in.environment["LATCHKEY_ADMIN_API_KEYS"] = "read:" + kKey;
  auto e = error(in);
  EXPECT_NE(e.find("full access"), std::string::npos) << e;
  in.environment["LATCHKEY_ADMIN_API_KEYS"] = kKey + ",read:short";
  EXPECT_NE(error(in).find("'admin_api_keys'"), std::string::npos);
}
