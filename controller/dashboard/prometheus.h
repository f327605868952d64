// /metrics: the controller's state in the Prometheus text exposition format
// (version 0.0.4). RenderPrometheus is a pure function of a snapshot; the
// EventTally turns the store's event log into counters incrementally, so a
// scrape reads only the events since the previous one.
//
// Thread safety: EventTally is internally locked; the rest are pure.
#ifndef PEFTSEARCH_CONTROLLER_DASHBOARD_PROMETHEUS_H_
#define PEFTSEARCH_CONTROLLER_DASHBOARD_PROMETHEUS_H_

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "controller/dashboard/model.h"
#include "storage/records.h"

namespace peftsearch::controller::dashboard {

struct MetricsSnapshot {
  std::vector<StudyInfo> studies;
  int64_t workers_registered = 0;
  int64_t workers_alive = 0;
  int64_t leases_expired_total = 0;   // "expired" events: a lease ran out, trial re-queued
  int64_t trials_finished_total = 0;  // complete + pruned + failed events
  double trials_per_second = 0;       // finished over the tally's window
};

// Every peftsearch_* gauge and counter of `snapshot`, then `extra` (the RPC
// latency histograms of controller/metrics.h) verbatim.
std::string RenderPrometheus(const MetricsSnapshot& snapshot, const std::string& extra);

// Counts lease expiries and finished trials from the event log.
class EventTally {
 public:
  // `window_ms`: the span trials_per_second averages over.
  explicit EventTally(int64_t window_ms = 60000) : window_ms_(window_ms) {}
  EventTally(const EventTally&) = delete;
  EventTally& operator=(const EventTally&) = delete;

  // The sequence number after which the next Add is expected.
  int64_t last_seq() const;
  // Adds `events` (ascending seq); events at or below last_seq() are ignored.
  void Add(const std::vector<storage::EventRecord>& events);
  // Fills the three event-derived fields of `snapshot` as of `now_ms`.
  void Fill(int64_t now_ms, MetricsSnapshot* snapshot);

 private:
  const int64_t window_ms_;
  mutable std::mutex mu_;
  int64_t last_seq_ = 0;           // guarded by mu_
  int64_t expired_ = 0;            // mu_
  int64_t finished_ = 0;           // mu_
  std::deque<int64_t> recent_ms_;  // finish times within the window; mu_
};

}  // namespace peftsearch::controller::dashboard

#endif  // PEFTSEARCH_CONTROLLER_DASHBOARD_PROMETHEUS_H_
