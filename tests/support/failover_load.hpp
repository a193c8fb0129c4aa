// Test harness: bounded load on a latchkey server while its Redis fails over, with a ledger
// of acknowledged revocations and a record of every wrong answer.
#pragma once

#include "support/test_server.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace latchkey::test {

// Load on a latchkey server during a Redis failover (Sentinel or Cluster): each client thread issues a
// token pair, revokes its refresh token (the revocation WAITs for every replica), and
// creates and validates a session, until stopped or out of budget. Every answer must be a
// success or 503; revocations acknowledged with 200 {revoked:true} go in the ledger.
struct FailoverLoad {
  explicit FailoverLoad(TestServer& s) : srv(s) {}
  TestServer& srv;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> ledger;  // refresh tokens whose revocation was acknowledged
  std::vector<std::string> wrong;   // any answer that is neither a success nor 503
  std::atomic<long> ok{0}, unavailable{0}, lost_sessions{0};
  std::atomic<std::int64_t> last_ok_ms{0};
  std::vector<std::thread> threads;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();

  std::int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  }
  void note(const HttpResult& r, std::initializer_list<int> good, const char* what) {
    if (r.status == 503) {
      ++unavailable;
      return;
    }
    for (int g : good)
      if (r.status == g) {
        ++ok;
        last_ok_ms = now_ms();
        return;
      }
    std::lock_guard l(mu);
    wrong.push_back(std::string(what) + ": " + std::to_string(r.status) + " " + r.body.substr(0, 120));
  }
  void start(int clients) {
    for (int i = 0; i < clients; ++i)
      threads.emplace_back([this, i] {
        for (int n = 0; !stop && n < 100000; ++n) {
          std::string user = "fo-" + std::to_string(i) + "-" + std::to_string(n % 50);
          auto issued = srv.post("/v1/tokens", R"({"user_id":")" + user + R"("})");
          note(issued, {200}, "issue");
          if (issued.status == 200) {
            std::string rt(json_of(issued).at("refresh_token").as_string());
            auto revoked = srv.post("/v1/tokens/revoke", R"({"token":")" + rt + R"("})");
            note(revoked, {200}, "revoke");
            if (revoked.status == 200 && json_of(revoked).at("revoked").as_bool()) {
              std::lock_guard l(mu);
              ledger.push_back(rt);
            }
          }
          auto created = srv.post("/v1/sessions", R"({"user_id":")" + user + R"("})");
          note(created, {201}, "session create");
          if (created.status == 201) {
            std::string token(json_of(created).at("token").as_string());
            auto v = srv.get("/v1/sessions/current", {{"X-Session-Token", token}});
            // 401: the session was acknowledged without WAIT and lost with the old master (the
            // documented window of asynchronous replication); counted, not a wrong answer.
            if (v.status == 401) ++lost_sessions;
            note(v, {200, 401}, "session validate");
          }
        }
      });
  }
  void finish() {
    stop = true;
    for (auto& t : threads) t.join();
  }
};

// GET /readyz until it answers 200 or `max` passes; the last answer. After a failover the
// topology may still be settling (on a loaded machine the sentinels have been seen to move
// the master a second time right after the first), so one probe is not the verdict.
inline HttpResult ready_within(TestServer& srv, std::chrono::milliseconds max) {
  auto ready = srv.get("/readyz");
  for (auto until = std::chrono::steady_clock::now() + max;
       ready.status != 200 && std::chrono::steady_clock::now() < until; ready = srv.get("/readyz"))
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return ready;
}

}  // namespace latchkey::test
