// Micro-benchmarks of the crypto primitives on the request path.
#include "latchkey/crypto/aead.hpp"
#include "latchkey/crypto/primitives.hpp"

#include <benchmark/benchmark.h>

using namespace latchkey::crypto;

static void BM_RandomToken(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(random_token());
}
BENCHMARK(BM_RandomToken);

static void BM_Sha256Token(benchmark::State& state) {
  std::string token = random_token();
  for (auto _ : state) benchmark::DoNotOptimize(sha256(token));
}
BENCHMARK(BM_Sha256Token);

static void BM_HmacSha256(benchmark::State& state) {
  std::string key(32, 'k'), data(static_cast<std::size_t>(state.range(0)), 'd');
  for (auto _ : state) benchmark::DoNotOptimize(hmac_sha256(as_bytes(key), as_bytes(data)));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_HmacSha256)->Arg(64)->Arg(1024);

static void BM_Base64urlDecode(benchmark::State& state) {
  std::string token = random_token();
  for (auto _ : state) benchmark::DoNotOptimize(base64url_decode(token));
}
BENCHMARK(BM_Base64urlDecode);

static void BM_ConstantTimeEqual(benchmark::State& state) {
  auto a = sha256("a"), b = sha256("a");
  for (auto _ : state) benchmark::DoNotOptimize(constant_time_equal(a, b));
}
BENCHMARK(BM_ConstantTimeEqual);

static void BM_AeadEncrypt(benchmark::State& state) {
  auto ring = KeyRing::generate();
  std::string plain(static_cast<std::size_t>(state.range(0)), 'p');
  for (auto _ : state) benchmark::DoNotOptimize(ring.encrypt(plain, "lk:s:{u:abc}:xyz"));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_AeadEncrypt)->Arg(64)->Arg(1024);

static void BM_AeadDecrypt(benchmark::State& state) {
  auto ring = KeyRing::generate();
  std::string ct = ring.encrypt(std::string(static_cast<std::size_t>(state.range(0)), 'p'), "lk:s:{u:abc}:xyz");
  for (auto _ : state) benchmark::DoNotOptimize(ring.decrypt(ct, "lk:s:{u:abc}:xyz"));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_AeadDecrypt)->Arg(64)->Arg(1024);
