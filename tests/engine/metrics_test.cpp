// Prometheus rendering: counters and cumulative histograms merged across shards.
#include "latchkey/metrics.hpp"

#include <gtest/gtest.h>

using namespace latchkey;

TEST(Metrics, MergesShardsIntoCumulativeHistograms) {
  Metrics a, b;
  a.observe_http("/healthz", "GET", 200, 0.0002);
  b.observe_http("/healthz", "GET", 200, 0.003);
  b.observe_http("/readyz", "GET", 503, 0.5);
  a.observe_redis("script:ping", false, 0.0004);
  b.observe_redis("script:ping", true, 1.2);
  std::string text = Metrics::render({&a, &b});
  EXPECT_NE(text.find("latchkey_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("latchkey_http_requests_total{route=\"/readyz\",method=\"GET\",status=\"503\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("latchkey_http_request_duration_seconds_bucket{route=\"/"
                      "healthz\",method=\"GET\",status=\"200\",le=\"0.00025\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("latchkey_http_request_duration_seconds_bucket{route=\"/"
                      "healthz\",method=\"GET\",status=\"200\",le=\"0.005\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("latchkey_http_request_duration_seconds_bucket{route=\"/"
                      "healthz\",method=\"GET\",status=\"200\",le=\"+Inf\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("latchkey_redis_calls_total{op=\"script:ping\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("latchkey_redis_errors_total{op=\"script:ping\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE latchkey_redis_call_duration_seconds histogram"), std::string::npos);
}
