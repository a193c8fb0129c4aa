// The HTTP layer's OAuth wire formats: form bodies and HTTP Basic credentials, per request.
#include "server/http.hpp"

#include <benchmark/benchmark.h>

namespace {

void BM_ParseFormIntrospection(benchmark::State& state) {
  std::string body = "token=BCQQR7_7mdjVyzl535oHNyikfflzId5N-OC3IsxCAnlbweo&token_type_hint=access_token";
  std::string why;
  for (auto _ : state) benchmark::DoNotOptimize(latchkey::server::parse_form(body, why));
}
BENCHMARK(BM_ParseFormIntrospection);

void BM_ParseBasic(benchmark::State& state) {
  std::string h = "Basic MXZkN2FxSkpRd2NjMzVROHJOdDE0UTo4QVZPZHllZzQxWDZQS0ZRNTZwYUhXeU1kaWhSSXJxWXY3VTZEaFZBSTBv";
  for (auto _ : state) benchmark::DoNotOptimize(latchkey::server::parse_basic(h));
}
BENCHMARK(BM_ParseBasic);

}  // namespace
