// Micro-benchmarks of access tokens per algorithm: minting (claims JSON + signature) and local
// verification (size check, base64url, header and claims JSON, signature, typ/iss/exp/nbf/aud
// checks; no Redis). bench/jwt/run compares them with jsonwebtoken in Node.
#include "latchkey/crypto/signing_ring.hpp"
#include "latchkey/clock.hpp"
#include "latchkey/tokens.hpp"

#include <benchmark/benchmark.h>

#include <chrono>

using namespace latchkey;
namespace jws = latchkey::crypto::jws;

namespace {

struct Fixture {
  explicit Fixture(jws::Alg alg) : ring(crypto::SigningRing::generate(alg, unix_now())), access(ring, settings) {
    grant.user_id = "USER-001";
    grant.scope = "read write";
  }
  crypto::SigningRing ring;
  tokens::Settings settings;
  tokens::AccessTokens access;
  tokens::Grant grant;
};

void BM_TokenMint(benchmark::State& state) {
  Fixture f(static_cast<jws::Alg>(state.range(0)));
  auto now = unix_now();
  for (auto _ : state)
    benchmark::DoNotOptimize(f.access.mint(f.grant, "Y2hlY2staWQtMDAwMDAx", "ZmFtaWx5LWlkLTAwMDAx", now));
  state.SetLabel(jws::alg_name(static_cast<jws::Alg>(state.range(0))));
}

void BM_TokenVerifyLocal(benchmark::State& state) {
  Fixture f(static_cast<jws::Alg>(state.range(0)));
  auto now = unix_now();
  std::string token = f.access.mint(f.grant, "Y2hlY2staWQtMDAwMDAx", "ZmFtaWx5LWlkLTAwMDAx", now);
  if (!std::holds_alternative<tokens::AccessClaims>(f.access.check(token, now, "")))
    state.SkipWithError("does not verify");
  for (auto _ : state) benchmark::DoNotOptimize(f.access.check(token, now, ""));
  state.SetLabel(std::string(jws::alg_name(static_cast<jws::Alg>(state.range(0)))) + " " +
                 std::to_string(token.size()) + " B");
}

}  // namespace

BENCHMARK(BM_TokenMint)->DenseRange(0, 3)->ArgName("alg");
BENCHMARK(BM_TokenVerifyLocal)->DenseRange(0, 3)->ArgName("alg");
