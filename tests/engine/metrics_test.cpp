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

TEST(Metrics, ClusterNodesAreSeriesOfTheirOwnMergedAcrossShards) {
  Metrics a(0), b(1);
  EXPECT_EQ(Metrics::render({&a, &b}).find("latchkey_redis_node_"), std::string::npos)
      << "no node series without a cluster";
  a.observe_redis("script:x", false, 0.0003, "10.0.0.1:7000");
  b.observe_redis("script:x", true, 0.2, "10.0.0.1:7000");
  b.observe_redis("script:x", false, 0.001, "10.0.0.2:7001");
  a.count_node(Metrics::ClusterEvent::moved, "10.0.0.1:7000");
  b.count_node(Metrics::ClusterEvent::moved, "10.0.0.1:7000");
  b.count_node(Metrics::ClusterEvent::refresh, "10.0.0.2:7001");
  std::string text = Metrics::render({&a, &b});
  EXPECT_NE(text.find("latchkey_redis_node_calls_total{node=\"10.0.0.1:7000\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latchkey_redis_node_errors_total{node=\"10.0.0.1:7000\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("latchkey_redis_node_calls_total{node=\"10.0.0.2:7001\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("latchkey_redis_node_call_duration_seconds_bucket{node=\"10.0.0.1:7000\",le=\"+Inf\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("latchkey_redis_node_events_total{node=\"10.0.0.1:7000\",event=\"moved\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("latchkey_redis_node_events_total{node=\"10.0.0.2:7001\",event=\"refresh\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("latchkey_redis_node_events_total{node=\"10.0.0.2:7001\",event=\"moved\"} 0\n"),
            std::string::npos);
  // The per-shard counters are the router's to keep: a node event is not also a shard one.
  EXPECT_NE(text.find("latchkey_redis_cluster_events_total{shard=\"0\",event=\"moved\"} 0\n"), std::string::npos);
}
