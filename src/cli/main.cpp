// The latchkey executable: a thin shell over the engine and the HTTP server.
//   latchkey serve [--config FILE] [--option=value ...]
//   latchkey keys init|add|retire|remove|list --dir DIR ...
//   latchkey clients add|get|delete ...
//   latchkey config --markdown
//   latchkey version
#include "server/routes.hpp"
#include "server/server.hpp"

#include "latchkey/config.hpp"
#include "latchkey/clock.hpp"
#include "latchkey/log.hpp"
#include "latchkey/oauth.hpp"
#include "latchkey/tokens.hpp"
#include "latchkey/redis/connection.hpp"
#include "latchkey/secrets.hpp"
#include "latchkey/version.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <charconv>
#include <chrono>
#include <csignal>
#include <functional>
#include <map>
#include <cstdio>
#include <iostream>
#include <thread>

extern char** environ;

namespace {

using namespace latchkey;

// Each command's usage, shown by `latchkey <command> --help` (stdout, 0) and after a
// mistake in its arguments (stderr, 2); `latchkey --help` shows them all.
struct CommandHelp {
  const char* name;
  const char* text;
};
constexpr CommandHelp kHelp[] = {
    {"serve", "  serve [--config FILE] [--name=value ...]   run the server (options: docs/configuration.md)\n"},
    {"keys",
     "  keys init --dir DIR [--alg ALG]            create missing key rings in DIR (signing: EdDSA by default)\n"
     "  keys add --dir DIR [--alg ALG] [--activate-in SECONDS]\n"
     "                                             add a JWT signing key (newest active key signs)\n"
     "  keys retire --dir DIR --kid KID [--in SECONDS]\n"
     "                                             stop a key signing; it verifies for SECONDS more (86400)\n"
     "  keys remove --dir DIR --kid KID            remove a signing key\n"
     "  keys list --dir DIR                        list signing keys (no secrets)\n"
     "  keys add-encryption --dir DIR              add an AES-256-GCM data key (the newest encrypts, all decrypt)\n"
     "  keys admin-key --file PATH                 add a new admin API key to PATH (created 0600) and print it\n"
     "  (a server re-reads its key rings on SIGHUP; admin keys at start)\n"},
    {"clients",
     "  clients add --redirect-uri URI [--redirect-uri URI ...] [--client-name N] [--grant-type G ...]\n"
     "              [--scope S] [--auth-method client_secret_basic|client_secret_post|none]\n"
     "  clients get ID | clients delete ID | clients list\n"
     "                                             OAuth clients (Redis and secrets as for serve)\n"},
    {"config",
     "  config --markdown                          print the option reference (docs/configuration.md)\n"
     "  config --sample                            print a commented sample config file (docs/latchkey.conf.sample)\n"},
    {"routes",
     "  routes [--json]                            print the route table: method, path, who may call it, listener\n"},
    {"reload",
     "  reload [--config FILE] [--name=value ...]  make the running server re-read its key rings and TLS files\n"
     "                                             (what SIGHUP does; POST /v1/server/reload with the admin key)\n"},
    {"version", "  version                                    print the version\n"},
};

const CommandHelp* help_of(const std::string& command) {
  for (const auto& h : kHelp)
    if (command == h.name) return &h;
  return nullptr;
}

int usage(std::FILE* out, int code) {
  std::fputs("usage: latchkey <command> [options]   (latchkey <command> --help for one command)\n", out);
  for (const auto& h : kHelp) std::fputs(h.text, out);
  return code;
}

// A command's own usage; `why` (when given) first, naming what was wrong.
int command_usage(const std::string& command, std::FILE* out, int code, const std::string& why = "") {
  if (!why.empty()) std::fprintf(out, "latchkey %s: %s\n", command.c_str(), why.c_str());
  const CommandHelp* h = help_of(command);
  if (!h) return usage(out, code);
  std::fprintf(out, "usage:\n%s", h->text);
  return code;
}

// The Redis connection options a CLI command uses, from the configuration.
redis::ConnectionOptions connection_options(const Config& cfg) { return redis::ConnectionOptions::from(cfg); }

// One connection attempt before serving: an evicting maxmemory-policy, refused credentials or
// a missing password are configuration errors and stop start-up; an unreachable Redis is not (the server starts
// not-ready and becomes ready when Redis appears).
int check_redis_at_start(const Config& cfg) {
  boost::asio::io_context ioc{1};
  redis::ConnectionOptions ro = connection_options(cfg);
  ro.reconnect_min = std::chrono::hours(1);  // one attempt only
  ro.reconnect_max = std::chrono::hours(1);
  ro.log_failures = false;  // reported below, once
  ro.log = [](log::Level level, std::string_view msg) {
    if (level != log::Level::info) log::event(level, "startup check: " + std::string(msg));
  };
  redis::Connection conn(ioc.get_executor(), ro);
  conn.start();
  bool decided = false;
  boost::asio::co_spawn(
      ioc,
      [&conn, &decided]() -> boost::asio::awaitable<void> {
        (void)co_await conn.ready_or_failed();
        decided = true;
      },
      log::LogFailure{"start-up check of Redis"});
  auto deadline = std::chrono::steady_clock::now() + cfg.redis_connect_timeout + 5 * cfg.redis_timeout;
  while (!decided && std::chrono::steady_clock::now() < deadline) ioc.run_for(std::chrono::milliseconds(5));
  bool refused = conn.refused_configuration();
  std::string why = conn.last_error();
  bool ready = conn.ready();
  conn.stop();
  ioc.run_for(std::chrono::milliseconds(50));
  if (refused) {
    std::cerr << "latchkey: refusing to start: " << why << "\n";
    return 2;
  }
  if (!ready)
    log::event(log::Level::warn,
               "redis is not reachable at start-up (" + why + "); serving with /readyz = 503 until it is");
  return 0;
}

// `latchkey reload`: POST /v1/server/reload on the admin listener of the server the same
// configuration describes, with its first admin key. 0 when the server reloaded, 1 when it
// refused (it says why) or cannot be reached.
int reload_command(const std::vector<std::string>& args) {
  auto loaded = load_config_from_process(args, environ);
  if (auto* err = std::get_if<ConfigError>(&loaded)) {
    std::cerr << "latchkey: configuration error: " << err->message << "\n";
    return 2;
  }
  const Config& cfg = std::get<Config>(loaded);
  if (!cfg.tls_cert_file.empty()) {
    std::cerr << "latchkey: the server serves HTTPS: send it SIGHUP, or POST /v1/server/reload with curl\n";
    return 2;
  }
  std::string host = cfg.admin_listen ? cfg.admin_listen->host : cfg.listen_host;
  std::uint16_t port = cfg.admin_listen ? cfg.admin_listen->port : cfg.listen_port;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  namespace asio = boost::asio;
  asio::io_context ioc;
  asio::ip::tcp::socket sock(ioc);
  boost::system::error_code ec;
  asio::ip::tcp::resolver resolver(ioc);
  auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (!ec) asio::connect(sock, endpoints, ec);
  if (ec) {
    std::cerr << "latchkey: cannot reach the server at " << host << ":" << port << ": " << ec.message() << "\n";
    return 1;
  }
  std::string req = "POST /v1/server/reload HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " +
                    cfg.admin_api_keys.front() + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  asio::write(sock, asio::buffer(req), ec);
  std::string answer;
  if (!ec) asio::read(sock, asio::dynamic_buffer(answer), ec);  // to EOF (Connection: close)
  auto body_at = answer.find("\r\n\r\n");
  if (!answer.starts_with("HTTP/1.1 200") || body_at == std::string::npos) {
    std::cerr << "latchkey: the server did not reload: " << answer.substr(0, answer.find("\r\n")) << "\n";
    return 1;
  }
  std::string body = answer.substr(body_at + 4);
  std::cout << body << "\n";
  return body.find("\"reloaded\":true") != std::string::npos ? 0 : 1;
}

int serve(const std::vector<std::string>& args) {
  auto loaded = load_config_from_process(args, environ);
  if (auto* err = std::get_if<ConfigError>(&loaded)) {
    std::cerr << "latchkey: configuration error: " << err->message << "\n";
    return 2;
  }
  Config cfg = std::get<Config>(std::move(loaded));
  log::set_min_level(cfg.log_level);
  std::string exposed;
  auto secrets = load_secrets(cfg.secrets_dir, cfg.secrets_allow_insecure_mode, &exposed);
  if (auto* err = std::get_if<std::string>(&secrets)) {
    std::cerr << "latchkey: refusing to start: " << *err << "\n";
    return 2;
  }
  if (!exposed.empty())
    std::cerr << "latchkey: WARNING: secrets are exposed (secrets_allow_insecure_mode=true):\n" << exposed;
  if (auto bad = check_signing_algorithms(std::get<Secrets>(secrets), cfg.token_algorithms)) {
    std::cerr << "latchkey: refusing to start: " << *bad << "\n";
    return 2;
  }
  if (cfg.redis_wait_replicas > 0 && cfg.redis_wait_timeout >= cfg.redis_timeout) {
    std::cerr << "latchkey: refusing to start: 'redis_wait_timeout_ms' must be below 'redis_timeout_ms'\n";
    return 2;
  }
  if (!oauth::publishable_issuer(cfg.token_issuer))
    std::cerr
        << "latchkey: note: token_issuer '" << cfg.token_issuer
        << "' is not an https URL (http only for loopback): /.well-known/oauth-authorization-server answers 404\n";
  if (cfg.redis.node.tls) {
    if (std::string why = redis::check_tls_settings(cfg.redis_tls); !why.empty()) {
      std::cerr << "latchkey: configuration error: " << why << "\n";
      return 2;
    }
    if (cfg.redis_tls.verify == redis::TlsVerify::none)
      log::event(log::Level::error,
                 "redis_tls_verify=none: the Redis server's certificate is NOT checked; anyone on the path can "
                 "impersonate it and read every session and token. Use full (or ca) with redis_tls_ca_file.");
  }
  if (int rc = check_redis_at_start(cfg); rc != 0) return rc;

  // Block the stop signals in every thread; the main thread takes them with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  unsigned threads = cfg.effective_threads();
  server::Server srv(std::move(cfg), std::get<Secrets>(std::move(secrets)), server::make_routes());
  if (auto err = srv.start()) {
    std::cerr << "latchkey: " << *err << "\n";
    return 1;
  }
  log::event(log::Level::info, "latchkey " LATCHKEY_VERSION " listening on " + srv.describe_listeners() + " with " +
                                   std::to_string(threads) + " I/O threads");
  // SIGHUP reloads the key rings and TLS files (all or nothing); SIGINT/SIGTERM drain and stop.
  int sig = 0;
  for (;;) {
    sigwait(&stop_signals, &sig);
    if (sig != SIGHUP) break;
    std::string summary;
    if (auto err = srv.reload(&summary))
      log::event(log::Level::error,
                 "SIGHUP: reload refused, the previous rings and certificates stay in force: " + *err);
    else
      log::event(log::Level::info, "SIGHUP: reloaded: " + summary);
  }
  log::event(log::Level::info,
             std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ": draining in-flight requests");
  // A second signal cuts the drain short.
  std::thread([stop_signals]() mutable {
    int again = 0;
    do sigwait(&stop_signals, &again);
    while (again == SIGHUP);  // no reload while draining
    std::_Exit(130);
  }).detach();
  srv.request_stop();
  srv.wait();
  log::event(log::Level::info, "stopped");
  return 0;
}

// Options of a keys subcommand: --name VALUE or --name=VALUE.
std::optional<std::map<std::string, std::string>> key_options(const std::vector<std::string>& args) {
  std::map<std::string, std::string> out;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!a.starts_with("--")) return std::nullopt;
    auto eq = a.find('=');
    if (eq != std::string::npos) {
      out[a.substr(2, eq - 2)] = a.substr(eq + 1);
    } else {
      if (i + 1 >= args.size()) return std::nullopt;
      out[a.substr(2)] = args[++i];
    }
  }
  return out;
}

// A --name SECONDS option: its value, `fallback` when absent, -1 when not a number >= 0.
std::int64_t seconds_option(const std::map<std::string, std::string>& opts, const std::string& name,
                            std::int64_t fallback) {
  auto it = opts.find(name);
  if (it == opts.end()) return fallback;
  std::int64_t v = -1;
  auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  if (ec != std::errc() || p != it->second.data() + it->second.size() || v < 0) return -1;
  return v;
}

int keys_fail(const std::string& why) {
  std::cerr << "latchkey: " << why << "\n";
  return 1;
}

// keys init --dir DIR [--alg ALG]
// keys add --dir DIR [--alg ALG] [--activate-in SECONDS]
// keys retire --dir DIR --kid KID [--in SECONDS]
// keys remove --dir DIR --kid KID
// keys list --dir DIR
// keys add-encryption --dir DIR
int keys(const std::vector<std::string>& args) {
  if (args.empty()) return command_usage("keys", stderr, 2, "give a subcommand");
  const std::string& sub = args[0];
  if (sub != "init" && sub != "add" && sub != "add-encryption" && sub != "list" && sub != "retire" && sub != "remove" &&
      sub != "admin-key")
    return command_usage("keys", stderr, 2, "unknown subcommand '" + sub + "'");
  auto opts = key_options(args);
  if (!opts) return command_usage("keys", stderr, 2, "options are --name VALUE or --name=VALUE");
  if (sub == "admin-key") {
    if (!opts->count("file")) return command_usage("keys", stderr, 2, "admin-key needs --file PATH");
    std::string key;
    if (auto e = add_admin_key((*opts)["file"], key)) return keys_fail(*e);
    // The key alone on stdout (for a script to hand to the backend); what happened on stderr.
    std::cout << key << "\n";
    std::cerr << "added an admin API key to " << (*opts)["file"]
              << " (serve reads it with admin_api_keys_file; restart running servers to accept it)\n";
    return 0;
  }
  if (!opts->count("dir")) return command_usage("keys", stderr, 2, sub + " needs --dir DIR");
  if ((sub == "retire" || sub == "remove") && !opts->count("kid"))
    return command_usage("keys", stderr, 2, sub + " needs --kid KID");
  const std::string dir = (*opts)["dir"];
  auto alg = crypto::jws::alg_from_name(opts->count("alg") ? (*opts)["alg"] : "EdDSA");
  if (!alg) return keys_fail("--alg must be one of EdDSA, ES256, RS256, HS256");
  std::int64_t now = unix_now();
  if (sub == "init") {
    std::string created;
    if (auto err = init_secrets(dir, &created, *alg)) return keys_fail(*err);
    std::cout << (created.empty() ? "key rings already present in " + dir + "\n" : "created:\n" + created);
    return 0;
  }
  if (sub == "add-encryption") {
    std::string kid;
    if (auto e = add_encryption_key(dir, kid)) return keys_fail(*e);
    std::cout << "added encryption key " << kid << " (encrypts once servers restart; every older key still decrypts)\n";
    return 0;
  }
  auto loaded = load_signing_ring(dir);
  if (auto* why = std::get_if<std::string>(&loaded)) return keys_fail(*why);
  auto& ring = std::get<crypto::SigningRing>(loaded);
  if (sub == "list") {
    for (const auto& k : ring.keys())
      std::cout << k.key.kid() << " " << crypto::jws::alg_name(k.key.alg()) << " created=" << utc_time(k.created_at)
                << " activates=" << utc_time(k.activates_at)
                << " expires=" << (k.expires_at == 0 ? std::string("never") : utc_time(k.expires_at))
                << (&k.key == &ring.signer(now) ? " (signing)"
                    : k.expired(now)            ? " (expired)"
                                                : "")
                << "\n";
    return 0;
  }
  if (sub == "add") {
    std::int64_t delay = seconds_option(*opts, "activate-in", 0);
    if (delay < 0) return keys_fail("--activate-in must be a number of seconds >= 0");
    std::string kid = ring.add(*alg, now, now + delay);
    if (auto err = store_signing_ring(dir, ring)) return keys_fail(*err);
    std::cout << "added " << crypto::jws::alg_name(*alg) << " key " << kid << " (signs from " << now + delay
              << "; running servers pick it up when restarted)\n";
    return 0;
  }
  if (sub == "retire") {
    if (!opts->count("kid")) return command_usage("keys", stderr, 2, sub + " needs --kid KID");
    std::int64_t in = seconds_option(*opts, "in", 86400);
    if (in < 0) return keys_fail("--in must be a number of seconds >= 0");
    if (!ring.retire((*opts)["kid"], now + in))
      return keys_fail("no key '" + (*opts)["kid"] + "', or no other key could sign (add one first)");
    if (auto err = store_signing_ring(dir, ring)) return keys_fail(*err);
    std::cout << "retired " << (*opts)["kid"] << ": signs no more once servers restart, verifies until " << now + in
              << "\n";
    return 0;
  }
  if (sub == "remove") {
    if (!opts->count("kid")) return command_usage("keys", stderr, 2, sub + " needs --kid KID");
    if (!ring.remove((*opts)["kid"]))
      return keys_fail("no key '" + (*opts)["kid"] + "', or it is the last key of the ring");
    if (auto err = store_signing_ring(dir, ring)) return keys_fail(*err);
    std::cout << "removed " << (*opts)["kid"] << ": tokens it signed no longer verify once servers restart\n";
    return 0;
  }
  return usage(stderr, 2);
}

// Runs one engine call against the configured Redis: connects, waits until ready (or the
// connect deadline), runs `call`, and returns its exit code. 3 when Redis is unreachable.
int with_redis(const Config& cfg, const std::function<boost::asio::awaitable<int>(redis::Connection&)>& call) {
  boost::asio::io_context ioc{1};
  redis::ConnectionOptions ro = connection_options(cfg);
  ro.log_failures = false;  // said once below
  redis::Connection conn(ioc.get_executor(), ro);
  conn.start();
  std::optional<int> rc;
  boost::asio::co_spawn(
      ioc,
      [&]() -> boost::asio::awaitable<int> {
        if (auto ready = co_await conn.ready_or_failed(); !ready) {
          std::cerr << "latchkey: redis is not reachable: " << conn.last_error() << "\n";
          co_return 3;
        }
        co_return co_await call(conn);
      },
      [&](std::exception_ptr e, int v) { rc = e ? 1 : v; });
  while (!rc) ioc.run_one();
  conn.stop();
  ioc.run_for(std::chrono::milliseconds(50));
  return *rc;
}

// clients add [--client-name N] --redirect-uri U [--redirect-uri U2] [--grant-type G ...]
//             [--scope S] [--auth-method M] [--config FILE] [--option=value ...]
// clients get ID | clients delete ID | clients list (one "client_id<TAB>name" line each)
// The same configuration as `serve` (environment, --config, flags) says where Redis is.
int clients(const std::vector<std::string>& args) {
  if (args.empty()) return command_usage("clients", stderr, 2, "give a subcommand");
  const std::string sub = args[0];
  oauth::NewClient nc;
  bool grants_given = false;
  std::string id;
  std::vector<std::string> config_args;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      std::string flag = std::string("--") + name;
      if (a == flag && i + 1 < args.size()) return args[++i];
      if (a.rfind(flag + "=", 0) == 0) return a.substr(flag.size() + 1);
      return std::nullopt;
    };
    if (auto v = value("client-name"))
      nc.client_name = *v;
    else if (auto v2 = value("redirect-uri"))
      nc.redirect_uris.push_back(*v2);
    else if (auto v3 = value("grant-type")) {
      if (!grants_given) nc.grant_types.clear();
      grants_given = true;
      nc.grant_types.push_back(*v3);
    } else if (auto v4 = value("scope"))
      nc.scope = *v4;
    else if (auto v5 = value("auth-method")) {
      auto m = oauth::auth_method_from_name(*v5);
      if (!m) return keys_fail("--auth-method must be client_secret_basic, client_secret_post or none");
      nc.auth_method = *m;
    } else if (!a.starts_with("--") && id.empty())
      id = a;
    else {
      config_args.push_back(a);
      if (a == "--config" && i + 1 < args.size()) config_args.push_back(args[++i]);
    }
  }
  if (sub != "add" && sub != "get" && sub != "delete" && sub != "list")
    return command_usage("clients", stderr, 2, "unknown subcommand '" + sub + "'");
  if ((sub == "get" || sub == "delete") && id.empty())
    return command_usage("clients", stderr, 2, sub + " needs a client ID");
  if (sub == "list" && !id.empty()) return command_usage("clients", stderr, 2, "list takes no ID ('" + id + "')");
  if (sub == "add" && !id.empty()) return command_usage("clients", stderr, 2, "add takes no ID ('" + id + "')");
  auto loaded = load_config_from_process(config_args, environ);
  if (auto* e = std::get_if<ConfigError>(&loaded)) return keys_fail("configuration error: " + e->message);
  Config cfg = std::get<Config>(std::move(loaded));
  auto secrets = load_secrets(cfg.secrets_dir, cfg.secrets_allow_insecure_mode);
  if (auto* e = std::get_if<std::string>(&secrets)) return keys_fail(*e);
  const auto& rings = std::get<Secrets>(secrets);
  tokens::Service token_service(tokens::Settings::from(cfg), rings.signing, rings.encryption);
  oauth::Service service(oauth::Settings::from(cfg), rings.encryption, token_service);
  if (sub == "add") {
    if (auto e = oauth::Service::check(nc)) return keys_fail(std::string(error_name(e->code)) + ": " + e->description);
  }
  return with_redis(cfg, [&](redis::Connection& conn) -> boost::asio::awaitable<int> {
    if (sub == "add") {
      auto r = co_await service.register_client(conn, nc);
      if (!r) {
        std::cerr << "latchkey: " << r.error().message() << "\n";
        co_return 1;
      }
      std::cout << "client_id: " << r->client.client_id << "\n";
      if (!r->client.is_public())
        std::cout << "client_secret: " << r->client_secret << "   (shown once; stored hashed)\n";
      co_return 0;
    }
    if (sub == "list") {
      std::string after;
      do {
        auto page = co_await service.list_clients(conn, after, 1000);
        if (!page) {
          std::cerr << "latchkey: " << page.error().message() << "\n";
          co_return 1;
        }
        for (const auto& c : page->clients) std::cout << c.client_id << "\t" << c.client_name << "\n";
        after = page->next;
      } while (!after.empty());
      co_return 0;
    }
    if (sub == "get") {
      auto r = co_await service.client(conn, id);
      if (!r) {
        std::cerr << "latchkey: "
                  << (r.error() == make_error_code(errc::not_found) ? "no such client" : r.error().message()) << "\n";
        co_return 1;
      }
      std::cout << "client_id: " << r->client_id << "\nclient_name: " << r->client_name << "\nredirect_uris:";
      for (const auto& u : r->redirect_uris) std::cout << " " << u;
      std::cout << "\ngrant_types:";
      for (const auto& g : r->grant_types) std::cout << " " << g;
      std::cout << "\nscope: " << r->scope
                << "\ntoken_endpoint_auth_method: " << oauth::auth_method_name(r->auth_method) << "\n";
      co_return 0;
    }
    auto r = co_await service.delete_client(conn, id);
    if (!r) {
      std::cerr << "latchkey: "
                << (r.error() == make_error_code(errc::not_found) ? "no such client" : r.error().message()) << "\n";
      co_return 1;
    }
    std::cout << "deleted " << id << "\n";
    co_return 0;
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage(stderr, 2);
  std::string cmd = args.front();
  args.erase(args.begin());
  try {
    if (help_of(cmd) &&
        std::any_of(args.begin(), args.end(), [](const std::string& a) { return a == "--help" || a == "-h"; }))
      return command_usage(cmd, stdout, 0);
    if (cmd == "help")
      return args.size() == 1 && help_of(args[0]) ? command_usage(args[0], stdout, 0) : usage(stdout, 0);
    if (cmd == "serve") return serve(args);
    if (cmd == "version" || cmd == "--version") {
      std::cout << "latchkey " LATCHKEY_VERSION "\n";
      return 0;
    }
    if (cmd == "keys") return keys(args);
    if (cmd == "reload") return reload_command(args);
    if (cmd == "clients") return clients(args);
    if (cmd == "config") {
      if (args.size() == 1 && args[0] == "--markdown") {
        std::cout << configuration_markdown();
        return 0;
      }
      if (args.size() == 1 && args[0] == "--sample") {
        std::cout << configuration_sample();
        return 0;
      }
      return command_usage("config", stderr, 2,
                           args.empty() ? "give --markdown or --sample" : "unknown option '" + args[0] + "'");
    }
    if (cmd == "routes") {
      if (args.size() > 1 || (args.size() == 1 && args[0] != "--json"))
        return command_usage("routes", stderr, 2, "unknown option '" + args.back() + "'");
      if (args.empty()) std::cout << "METHOD  PATH                                        ACCESS        LISTENER\n";
      std::cout << server::describe_routes(server::make_routes(), !args.empty());
      return 0;
    }
    if (cmd == "--help" || cmd == "-h") return usage(stdout, 0);
  } catch (const std::exception& e) {
    std::cerr << "latchkey: fatal: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "latchkey: unknown command '" << cmd << "'\n";
  return usage(stderr, 2);
}
