// A small process-wide registry of RPC latency histograms, rendered in the
// Prometheus text exposition format (version 0.0.4). The gRPC handlers time
// themselves with one RpcTimer each; the dashboard's /metrics appends
// RenderText() to the study and worker gauges it computes from the engine.
//
// Thread safety: every method may be called from any thread.
#ifndef PEFTSEARCH_CONTROLLER_METRICS_H_
#define PEFTSEARCH_CONTROLLER_METRICS_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace peftsearch::controller {

class MetricsRegistry {
 public:
  // Upper bounds (seconds) of the latency buckets; +Inf is implied. They span
  // a cached GetStudy (~50 us) to a 30 s AcquireTrial long poll.
  static constexpr std::array<double, 16> kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   10.0,  30.0};

  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // The registry the gRPC handlers record into.
  static MetricsRegistry& Global();

  // Records one call of `method` ("StudyService/CreateStudy") that took
  // `seconds`.
  void ObserveRpc(const std::string& method, double seconds);

  // peftsearch_rpc_duration_seconds as a histogram per method (HELP and TYPE
  // lines included); empty before the first observation.
  std::string RenderText() const;

  // Calls recorded for `method` so far (tests).
  uint64_t RpcCount(const std::string& method) const;

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};  // non-cumulative
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, Histogram> rpc_;  // guarded by mu_
};

// Times a scope and records it into MetricsRegistry::Global() under `method`.
// One line at the top of each gRPC handler:
//   RpcTimer timer("StudyService/GetStudy");
class RpcTimer {
 public:
  explicit RpcTimer(const char* method)
      : method_(method), start_(std::chrono::steady_clock::now()) {}
  ~RpcTimer();
  RpcTimer(const RpcTimer&) = delete;
  RpcTimer& operator=(const RpcTimer&) = delete;

 private:
  const char* method_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace peftsearch::controller

#endif  // PEFTSEARCH_CONTROLLER_METRICS_H_
