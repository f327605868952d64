#include "controller/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace peftsearch::controller {
namespace {

TEST(MetricsRegistryTest, EmptyRendersNothing) {
  MetricsRegistry registry;
  EXPECT_EQ(registry.RenderText(), "");
}

TEST(MetricsRegistryTest, BucketsAreCumulativeWithInfAndSum) {
  MetricsRegistry registry;
  registry.ObserveRpc("StudyService/GetStudy", 0.0002);  // le 0.00025
  registry.ObserveRpc("StudyService/GetStudy", 0.003);   // le 0.005
  registry.ObserveRpc("StudyService/GetStudy", 100.0);   // only +Inf
  const std::string text = registry.RenderText();
  EXPECT_NE(text.find("# TYPE peftsearch_rpc_duration_seconds histogram"), std::string::npos);
  const std::string label = "{method=\"StudyService/GetStudy\",le=";
  EXPECT_NE(text.find("peftsearch_rpc_duration_seconds_bucket" + label + "\"0.0001\"} 0"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("peftsearch_rpc_duration_seconds_bucket" + label + "\"0.00025\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("peftsearch_rpc_duration_seconds_bucket" + label + "\"0.005\"} 2"),
            std::string::npos);
  EXPECT_NE(text.find("peftsearch_rpc_duration_seconds_bucket" + label + "\"30\"} 2"),
            std::string::npos);
  EXPECT_NE(text.find("peftsearch_rpc_duration_seconds_bucket" + label + "\"+Inf\"} 3"),
            std::string::npos);
  EXPECT_NE(text.find("peftsearch_rpc_duration_seconds_count{method=\"StudyService/GetStudy\"} 3"),
            std::string::npos);
  EXPECT_NE(text.find("peftsearch_rpc_duration_seconds_sum{method=\"StudyService/GetStudy\"} "
                      "100.0032"),
            std::string::npos);
}

TEST(MetricsRegistryTest, ConcurrentObservationsAllCounted) {
  MetricsRegistry registry;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&registry] {
      for (int i = 0; i < 1000; ++i) registry.ObserveRpc("WorkerService/Heartbeat", 0.001);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(registry.RpcCount("WorkerService/Heartbeat"), 8000u);
}

TEST(RpcTimerTest, RecordsIntoGlobal) {
  const uint64_t before = MetricsRegistry::Global().RpcCount("Test/Timer");
  { RpcTimer timer("Test/Timer"); }
  EXPECT_EQ(MetricsRegistry::Global().RpcCount("Test/Timer"), before + 1);
}

}  // namespace
}  // namespace peftsearch::controller
