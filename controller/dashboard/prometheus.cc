#include "controller/dashboard/prometheus.h"

#include <algorithm>
#include <cstdio>

namespace peftsearch::controller::dashboard {
namespace {

std::string Num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

// Label values escape \, " and newline (exposition format).
std::string LabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void Header(std::string* out, const char* name, const char* type, const char* help) {
  *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

std::string RenderPrometheus(const MetricsSnapshot& snap, const std::string& extra) {
  std::string out;
  Header(&out, "peftsearch_trials", "gauge", "Trials of each study by state.");
  int64_t waiting = 0, running = 0;
  for (const StudyInfo& s : snap.studies) {
    const std::string study = "study=\"" + LabelValue(s.name) + "\"";
    const std::pair<const char*, int64_t> states[] = {{"waiting", s.waiting},
                                                      {"running", s.running},
                                                      {"complete", s.complete},
                                                      {"pruned", s.pruned},
                                                      {"failed", s.failed}};
    for (const auto& [state, n] : states) {
      out += "peftsearch_trials{" + study + ",state=\"" + state + "\"} " + std::to_string(n) + "\n";
    }
    waiting += s.waiting;
    running += s.running;
  }
  Header(&out, "peftsearch_study_best_value", "gauge", "Best objective value of each study.");
  for (const StudyInfo& s : snap.studies) {
    if (!s.best_value) continue;
    out += "peftsearch_study_best_value{study=\"" + LabelValue(s.name) + "\"} " +
           Num(*s.best_value) + "\n";
  }
  Header(&out, "peftsearch_studies", "gauge", "Studies by state.");
  for (const char* state : {"RUNNING", "COMPLETE", "CANCELLED"}) {
    const int64_t n = std::count_if(snap.studies.begin(), snap.studies.end(),
                                    [&](const StudyInfo& s) { return s.state == state; });
    std::string lower = state;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    out += "peftsearch_studies{state=\"" + lower + "\"} " + std::to_string(n) + "\n";
  }
  Header(&out, "peftsearch_queue_depth", "gauge",
         "Trials waiting for a worker, over all studies.");
  out += "peftsearch_queue_depth " + std::to_string(waiting) + "\n";
  Header(&out, "peftsearch_trials_running", "gauge", "Trials leased and running, over all studies.");
  out += "peftsearch_trials_running " + std::to_string(running) + "\n";
  Header(&out, "peftsearch_workers_registered", "gauge", "Workers ever registered.");
  out += "peftsearch_workers_registered " + std::to_string(snap.workers_registered) + "\n";
  Header(&out, "peftsearch_workers_alive", "gauge", "Workers with a recent heartbeat.");
  out += "peftsearch_workers_alive " + std::to_string(snap.workers_alive) + "\n";
  Header(&out, "peftsearch_leases_expired_total", "counter",
         "Leases that ran out (trial re-queued), from the event log.");
  out += "peftsearch_leases_expired_total " + std::to_string(snap.leases_expired_total) + "\n";
  Header(&out, "peftsearch_trials_finished_total", "counter",
         "Trials that reached COMPLETE, PRUNED or FAILED, from the event log.");
  out += "peftsearch_trials_finished_total " + std::to_string(snap.trials_finished_total) + "\n";
  Header(&out, "peftsearch_trials_per_second", "gauge",
         "Trials finished per second over the last minute.");
  out += "peftsearch_trials_per_second " + Num(snap.trials_per_second) + "\n";
  return out + extra;
}

int64_t EventTally::last_seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_seq_;
}

void EventTally::Add(const std::vector<storage::EventRecord>& events) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const storage::EventRecord& e : events) {
    if (e.seq <= last_seq_) continue;
    last_seq_ = e.seq;
    if (e.kind == "expired") {
      ++expired_;
    } else if (e.trial_number >= 0 && storage::IsFinal(e.state) &&
               (e.kind == "complete" || e.kind == "pruned" || e.kind == "failed")) {
      ++finished_;
      recent_ms_.push_back(e.unix_ms);
    }
  }
}

void EventTally::Fill(int64_t now_ms, MetricsSnapshot* snapshot) {
  std::lock_guard<std::mutex> lock(mu_);
  while (!recent_ms_.empty() && recent_ms_.front() < now_ms - window_ms_) recent_ms_.pop_front();
  snapshot->leases_expired_total = expired_;
  snapshot->trials_finished_total = finished_;
  snapshot->trials_per_second =
      static_cast<double>(std::count_if(recent_ms_.begin(), recent_ms_.end(),
                                        [now_ms](int64_t t) { return t <= now_ms; })) /
      (window_ms_ / 1000.0);
}

}  // namespace peftsearch::controller::dashboard
