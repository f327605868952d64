#include "controller/metrics.h"

#include <cstdio>

namespace peftsearch::controller {
namespace {

// Prometheus float formatting: shortest round-trip form is not needed, %.17g
// would be noisy; bucket bounds and sums read fine with %g and 9 digits.
std::string Num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

}  // namespace

MetricsRegistry& MetricsRegistry::Global() {
  static MetricsRegistry* const kRegistry = new MetricsRegistry();
  return *kRegistry;
}

void MetricsRegistry::ObserveRpc(const std::string& method, double seconds) {
  size_t bucket = 0;
  while (bucket < kBuckets.size() && seconds > kBuckets[bucket]) ++bucket;
  std::lock_guard<std::mutex> lock(mu_);
  Histogram& h = rpc_[method];
  if (bucket < kBuckets.size()) ++h.buckets[bucket];
  ++h.count;
  h.sum += seconds;
}

uint64_t MetricsRegistry::RpcCount(const std::string& method) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = rpc_.find(method);
  return it == rpc_.end() ? 0 : it->second.count;
}

std::string MetricsRegistry::RenderText() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (rpc_.empty()) return "";
  std::string out =
      "# HELP peftsearch_rpc_duration_seconds Time spent in gRPC handlers, by method.\n"
      "# TYPE peftsearch_rpc_duration_seconds histogram\n";
  for (const auto& [method, h] : rpc_) {
    const std::string label = "method=\"" + method + "\"";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += h.buckets[i];
      out += "peftsearch_rpc_duration_seconds_bucket{" + label + ",le=\"" + Num(kBuckets[i]) +
             "\"} " + std::to_string(cumulative) + "\n";
    }
    out += "peftsearch_rpc_duration_seconds_bucket{" + label + ",le=\"+Inf\"} " +
           std::to_string(h.count) + "\n";
    out += "peftsearch_rpc_duration_seconds_sum{" + label + "} " + Num(h.sum) + "\n";
    out += "peftsearch_rpc_duration_seconds_count{" + label + "} " + std::to_string(h.count) +
           "\n";
  }
  return out;
}

RpcTimer::~RpcTimer() {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  MetricsRegistry::Global().ObserveRpc(method_, seconds);
}

}  // namespace peftsearch::controller
