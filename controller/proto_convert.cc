#include "controller/proto_convert.h"

namespace peftsearch::controller {

void ToProto(const StudyView& view, v1::Study* out) {
  out->set_id(view.record.id);
  out->set_name(view.record.name);
  out->set_state(static_cast<v1::StudyState>(view.record.state));
  out->set_direction(view.spec.maximize ? "maximize" : "minimize");
  out->set_spec_json(view.record.spec_json);
  out->set_max_trials(view.max_trials);
  out->set_parallelism(view.spec.parallelism);
  auto* counts = out->mutable_counts();
  counts->set_waiting(view.counts.waiting);
  counts->set_running(view.counts.running);
  counts->set_complete(view.counts.complete);
  counts->set_pruned(view.counts.pruned);
  counts->set_failed(view.counts.failed);
  out->set_has_best(view.best_value.has_value());
  if (view.best_value) {
    out->set_best_value(*view.best_value);
    out->set_best_trial_number(view.best_trial_number);
  }
  out->set_created_unix_ms(view.record.created_ms);
  out->set_updated_unix_ms(view.record.updated_ms);
  out->set_strategy(view.spec.strategy_type);
  out->set_phase(view.record.phase);
  out->set_summary_json(view.record.summary_json);
}

void ToProto(const storage::TrialRecord& t, v1::Trial* out) {
  out->set_study_id(t.study_id);
  out->set_number(t.number);
  out->set_state(static_cast<v1::TrialState>(t.state));
  out->set_params_json(t.params_json);
  out->set_has_value(t.value.has_value());
  if (t.value) out->set_value(*t.value);
  out->set_result_json(t.result_json);
  out->set_attempt(t.attempt);
  out->set_worker_id(t.worker_id);
  out->set_phase(t.phase);
  out->set_message(t.message);
  for (const auto& [step, value] : t.intermediate_values) {
    auto* iv = out->add_intermediate_values();
    iv->set_step(step);
    iv->set_value(value);
  }
  out->set_created_unix_ms(t.created_ms);
  out->set_started_unix_ms(t.started_ms);
  out->set_finished_unix_ms(t.finished_ms);
}

void ToProto(const WorkerView& w, v1::Worker* out) {
  out->set_id(w.record.id);
  out->set_name(w.record.name);
  out->set_hostname(w.record.hostname);
  out->set_slots(w.record.slots);
  out->set_registered_unix_ms(w.record.registered_ms);
  out->set_last_heartbeat_unix_ms(w.record.last_heartbeat_ms);
  out->set_alive(w.alive);
  out->set_running_trials(w.running_trials);
}

void ToProto(const storage::EventRecord& e, v1::StudyEvent* out) {
  out->set_seq(e.seq);
  out->set_study_id(e.study_id);
  out->set_trial_number(e.trial_number);
  out->set_kind(e.kind);
  out->set_trial_state(static_cast<v1::TrialState>(e.state));
  out->set_has_value(e.value.has_value());
  if (e.value) out->set_value(*e.value);
  out->set_unix_ms(e.unix_ms);
}

}  // namespace peftsearch::controller
