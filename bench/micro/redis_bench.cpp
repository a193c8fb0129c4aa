// Micro-benchmarks of the Redis engine's pure parts: command formatting, RESP decoding and
// the multiplexer's bookkeeping per call.
#include "latchkey/redis/multiplexer.hpp"
#include "latchkey/redis/resp_reader.hpp"

#include <benchmark/benchmark.h>

using namespace latchkey::redis;

static void BM_FormatEvalsha(benchmark::State& state) {
  for (auto _ : state) {
    Request r;
    r.push({"EVALSHA", "0123456789abcdef0123456789abcdef01234567", "2", "lk:s:{u:1}:abc", "lk:u:{u:1}:idx", "1800",
            "43200"});
    benchmark::DoNotOptimize(r.payload().data());
  }
}
BENCHMARK(BM_FormatEvalsha);

static void BM_ReadArrayReply(benchmark::State& state) {
  const std::string wire = "*4\r\n$5\r\nhello\r\n:42\r\n$-1\r\n*2\r\n$3\r\nabc\r\n:7\r\n";
  RespReader reader;
  for (auto _ : state) {
    reader.feed(wire);
    auto r = reader.next();
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_ReadArrayReply);

static void BM_MultiplexerRoundTrip(benchmark::State& state) {
  Multiplexer m;
  Request req{"GET", "lk:key"};
  int completed = 0;
  for (auto _ : state) {
    m.add(req, [&](boost::system::error_code, Replies) { ++completed; });
    benchmark::DoNotOptimize(m.take_writes());
    (void)m.on_reply(Reply::make_string("value"));
  }
  benchmark::DoNotOptimize(completed);
}
BENCHMARK(BM_MultiplexerRoundTrip);
