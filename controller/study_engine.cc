#include "controller/study_engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cinttypes>
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "storage/rendezvous.h"

namespace peftsearch::controller {

using storage::StudyRecord;
using storage::StudyState;
using storage::TrialOutcome;
using storage::TrialRecord;
using storage::TrialState;

#define RETURN_IF_ERROR(expr)          \
  do {                                 \
    absl::Status _status = (expr);     \
    if (!_status.ok()) return _status; \
  } while (0)

struct StudyEngine::Study {
  StudyRecord record;
  StudySpec spec;
  std::unique_ptr<Strategy> strategy;
  std::unique_ptr<TrialPruner> pruner;
  std::string objective_json;  // spec.objective serialised once for AcquireTrial
  std::vector<TrialView> trials;  // index = number
  TrialCountsView counts;
  std::optional<double> best_value;
  int64_t best_number = -1;
  bool strategy_done = false;
  // A finished study's trials are dropped from memory (counts and best stay);
  // queries read the store. A controller serving many studies, or one long
  // load run, would otherwise grow without bound.
  bool history_evicted = false;
  // The planned total saved with a finished study's summary; -1 = ask the
  // strategy.
  int64_t final_max_trials = -1;
  // When this study was last looked up (use_clock_), for the finished-study
  // cache. Guarded by mu_.
  uint64_t last_used = 0;
  // Serialises sampling + creation so that two threads never sample the same
  // trial number. Lock order: create_mu before mu_.
  std::mutex create_mu;
};

namespace {

int StateRank(TrialState s) {
  switch (s) {
    case TrialState::kWaiting:
      return 0;
    case TrialState::kRunning:
      return 1;
    default:
      return 2;
  }
}

int64_t* CountFor(TrialCountsView* c, TrialState s) {
  switch (s) {
    case TrialState::kWaiting:
      return &c->waiting;
    case TrialState::kRunning:
      return &c->running;
    case TrialState::kComplete:
      return &c->complete;
    case TrialState::kPruned:
      return &c->pruned;
    case TrialState::kFailed:
      return &c->failed;
  }
  return &c->failed;
}

Json ParseOrNull(const std::string& text) {
  if (text.empty()) return Json();
  try {
    return Json::parse(text);
  } catch (const Json::parse_error&) {
    return Json(text);
  }
}

bool Better(double a, double b, bool maximize) { return maximize ? a > b : a < b; }

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A finished study's view without its trials, as kept in
// StudyRecord::final_json. Non-finite values have no JSON form: the study is
// then read back from its trials instead.
std::optional<std::string> FinalSummaryJson(const TrialCountsView& c,
                                            const std::optional<double>& best_value,
                                            int64_t best_number, int64_t max_trials) {
  if (best_value.has_value() && !std::isfinite(*best_value)) return std::nullopt;
  Json j = {{"waiting", c.waiting},   {"running", c.running}, {"complete", c.complete},
            {"pruned", c.pruned},     {"failed", c.failed},   {"best_number", best_number},
            {"max_trials", max_trials}};
  j["best_value"] = best_value.has_value() ? Json(*best_value) : Json();
  return j.dump();
}

// False when `text` is not a summary FinalSummaryJson wrote.
bool ParseFinalSummary(const std::string& text, TrialCountsView* counts,
                       std::optional<double>* best_value, int64_t* best_number,
                       int64_t* max_trials) {
  try {
    const Json j = Json::parse(text);
    counts->waiting = j.at("waiting").get<int64_t>();
    counts->running = j.at("running").get<int64_t>();
    counts->complete = j.at("complete").get<int64_t>();
    counts->pruned = j.at("pruned").get<int64_t>();
    counts->failed = j.at("failed").get<int64_t>();
    *best_number = j.at("best_number").get<int64_t>();
    *max_trials = j.at("max_trials").get<int64_t>();
    const Json& best = j.at("best_value");
    *best_value = best.is_null() ? std::nullopt : std::optional<double>(best.get<double>());
    return true;
  } catch (const Json::exception&) {
    return false;
  }
}

// One structured log line per event, as key=value pairs.
void Log(const std::string& event, const std::string& fields) {
  std::fprintf(stderr, "ts=%" PRId64 " component=controller event=%s %s\n", SystemNowMs(),
               event.c_str(), fields.c_str());
}

}  // namespace

StudyEngine::StudyEngine(std::unique_ptr<storage::TrialStore> store, EngineOptions options)
    : store_(std::move(store)),
      options_(std::move(options)),
      rng_(std::random_device{}()),
      // Follow-ups are rare (retried finishes, a study's last trials, phase
      // changes); two threads keep one slow store call from holding up the
      // next.
      followups_(std::make_unique<HandlerPool>(2)) {
  if (!options_.now_ms) options_.now_ms = SystemNowMs;
  waiter_ = std::thread([this] { WaiterLoop(); });
}

StudyEngine::~StudyEngine() {
  Stop();
  // Commit callbacks still queued touch this engine and may hand work to the
  // follow-up pool, whose tasks may write: run both out while the store and
  // every member are still here.
  store_->Flush().IgnoreError();
  followups_.reset();
  store_->Flush().IgnoreError();
}

void StudyEngine::RunFollowup(std::function<void()> task) { followups_->Run(std::move(task)); }

int64_t StudyEngine::Now() const { return options_.now_ms(); }

std::string StudyEngine::NewToken() {
  std::lock_guard<std::mutex> lock(rng_mu_);
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64 "%016" PRIx64, rng_(), rng_());
  return buf;
}

absl::StatusOr<std::unique_ptr<StudyEngine>> StudyEngine::Open(
    std::unique_ptr<storage::TrialStore> store, EngineOptions options) {
  std::unique_ptr<StudyEngine> engine(new StudyEngine(std::move(store), std::move(options)));
  auto studies = engine->store_->ListStudies();
  if (!studies.ok()) return studies.status();
  int64_t max_lease_ms = engine->options_.restart_grace_ms;
  for (const StudyRecord& record : *studies) {
    const bool running = record.state == StudyState::kRunning;
    // A finished study is read back when someone asks for it.
    if (!running && !record.final_json.empty()) continue;
    auto study = engine->LoadStudy(record);
    if (!study.ok()) {
      // A study whose spec no longer loads stays readable in the store but is
      // not driven; say so rather than refuse to start.
      Log("study_not_loaded", absl::StrCat("study=", record.name, " error=\"",
                                           study.status().message(), "\""));
      continue;
    }
    if (!running) {
      // Finished before schema version 4: its summary is written once, here.
      engine->KeepFinal(*study);
      continue;
    }
    max_lease_ms = std::max<int64_t>(max_lease_ms, (*study)->spec.lease_seconds * 1000LL);
  }
  RETURN_IF_ERROR(engine->store_->ExtendLeasesTo(engine->Now() + max_lease_ms));
  std::vector<std::shared_ptr<Study>> running;
  {
    std::lock_guard<std::mutex> lock(engine->mu_);
    for (auto& [id, study] : engine->studies_) {
      if (study->record.state == StudyState::kRunning) running.push_back(study);
    }
  }
  for (const auto& study : running) {
    RETURN_IF_ERROR(engine->Replenish(study));
  }
  Log("engine_open", absl::StrCat("studies=", studies->size(), " running=", running.size()));
  return engine;
}

absl::StatusOr<std::shared_ptr<StudyEngine::Study>> StudyEngine::LoadStudy(
    const StudyRecord& record) {
  auto spec = ParseStudySpec(record.spec_json);
  if (!spec.ok()) return spec.status();
  auto strategy = NewStrategy(*spec);
  if (!strategy.ok()) return strategy.status();
  auto study = std::make_shared<Study>();
  study->record = record;
  study->spec = std::move(*spec);
  study->strategy = std::move(*strategy);
  study->pruner = NewTrialPruner(study->spec);
  study->objective_json = study->spec.objective.dump();
  const bool finished = record.state != StudyState::kRunning;
  const bool from_summary =
      finished && !record.final_json.empty() &&
      ParseFinalSummary(record.final_json, &study->counts, &study->best_value,
                        &study->best_number, &study->final_max_trials);
  std::vector<TrialRecord> trials;
  if (!from_summary) {
    auto listed = store_->ListTrials(record.id, std::nullopt, -1, 0, /*include_intermediate=*/true);
    if (!listed.ok()) return listed.status();
    trials = std::move(*listed);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = studies_.find(record.id); it != studies_.end()) {
    it->second->last_used = ++use_clock_;
    return it->second;
  }
  if (from_summary) {
    study->history_evicted = true;
  } else {
    for (const TrialRecord& t : trials) ApplyTrial(study.get(), t);
    if (finished) EvictHistory(study.get());
  }
  study->last_used = ++use_clock_;
  studies_[record.id] = study;
  study_ids_[record.name] = record.id;
  if (finished) TrimFinished();
  return study;
}

void StudyEngine::KeepFinal(const std::shared_ptr<Study>& study) {
  std::optional<std::string> summary;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const StudyView view = MakeView(*study);
    summary = FinalSummaryJson(view.counts, view.best_value, view.best_trial_number,
                               view.max_trials);
  }
  absl::Status stored = summary.has_value()
                            ? store_->SetStudyFinal(study->record.id, *summary)
                            : absl::InvalidArgumentError("the best value is not finite");
  if (!stored.ok()) {
    Log("final_summary_not_stored", absl::StrCat("study=", study->record.name, " error=\"",
                                                 stored.message(), "\""));
  }
  // Trimmed even when not stored: the study is then read back from its
  // trials, which is slower but right, and memory stays bounded.
  std::lock_guard<std::mutex> lock(mu_);
  TrimFinished();
}

void StudyEngine::TrimFinished() {
  const size_t bound =
      static_cast<size_t>(std::max(0, options_.max_finished_studies_in_memory));
  while (true) {
    size_t finished = 0;
    const Study* oldest = nullptr;
    for (const auto& [id, study] : studies_) {
      if (study->record.state == StudyState::kRunning) continue;
      ++finished;
      if (oldest == nullptr || study->last_used < oldest->last_used) oldest = study.get();
    }
    if (finished <= bound) return;
    study_ids_.erase(oldest->record.name);
    studies_.erase(oldest->record.id);  // holders of its shared_ptr keep their copy
  }
}

size_t StudyEngine::StudiesInMemory() const {
  std::lock_guard<std::mutex> lock(mu_);
  return studies_.size();
}

void StudyEngine::EvictHistory(Study* study) {
  for (const TrialView& t : study->trials) {
    if (!t.lease_token.empty()) leases_.erase(t.lease_token);
  }
  std::vector<TrialView>().swap(study->trials);
  // The strategy's caches go too: a fresh one is built from the spec.
  auto fresh = NewStrategy(study->spec);
  if (fresh.ok()) study->strategy = std::move(*fresh);
  study->history_evicted = true;
}

void StudyEngine::ApplyTrial(Study* study, const TrialRecord& r) {
  if (r.number < 0 || study->history_evicted) return;
  if (static_cast<size_t>(r.number) >= study->trials.size()) {
    // Slots filled later hold null params and are not counted until their
    // record arrives (creation is serialised per study, so this is rare).
    study->trials.resize(r.number + 1);
  }
  TrialView& v = study->trials[r.number];
  const bool fresh = v.params.is_null();
  if (!fresh) {
    // Changes can be applied out of commit order by racing threads; keep the
    // newest. Attempts only grow and states only move forward within one.
    if (std::make_pair(r.attempt, StateRank(r.state)) <
        std::make_pair(v.attempt, StateRank(v.state))) {
      return;
    }
    --*CountFor(&study->counts, v.state);
    if (!v.lease_token.empty()) leases_.erase(v.lease_token);
  }
  v.number = r.number;
  v.state = r.state;
  v.phase = r.phase;
  if (fresh || v.params.is_null()) v.params = ParseOrNull(r.params_json);
  if (v.params.is_null()) v.params = Json::object();
  v.value = r.value;
  if (!r.result_json.empty()) v.result = ParseOrNull(r.result_json);
  if (!r.intermediate_values.empty() || r.state == TrialState::kWaiting) {
    v.intermediate_values = r.intermediate_values;
  }
  v.attempt = r.attempt;
  v.worker_id = r.worker_id;
  v.lease_token = r.lease_token;
  v.version = ++next_version_;
  if (r.state == TrialState::kWaiting) {
    ++trials_made_waiting_;
    if (!parked_acquires_.empty() && !serve_acquires_) {
      serve_acquires_ = true;
      waiter_cv_.notify_one();
    }
  }
  ++*CountFor(&study->counts, v.state);
  if (r.state == TrialState::kRunning && !r.lease_token.empty()) {
    leases_[r.lease_token] = {study->record.id, r.number};
  }
  if (r.state == TrialState::kComplete && r.value.has_value() &&
      study->strategy->CountsForBest(v) &&
      (!study->best_value.has_value() ||
       Better(*r.value, *study->best_value, study->spec.maximize))) {
    study->best_value = r.value;
    study->best_number = r.number;
  }
}

StudyView StudyEngine::MakeView(const Study& study) const {
  StudyView view;
  view.record = study.record;
  view.spec = study.spec;
  view.counts = study.counts;
  view.best_value = study.best_value;
  view.best_trial_number = study.best_number;
  view.max_trials = study.final_max_trials >= 0          ? study.final_max_trials
                    : study.strategy->TotalTrials() > 0 ? study.strategy->TotalTrials()
                                                        : study.spec.max_trials;
  return view;
}

void StudyEngine::NotifyChange() {
  std::lock_guard<std::mutex> lock(mu_);
  BumpChangeVersion();
}

void StudyEngine::BumpChangeVersion() {
  change_version_.fetch_add(1);
  if (!parked_changes_.empty() && !serve_changes_) {
    serve_changes_ = true;
    waiter_cv_.notify_one();
  }
}

uint64_t StudyEngine::ChangeVersion() const { return change_version_.load(); }

absl::StatusOr<std::shared_ptr<StudyEngine::Study>> StudyEngine::FindStudy(
    const std::string& ref) {
  if (ref.empty()) return absl::InvalidArgumentError("study: name or id is required");
  int64_t id = -1;
  const bool by_id = std::all_of(ref.begin(), ref.end(), ::isdigit);
  if (by_id && !absl::SimpleAtoi(ref, &id)) {
    return absl::NotFoundError(absl::StrCat("no study with id ", ref));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!by_id) {
      auto named = study_ids_.find(ref);
      if (named != study_ids_.end()) id = named->second;
    }
    auto it = studies_.find(id);
    if (it != studies_.end()) {
      it->second->last_used = ++use_clock_;
      return it->second;
    }
  }
  // Not in memory: a finished study that left the cache, or none at all.
  auto record = by_id ? store_->GetStudy(id) : store_->GetStudyByName(ref);
  if (!record.ok()) return record.status();
  auto loaded = LoadStudy(*record);
  if (!loaded.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "study '", record->name, "' is stored but cannot be loaded: ", loaded.status().message()));
  }
  return loaded;
}

// ----------------------------------------------------------------- studies

absl::StatusOr<StudyView> StudyEngine::CreateStudy(const std::string& spec_json) {
  auto spec = ParseStudySpec(spec_json);
  if (!spec.ok()) return spec.status();
  // Build the strategy before storing anything: a spec the samplers reject
  // (e.g. a grid too large) must leave no trace.
  auto probe = NewStrategy(*spec);
  if (!probe.ok()) {
    if (absl::IsUnimplemented(probe.status())) return probe.status();
    return absl::InvalidArgumentError(probe.status().message());
  }
  auto record = store_->CreateStudy(spec->name, spec_json, Now());
  if (!record.ok()) return record.status();
  auto study = LoadStudy(*record);
  if (!study.ok()) return study.status();
  Log("study_created", absl::StrCat("study=", spec->name, " id=", record->id,
                                    " strategy=", spec->strategy_type,
                                    " sampler=", spec->sampler.type,
                                    " max_trials=", spec->max_trials,
                                    " parallelism=", spec->parallelism));
  RETURN_IF_ERROR(Replenish(*study));
  NotifyChange();
  std::lock_guard<std::mutex> lock(mu_);
  return MakeView(**study);
}

absl::StatusOr<StudyView> StudyEngine::GetStudy(const std::string& ref) {
  auto study = FindStudy(ref);
  if (!study.ok()) return study.status();
  std::lock_guard<std::mutex> lock(mu_);
  return MakeView(**study);
}

absl::StatusOr<std::vector<StudyView>> StudyEngine::ListStudies() {
  auto records = store_->ListStudies();  // newest first
  if (!records.ok()) return records.status();
  std::vector<StudyView> out;
  out.reserve(records->size());
  for (StudyRecord& record : *records) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = studies_.find(record.id);
      if (it != studies_.end()) {
        out.push_back(MakeView(*it->second));
        continue;
      }
    }
    // A finished study's row holds all of its view; listing does not load it.
    if (record.state != StudyState::kRunning && !record.final_json.empty()) {
      StudyView view;
      auto spec = ParseStudySpec(record.spec_json);
      if (spec.ok() && ParseFinalSummary(record.final_json, &view.counts, &view.best_value,
                                         &view.best_trial_number, &view.max_trials)) {
        view.spec = std::move(*spec);
        view.record = std::move(record);
        out.push_back(std::move(view));
        continue;
      }
    }
    // No summary yet (it finished while we read) or one that does not parse:
    // read it back. A stored study whose spec no longer loads is not listed,
    // as at Open.
    auto study = FindStudy(std::to_string(record.id));
    if (!study.ok()) continue;
    std::lock_guard<std::mutex> lock(mu_);
    out.push_back(MakeView(**study));
  }
  return out;
}

absl::StatusOr<TrialPage> StudyEngine::ListTrials(const std::string& ref,
                                                  std::optional<TrialState> state, int page_size,
                                                  const std::string& page_token,
                                                  bool include_intermediate) {
  auto study = FindStudy(ref);
  if (!study.ok()) return study.status();
  if (page_size <= 0) page_size = 100;
  page_size = std::min(page_size, 1000);
  int64_t after = -1;
  if (!page_token.empty()) {
    char* end = nullptr;
    after = std::strtoll(page_token.c_str(), &end, 10);
    if (end == page_token.c_str() || *end != '\0') {
      return absl::InvalidArgumentError(absl::StrCat("page_token: not a token from ListTrials: '",
                                                     page_token, "'"));
    }
  }
  const int64_t study_id = (*study)->record.id;
  auto trials = store_->ListTrials(study_id, state, after, page_size + 1, include_intermediate);
  if (!trials.ok()) return trials.status();
  TrialPage page;
  if (static_cast<int>(trials->size()) > page_size) {
    trials->resize(page_size);
    page.next_page_token = std::to_string(trials->back().number);
  }
  page.trials = std::move(*trials);
  auto total = store_->CountTrials(study_id, state);
  if (!total.ok()) return total.status();
  page.total_size = *total;
  return page;
}

absl::StatusOr<TrialRecord> StudyEngine::GetTrial(const std::string& ref, int64_t number) {
  auto study = FindStudy(ref);
  if (!study.ok()) return study.status();
  return store_->GetTrial((*study)->record.id, number, true);
}

absl::StatusOr<std::vector<TrialRecord>> StudyEngine::BestTrials(const std::string& ref,
                                                                 int count) {
  auto study = FindStudy(ref);
  if (!study.ok()) return study.status();
  if (count <= 0) count = 1;
  std::vector<std::pair<double, int64_t>> ranked;
  bool maximize;
  bool evicted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    evicted = (*study)->history_evicted;
  }
  std::vector<TrialView> stored;
  if (evicted) {
    auto complete = store_->ListTrials((*study)->record.id, TrialState::kComplete, -1, 0, false);
    if (!complete.ok()) return complete.status();
    for (const TrialRecord& r : *complete) {
      TrialView v;
      v.number = r.number;
      v.state = r.state;
      v.phase = r.phase;
      v.value = r.value;
      stored.push_back(std::move(v));
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    maximize = (*study)->spec.maximize;
    for (const TrialView& t : evicted ? stored : (*study)->trials) {
      if (t.state == TrialState::kComplete && t.value.has_value() &&
          (*study)->strategy->CountsForBest(t)) {
        ranked.emplace_back(*t.value, t.number);
      }
    }
  }
  std::stable_sort(ranked.begin(), ranked.end(), [&](const auto& a, const auto& b) {
    return Better(a.first, b.first, maximize);
  });
  std::vector<TrialRecord> out;
  for (int i = 0; i < count && i < static_cast<int>(ranked.size()); ++i) {
    auto t = store_->GetTrial((*study)->record.id, ranked[i].second, true);
    if (!t.ok()) return t.status();
    out.push_back(std::move(*t));
  }
  return out;
}

absl::StatusOr<StudyView> StudyEngine::CancelStudy(const std::string& ref) {
  auto study = FindStudy(ref);
  if (!study.ok()) return study.status();
  std::lock_guard<std::mutex> create_lock((*study)->create_mu);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if ((*study)->record.state != StudyState::kRunning) {
      return absl::FailedPreconditionError(absl::StrCat(
          "study '", (*study)->record.name, "' is already ",
          storage::StudyStateName((*study)->record.state)));
    }
  }
  RETURN_IF_ERROR(store_->SetStudyState((*study)->record.id, StudyState::kCancelled, "cancelled",
                                        Now()));
  auto failed = store_->FailOpenTrials((*study)->record.id, "study cancelled", Now());
  {
    std::lock_guard<std::mutex> lock(mu_);
    (*study)->record.state = StudyState::kCancelled;
    if (failed.ok()) {
      for (const TrialRecord& t : *failed) ApplyTrial(study->get(), t);
    }
    EvictHistory(study->get());
  }
  if (!failed.ok()) return failed.status();
  Log("study_cancelled", absl::StrCat("study=", (*study)->record.name,
                                      " open_trials_failed=", failed->size()));
  NotifyChange();
  StudyView view;
  {
    std::lock_guard<std::mutex> lock(mu_);
    view = MakeView(**study);
  }
  KeepFinal(*study);
  return view;
}

absl::Status StudyEngine::SampleFreeSlots(Study* study,
                                          std::vector<storage::TrialStore::NewTrial>* batch) {
  // Each suggestion sees the ones before it as provisional WAITING trials (the
  // constant liar's input); the caller drops them again if the commit fails.
  const size_t first_provisional = study->trials.size();
  while (study->counts.waiting + study->counts.running < study->spec.parallelism) {
    auto next = study->strategy->Next(study->trials);
    if (!next.ok()) {
      Log("strategy_error", absl::StrCat("study=", study->record.name, " error=\"",
                                         next.status().message(), "\""));
      DropProvisional(study, first_provisional);
      batch->clear();
      return next.status();
    }
    study->strategy_done = next->kind == StrategyDecision::Kind::kDone;
    if (next->kind != StrategyDecision::Kind::kTrial) break;
    TrialRecord provisional;
    provisional.study_id = study->record.id;
    provisional.number = static_cast<int64_t>(study->trials.size());
    provisional.state = TrialState::kWaiting;
    provisional.phase = next->phase;
    provisional.params_json = next->params.dump();
    ApplyTrial(study, provisional);
    batch->push_back({next->phase, provisional.params_json});
  }
  return absl::OkStatus();
}

absl::Status StudyEngine::ApplyCreated(Study* study, size_t first_provisional,
                                       const std::vector<TrialRecord>& created) {
  for (const TrialRecord& t : created) {
    if (t.number != static_cast<int64_t>(first_provisional++)) {
      return absl::InternalError("trial numbers in memory and in the store disagree");
    }
    ApplyTrial(study, t);
  }
  BumpChangeVersion();
  return absl::OkStatus();
}

absl::Status StudyEngine::Replenish(const std::shared_ptr<Study>& study) {
  std::lock_guard<std::mutex> create_lock(study->create_mu);
  if (study->spec.objective_type == "external") return MaybeFinishStudy(study);
  while (true) {
    // Sample every free slot, then store them in one transaction: under load
    // many completions arrive together and one commit serves them all.
    std::vector<storage::TrialStore::NewTrial> batch;
    size_t first_provisional = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (study->record.state != StudyState::kRunning) return absl::OkStatus();
      first_provisional = study->trials.size();
      RETURN_IF_ERROR(SampleFreeSlots(study.get(), &batch));
    }
    if (batch.empty()) break;
    auto created = store_->CreateTrials(study->record.id, batch, Now(),
                                        static_cast<int64_t>(first_provisional));
    std::lock_guard<std::mutex> lock(mu_);
    if (!created.ok()) {
      DropProvisional(study.get(), first_provisional);
      return created.status();
    }
    RETURN_IF_ERROR(ApplyCreated(study.get(), first_provisional, *created));
  }
  return MaybeFinishStudy(study);
}

void StudyEngine::DropProvisional(Study* study, size_t first) {
  while (study->trials.size() > first) {
    --*CountFor(&study->counts, study->trials.back().state);
    study->trials.pop_back();
  }
}

StudyEngine::FinishDecision StudyEngine::DecideFinish(const Study& study) const {
  FinishDecision d;
  d.phase = study.strategy->CurrentPhase(study.trials);
  const Json summary = study.strategy->Summary(study.trials);
  d.summary_text = summary.is_null() ? "" : summary.dump();
  d.phase_changed = d.phase != study.record.phase || d.summary_text != study.record.summary_json;
  const bool external = study.spec.objective_type == "external";
  const bool all_done =
      !study.trials.empty() && study.counts.waiting + study.counts.running == 0;
  if (external) {
    // Asked trials end with tell; the study ends when max_trials have, or
    // when nothing is open and the strategy has no trial left to give (a
    // hybrid study without max_trials).
    d.finish = study.spec.max_trials > 0 && study.counts.finished() >= study.spec.max_trials;
    if (!d.finish && all_done) {
      auto next = study.strategy->Next(study.trials);
      d.finish = next.ok() && next->kind == StrategyDecision::Kind::kDone;
    }
  } else {
    d.finish = study.strategy_done && all_done;
  }
  return d;
}

bool StudyEngine::ReplenishWouldAct(const Study& study) const {
  if (study.record.state != StudyState::kRunning) return false;
  if (study.spec.objective_type == "external") return true;
  if (study.counts.waiting + study.counts.running < study.spec.parallelism) return true;
  const FinishDecision d = DecideFinish(study);
  return d.phase_changed || d.finish;
}

// REQUIRES study->create_mu held.
absl::Status StudyEngine::MaybeFinishStudy(const std::shared_ptr<Study>& study) {
  FinishDecision d;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (study->record.state != StudyState::kRunning) return absl::OkStatus();
    d = DecideFinish(*study);
  }
  if (d.phase_changed) {
    RETURN_IF_ERROR(store_->SetStudyPhase(study->record.id, d.phase, d.summary_text, Now()));
    std::lock_guard<std::mutex> lock(mu_);
    study->record.phase = d.phase;
    study->record.summary_json = d.summary_text;
  }
  if (d.finish) {
    RETURN_IF_ERROR(
        store_->SetStudyState(study->record.id, StudyState::kComplete, "study_complete", Now()));
    {
      std::lock_guard<std::mutex> lock(mu_);
      study->record.state = StudyState::kComplete;
      EvictHistory(study.get());
    }
    Log("study_complete",
        absl::StrCat("study=", study->record.name, " trials=", study->counts.finished(),
                     " best=", study->best_value ? std::to_string(*study->best_value) : "none"));
    KeepFinal(study);
  }
  if (d.phase_changed || d.finish) NotifyChange();
  return absl::OkStatus();
}

absl::StatusOr<TrialRecord> StudyEngine::AskTrial(const std::string& ref) {
  auto found = FindStudy(ref);
  if (!found.ok()) return found.status();
  std::shared_ptr<Study> study = *found;
  std::lock_guard<std::mutex> create_lock(study->create_mu);
  StrategyDecision decision;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (study->spec.objective_type != "external") {
      return absl::FailedPreconditionError(absl::StrCat(
          "study '", study->record.name, "' has objective type '", study->spec.objective_type,
          "'; ask/tell needs objective type 'external'"));
    }
    if (study->record.state != StudyState::kRunning) {
      return absl::FailedPreconditionError(absl::StrCat(
          "study '", study->record.name, "' is ", storage::StudyStateName(study->record.state)));
    }
    auto next = study->strategy->Next(study->trials);
    if (!next.ok()) return next.status();
    decision = std::move(*next);
  }
  if (decision.kind == StrategyDecision::Kind::kDone) {
    return absl::FailedPreconditionError(
        absl::StrCat("study '", study->record.name, "' has all its trials"));
  }
  if (decision.kind == StrategyDecision::Kind::kWait) {
    return absl::UnavailableError("the strategy waits for running trials; ask again later");
  }
  auto created = store_->CreateTrial(study->record.id, decision.phase, decision.params.dump(),
                                     TrialState::kRunning, Now());
  if (!created.ok()) return created.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ApplyTrial(study.get(), *created);
  }
  NotifyChange();
  return *created;
}

absl::StatusOr<TrialRecord> StudyEngine::TellTrial(const std::string& ref, int64_t number,
                                                   const TrialOutcome& outcome) {
  auto found = FindStudy(ref);
  if (!found.ok()) return found.status();
  std::shared_ptr<Study> study = *found;
  if (outcome.state == TrialState::kComplete && !outcome.value.has_value()) {
    return absl::InvalidArgumentError("value: a COMPLETE trial needs a value");
  }
  auto told = store_->FinishTrialByNumber(study->record.id, number, outcome, Now());
  if (!told.ok()) return told.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ApplyTrial(study.get(), *told);
  }
  NotifyChange();
  {
    std::lock_guard<std::mutex> create_lock(study->create_mu);
    RETURN_IF_ERROR(MaybeFinishStudy(study));
  }
  return *told;
}

absl::StatusOr<std::vector<WorkerView>> StudyEngine::ListWorkers() {
  auto workers = store_->ListWorkers();
  if (!workers.ok()) return workers.status();
  const int64_t now = Now();
  std::map<std::string, int> running;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [token, where] : leases_) {
      auto it = studies_.find(where.first);
      if (it == studies_.end()) continue;
      const auto& trials = it->second->trials;
      if (where.second < static_cast<int64_t>(trials.size())) {
        running[trials[where.second].worker_id]++;
      }
    }
  }
  std::vector<WorkerView> out;
  for (const auto& w : *workers) {
    WorkerView v;
    v.record = w;
    v.alive = now - w.last_heartbeat_ms <= options_.worker_alive_ms;
    v.running_trials = running[w.id];
    out.push_back(std::move(v));
  }
  return out;
}

absl::StatusOr<std::vector<storage::EventRecord>> StudyEngine::EventsAfter(int64_t study_id,
                                                                           int64_t after_seq,
                                                                           int limit) {
  return store_->EventsAfter(study_id, after_seq, limit);
}

// ------------------------------------------------------------------ workers

absl::StatusOr<std::string> StudyEngine::RegisterWorker(const storage::WorkerRecord& worker) {
  storage::WorkerRecord record = worker;
  if (record.id.empty()) record.id = "w-" + NewToken().substr(0, 12);
  record.registered_ms = record.last_heartbeat_ms = Now();
  if (record.slots <= 0) record.slots = 1;
  RETURN_IF_ERROR(store_->UpsertWorker(record));
  Log("worker_registered", absl::StrCat("worker=", record.id, " name=", record.name,
                                        " host=", record.hostname, " slots=", record.slots,
                                        " types=", record.objective_types));
  return record.id;
}

absl::StatusOr<std::vector<LeaseState>> StudyEngine::Heartbeat(
    const std::string& worker_id, const std::vector<std::string>& tokens) {
  const int64_t now = Now();
  absl::Status touched = store_->TouchWorker(worker_id, now);
  if (!touched.ok() && !absl::IsNotFound(touched)) return touched;
  if (absl::IsNotFound(touched)) {
    return absl::NotFoundError(absl::StrCat("unknown worker '", worker_id, "'; register again"));
  }
  std::vector<std::pair<std::string, int64_t>> renewals;
  std::vector<LeaseState> out(tokens.size());
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < tokens.size(); ++i) {
      out[i].lease_token = tokens[i];
      auto it = leases_.find(tokens[i]);
      if (it == leases_.end()) continue;
      auto study = studies_.find(it->second.first);
      if (study == studies_.end()) continue;
      renewals.emplace_back(tokens[i], now + study->second->spec.lease_seconds * 1000LL);
    }
  }
  auto renewed = store_->RenewLeases(renewals);
  if (!renewed.ok()) return renewed.status();
  std::map<std::string, int64_t> valid;
  for (size_t i = 0; i < renewals.size(); ++i) {
    const auto& r = (*renewed)[i];
    if (r.has_value() && r->state == TrialState::kRunning && r->worker_id == worker_id) {
      valid[renewals[i].first] = r->lease_deadline_ms;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (LeaseState& s : out) {
    auto v = valid.find(s.lease_token);
    if (v != valid.end()) {
      s.valid = true;
      s.deadline_ms = v->second;
    } else {
      s.valid = false;
      s.cancel = true;  // expired, ended or cancelled: the worker must stop it
    }
  }
  return out;
}

std::vector<int64_t> StudyEngine::AcquireCandidates(const std::vector<std::string>& types,
                                                    int64_t* lease_ms) {
  std::vector<int64_t> candidates;
  for (const auto& [id, study] : studies_) {
    if (study->record.state != StudyState::kRunning || study->counts.waiting == 0) continue;
    if (!types.empty() &&
        std::find(types.begin(), types.end(), study->spec.objective_type) == types.end()) {
      continue;
    }
    candidates.push_back(id);
    // Leases last the longest lease_seconds among the candidates; the exact
    // study is known only after the store picks the trial, and the first
    // heartbeat sets the study's own deadline.
    *lease_ms = std::max<int64_t>(*lease_ms, study->spec.lease_seconds * 1000LL);
  }
  return candidates;
}

void StudyEngine::LeaseFromAsync(const std::vector<int64_t>& candidates, int64_t lease_ms,
                                 const std::string& worker_id, AcquireDone done) {
  const std::string token = NewToken();
  const int64_t now = Now();
  store_->LeaseNextWaitingAsync(
      candidates, worker_id, token, now + lease_ms, now,
      [this, done = std::move(done)](absl::StatusOr<std::optional<TrialRecord>> leased) {
        if (!leased.ok()) return done(leased.status());
        if (!leased->has_value()) return done(std::optional<Assignment>());
        Assignment a;
        a.trial = std::move(**leased);
        {
          std::lock_guard<std::mutex> lock(mu_);
          auto it = studies_.find(a.trial.study_id);
          if (it != studies_.end()) {
            ApplyTrial(it->second.get(), a.trial);
            a.study_name = it->second->record.name;
            a.objective_json = it->second->objective_json;
          }
        }
        NotifyChange();
        done(std::optional<Assignment>(std::move(a)));
      });
}

absl::StatusOr<std::optional<Assignment>> StudyEngine::LeaseFrom(
    const std::vector<int64_t>& candidates, int64_t lease_ms, const std::string& worker_id) {
  return storage::Await<absl::StatusOr<std::optional<Assignment>>>(
      [&](AcquireDone done) { LeaseFromAsync(candidates, lease_ms, worker_id, std::move(done)); });
}

uint64_t StudyEngine::AcquireTrialAsync(const std::string& worker_id,
                                        const std::vector<std::string>& objective_types,
                                        int64_t wait_ms, AcquireDone done) {
  ParkedAcquire parked{
      worker_id, objective_types,
      std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max<int64_t>(wait_ms, 0)),
      std::move(done)};
  std::vector<int64_t> candidates;
  int64_t lease_ms = 0;
  uint64_t made_waiting = 0;
  uint64_t handle = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_.load()) candidates = AcquireCandidates(objective_types, &lease_ms);
    made_waiting = trials_made_waiting_;
    handle = next_handle_++;
    if (!candidates.empty()) leasing_acquires_.emplace(handle, false);
  }
  if (candidates.empty()) return ParkAcquire(handle, std::move(parked), made_waiting) ? handle : 0;
  // The lease commits while this thread goes back to its work; the answer
  // (or the parking, when another call took the trial first) comes from the
  // commit thread.
  LeaseFromAsync(candidates, lease_ms, worker_id,
                 [this, handle, made_waiting, parked = std::move(parked)](
                     absl::StatusOr<std::optional<Assignment>> leased) mutable {
                   if (!leased.ok() || leased->has_value()) {
                     {
                       std::lock_guard<std::mutex> lock(mu_);
                       leasing_acquires_.erase(handle);
                     }
                     return parked.done(std::move(leased));
                   }
                   ParkAcquire(handle, std::move(parked), made_waiting);
                 });
  return handle;
}

bool StudyEngine::ParkAcquire(uint64_t handle, ParkedAcquire parked, uint64_t made_waiting) {
  std::unique_lock<std::mutex> lock(mu_);
  bool cancelled = false;
  auto leasing = leasing_acquires_.find(handle);
  if (leasing != leasing_acquires_.end()) {
    cancelled = leasing->second;
    leasing_acquires_.erase(leasing);
  }
  if (cancelled || stopping_.load() || parked.deadline <= std::chrono::steady_clock::now()) {
    lock.unlock();
    parked.done(std::optional<Assignment>());
    return false;
  }
  const auto deadline = parked.deadline;
  parked_acquires_.emplace(handle, std::move(parked));
  // A trial that became WAITING since the caller looked found no waiter to
  // serve.
  const bool missed = trials_made_waiting_ != made_waiting;
  if (missed) serve_acquires_ = true;
  if (missed || deadline < waiter_wake_) waiter_cv_.notify_one();
  return true;
}

void StudyEngine::CancelAcquire(uint64_t handle) {
  AcquireDone done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = parked_acquires_.find(handle);
    if (it == parked_acquires_.end()) {
      // Its lease is committing: a trial is still handed out, but it does not
      // park afterwards.
      auto leasing = leasing_acquires_.find(handle);
      if (leasing != leasing_acquires_.end()) leasing->second = true;
      return;
    }
    done = std::move(it->second.done);
    parked_acquires_.erase(it);
  }
  done(std::optional<Assignment>());
}

absl::StatusOr<std::optional<Assignment>> StudyEngine::AcquireTrial(
    const std::string& worker_id, const std::vector<std::string>& objective_types,
    int64_t wait_ms, const std::function<bool()>& cancelled) {
  storage::Rendezvous<absl::StatusOr<std::optional<Assignment>>> answer;
  const uint64_t handle =
      AcquireTrialAsync(worker_id, objective_types, wait_ms, answer.Callback());
  while (!answer.WaitFor(std::chrono::milliseconds(0))) {
    if (cancelled && cancelled()) {
      CancelAcquire(handle);  // answers at once unless a trial is on its way
      break;
    }
    answer.WaitFor(std::chrono::milliseconds(250));
  }
  return answer.Wait();
}

void StudyEngine::ServeParkedAcquires() {
  while (true) {
    uint64_t handle = 0;
    ParkedAcquire parked;
    std::vector<int64_t> candidates;
    int64_t lease_ms = 0;
    uint64_t made_waiting = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_.load()) return;
      made_waiting = trials_made_waiting_;
      auto it = parked_acquires_.begin();
      for (; it != parked_acquires_.end(); ++it) {
        lease_ms = 0;
        candidates = AcquireCandidates(it->second.types, &lease_ms);
        if (!candidates.empty()) break;
      }
      if (it == parked_acquires_.end()) return;
      handle = it->first;
      parked = std::move(it->second);
      parked_acquires_.erase(it);
    }
    auto leased = LeaseFrom(candidates, lease_ms, parked.worker_id);
    if (leased.ok() && !leased->has_value()) {
      // Another call took it first, or it is not committed yet. Back in its
      // place; a trial that became WAITING meanwhile (its commit) saw no
      // parked call to wake for, so look again now.
      std::unique_lock<std::mutex> lock(mu_);
      if (stopping_.load()) {
        lock.unlock();
        parked.done(std::optional<Assignment>());
        return;
      }
      parked_acquires_.emplace(handle, std::move(parked));
      if (trials_made_waiting_ == made_waiting) return;
      continue;
    }
    parked.done(std::move(leased));
  }
}

bool StudyEngine::WaitForChangeAsync(uint64_t seen, int64_t timeout_ms,
                                     std::function<void()> done, uint64_t* handle) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(std::max<int64_t>(timeout_ms, 0));
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_.load() || change_version_.load() != seen) return false;
  *handle = next_handle_++;
  parked_changes_.emplace(*handle, ParkedChangeWait{seen, deadline, std::move(done)});
  if (deadline < waiter_wake_) waiter_cv_.notify_one();
  return true;
}

void StudyEngine::CancelWaitForChange(uint64_t handle) {
  std::function<void()> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = parked_changes_.find(handle);
    if (it == parked_changes_.end()) return;
    done = std::move(it->second.done);
    parked_changes_.erase(it);
  }
  done();
}

void StudyEngine::WaiterLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_.load()) {
    const auto now = std::chrono::steady_clock::now();
    // Never sleep longer than a second, whatever the deadlines.
    auto wake = now + std::chrono::seconds(1);
    std::vector<AcquireDone> expired;
    for (auto it = parked_acquires_.begin(); it != parked_acquires_.end();) {
      if (it->second.deadline <= now) {
        expired.push_back(std::move(it->second.done));
        it = parked_acquires_.erase(it);
      } else {
        wake = std::min(wake, it->second.deadline);
        ++it;
      }
    }
    std::vector<std::function<void()>> changed;
    const uint64_t version = change_version_.load();
    for (auto it = parked_changes_.begin(); it != parked_changes_.end();) {
      if (it->second.deadline <= now || it->second.seen != version) {
        changed.push_back(std::move(it->second.done));
        it = parked_changes_.erase(it);
      } else {
        wake = std::min(wake, it->second.deadline);
        ++it;
      }
    }
    serve_changes_ = false;
    const bool serve = serve_acquires_ && !parked_acquires_.empty();
    serve_acquires_ = false;
    if (!expired.empty() || !changed.empty() || serve) {
      lock.unlock();
      for (auto& done : expired) done(std::optional<Assignment>());
      for (auto& done : changed) done();
      if (serve) ServeParkedAcquires();
      lock.lock();
      continue;
    }
    waiter_wake_ = wake;
    waiter_cv_.wait_until(lock, wake);
    waiter_wake_ = std::chrono::steady_clock::time_point::max();
  }
}

absl::StatusOr<ProgressAction> StudyEngine::ReportProgress(const std::string& token, int64_t step,
                                                           double value, int64_t* deadline_ms) {
  auto recorded = store_->AddIntermediateValue(token, step, value, Now());
  if (!recorded.ok()) {
    if (absl::IsFailedPrecondition(recorded.status())) {
      // A trial ended by CancelStudy or by the pruner is told to stop rather
      // than handed an error.
      auto trial = store_->GetTrialByToken(token);
      if (trial.ok() && IsFinal(trial->state)) return ProgressAction::kCancel;
    }
    return recorded.status();
  }
  std::shared_ptr<Study> study;
  std::string reason;
  bool prune = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = studies_.find(recorded->study_id);
    if (it == studies_.end()) return ProgressAction::kContinue;
    study = it->second;
    ApplyTrial(study.get(), *recorded);
    if (deadline_ms != nullptr) *deadline_ms = recorded->lease_deadline_ms;
    if (study->record.state == StudyState::kCancelled) return ProgressAction::kCancel;
    if (study->pruner) {
      prune = study->pruner->ShouldPrune(study->trials, recorded->number, study->spec.maximize,
                                         &reason);
    }
  }
  if (!prune) return ProgressAction::kContinue;
  TrialOutcome outcome;
  outcome.state = TrialState::kPruned;
  outcome.value = value;  // Optuna keeps a pruned trial's last reported value
  outcome.message = reason;
  auto pruned = store_->FinishLeasedTrial(token, outcome, Now());
  if (!pruned.ok()) return pruned.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ApplyTrial(study.get(), *pruned);
  }
  Log("trial_pruned", absl::StrCat("study=", study->record.name, " trial=", pruned->number,
                                   " step=", step, " reason=\"", reason, "\""));
  NotifyChange();
  RETURN_IF_ERROR(Replenish(study));
  return ProgressAction::kPrune;
}

absl::StatusOr<TrialState> StudyEngine::CompleteTrial(const std::string& token, double value,
                                                      const std::string& result_json) {
  return storage::Await<absl::StatusOr<TrialState>>([&](FinishDone done) {
    CompleteTrialAsync(token, value, result_json, std::move(done));
  });
}

void StudyEngine::CompleteTrialAsync(const std::string& token, double value,
                                     const std::string& result_json, FinishDone done) {
  TrialOutcome outcome;
  outcome.state = TrialState::kComplete;
  outcome.value = value;
  outcome.result_json = result_json;
  FinishAndReplaceAsync(
      token, outcome,
      [this, token, outcome, done = std::move(done)](
          absl::StatusOr<std::optional<TrialState>> folded) {
        if (!folded.ok()) return done(folded.status());
        if (folded->has_value()) return done(**folded);
        // The slow path waits on the store, so never on the commit thread.
        RunFollowup([this, token, outcome, done] { done(FinishSlow(token, outcome)); });
      });
}

absl::StatusOr<TrialState> StudyEngine::FinishSlow(const std::string& token,
                                                   const TrialOutcome& outcome) {
  // The lease is not (or no longer) in memory, e.g. a retried call, or the
  // fast path was refused; the store decides, with the same answers as before.
  auto done = store_->FinishLeasedTrial(token, outcome, Now());
  if (!done.ok()) return done.status();
  std::shared_ptr<Study> study;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = studies_.find(done->study_id);
    if (it == studies_.end()) return done->state;
    study = it->second;
    ApplyTrial(study.get(), *done);
  }
  NotifyChange();
  RETURN_IF_ERROR(Replenish(study));
  return done->state;
}

void StudyEngine::FinishAndReplaceAsync(const std::string& token, const TrialOutcome& outcome,
                                        FastFinishDone done) {
  const auto not_fast = [&done] { done(std::optional<TrialState>()); };
  std::shared_ptr<Study> study;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto lease = leases_.find(token);
    if (lease != leases_.end()) {
      auto it = studies_.find(lease->second.first);
      if (it != studies_.end()) study = it->second;
    }
  }
  // (`done` runs outside every engine lock.)
  if (study == nullptr || study->spec.objective_type == "external") return not_fast();
  // The holder of create_mu may be waiting on a commit (Replenish), so the
  // commit thread (a caller's callback) must not wait for it: it hands the
  // call to the follow-up pool instead. Any other thread waits at most for
  // one sampling or one commit.
  std::unique_lock<std::mutex> create_lock(study->create_mu, std::defer_lock);
  if (!store_->OnCommitThread()) {
    create_lock.lock();
  } else if (!create_lock.try_lock()) {
    RunFollowup([this, token, outcome, done = std::move(done)]() mutable {
      FinishAndReplaceAsync(token, outcome, std::move(done));
    });
    return;
  }
  size_t first_provisional = 0;
  std::vector<storage::TrialStore::NewTrial> batch;
  absl::Status sampled;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto lease = leases_.find(token);
    const int64_t number = lease == leases_.end() ? -1 : lease->second.second;
    if (number < 0 || study->record.state != StudyState::kRunning || study->history_evicted ||
        number >= static_cast<int64_t>(study->trials.size()) ||
        study->trials[number].state != TrialState::kRunning ||
        study->trials[number].lease_token != token) {
      create_lock.unlock();
      return not_fast();
    }
    // The replacements are sampled knowing this outcome, as they were when
    // created after the finish had committed: the outcome is applied for the
    // sampler and taken back before the lock is released, so nobody sees it
    // before it is durable.
    const TrialView before = study->trials[number];
    const std::optional<double> best_before = study->best_value;
    const int64_t best_number_before = study->best_number;
    TrialRecord ended;
    ended.study_id = study->record.id;
    ended.number = number;
    ended.state = outcome.state;
    ended.phase = before.phase;
    ended.value = outcome.value;
    ended.result_json = outcome.result_json;
    ended.attempt = before.attempt;
    ended.worker_id = before.worker_id;
    ended.lease_token = token;
    ApplyTrial(study.get(), ended);
    first_provisional = study->trials.size();
    sampled = SampleFreeSlots(study.get(), &batch);
    TrialView& v = study->trials[number];
    --*CountFor(&study->counts, v.state);
    v = before;
    v.version = ++next_version_;  // strategies' caches must see the change
    ++*CountFor(&study->counts, v.state);
    leases_[token] = {study->record.id, number};
    study->best_value = best_before;
    study->best_number = best_number_before;
  }
  if (!sampled.ok()) {
    create_lock.unlock();
    return done(sampled);
  }
  // create_mu is held until this call has its place in the commit order (when
  // the call below returns), so that the numbers sampled under it follow the
  // same order while the completions of one study still share commits.
  store_->FinishLeasedTrialAndCreateAsync(
      token, outcome, study->record.id, static_cast<int64_t>(first_provisional),
      std::move(batch), Now(),
      [this, study, first_provisional, done = std::move(done)](
          absl::StatusOr<storage::TrialStore::FinishedAndCreated> stored) {
        if (!stored.ok()) {
          // Nothing was stored (a failed commit, or numbering moved because an
          // earlier commit failed): drop the replacements and everything
          // sampled after them, and let the slow path give the store's
          // answer. That waits for create_mu, so not on the commit thread.
          RunFollowup([this, study, first_provisional, done] {
            {
              std::lock_guard<std::mutex> relock(study->create_mu);
              std::lock_guard<std::mutex> lock(mu_);
              DropProvisional(study.get(), first_provisional);
            }
            done(std::optional<TrialState>());
          });
          return;
        }
        absl::Status applied;
        bool replenish = false;
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (stored->finish_status.ok()) ApplyTrial(study.get(), stored->finished);
          applied = ApplyCreated(study.get(), first_provisional, stored->created);
          replenish = ReplenishWouldAct(*study);
        }
        NotifyChange();
        if (!applied.ok()) return done(applied);
        if (!stored->finish_status.ok() || !stored->finished_now) {
          // A refused finish (its replacements stand: the slot is refilled by
          // the trial's retry or by them) or a repeated call: the slow path
          // answers.
          return done(std::optional<TrialState>());
        }
        const TrialState state = stored->finished.state;
        // Usually every slot is taken again and nothing is left to do; else
        // Replenish samples or ends the study, which writes and waits.
        if (!replenish) return done(std::optional<TrialState>(state));
        RunFollowup([this, study, state, done] {
          absl::Status refilled = Replenish(study);
          if (!refilled.ok()) return done(refilled);
          done(std::optional<TrialState>(state));
        });
      });
  create_lock.unlock();
}

absl::StatusOr<TrialState> StudyEngine::FailTrial(const std::string& token,
                                                  const std::string& message) {
  TrialOutcome outcome;
  outcome.state = TrialState::kFailed;
  outcome.message = message.empty() ? "failed without a message" : message;
  auto done = store_->FinishLeasedTrial(token, outcome, Now());
  if (!done.ok()) {
    // FailTrial after the trial already ended differently (e.g. pruned) is a
    // no-op for the worker, not an error.
    if (absl::IsFailedPrecondition(done.status())) {
      auto trial = store_->GetTrialByToken(token);
      if (trial.ok() && IsFinal(trial->state)) return trial->state;
    }
    return done.status();
  }
  std::shared_ptr<Study> study;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = studies_.find(done->study_id);
    if (it == studies_.end()) return done->state;
    study = it->second;
    ApplyTrial(study.get(), *done);
  }
  Log("trial_failed", absl::StrCat("study=", study->record.name, " trial=", done->number,
                                   " message=\"", outcome.message.substr(0, 200), "\""));
  NotifyChange();
  RETURN_IF_ERROR(Replenish(study));
  return done->state;
}

// ------------------------------------------------------------------- sweeper

absl::Status StudyEngine::SweepOnce() {
  auto changed = store_->ExpireLeases(Now(), [this](int64_t study_id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = studies_.find(study_id);
    return it == studies_.end() ? 1 : it->second->spec.max_attempts;
  });
  if (!changed.ok()) return changed.status();
  if (changed->empty()) return absl::OkStatus();
  std::vector<std::shared_ptr<Study>> touched;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const TrialRecord& t : *changed) {
      auto it = studies_.find(t.study_id);
      if (it == studies_.end()) continue;
      ApplyTrial(it->second.get(), t);
      touched.push_back(it->second);
      Log(t.state == TrialState::kFailed ? "lease_expired_failed" : "lease_expired_requeued",
          absl::StrCat("study=", it->second->record.name, " trial=", t.number,
                       " attempt=", t.attempt));
    }
  }
  NotifyChange();
  for (const auto& study : touched) RETURN_IF_ERROR(Replenish(study));
  return absl::OkStatus();
}

void StudyEngine::SweepLoop() {
  while (!stopping_.load()) {
    absl::Status s = SweepOnce();
    if (!s.ok()) Log("sweep_error", absl::StrCat("error=\"", s.message(), "\""));
    std::unique_lock<std::mutex> lock(sweep_mu_);
    sweep_cv_.wait_for(lock, std::chrono::milliseconds(options_.sweep_interval_ms),
                       [&] { return stopping_.load(); });
  }
}

void StudyEngine::Start() {
  if (sweeper_.joinable()) return;
  sweeper_ = std::thread([this] { SweepLoop(); });
}

void StudyEngine::Stop() {
  std::map<uint64_t, ParkedAcquire> acquires;
  std::map<uint64_t, ParkedChangeWait> changes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_.store(true);
    acquires.swap(parked_acquires_);
    changes.swap(parked_changes_);
    waiter_cv_.notify_all();
  }
  sweep_cv_.notify_all();
  NotifyChange();
  // Parked calls are answered now (acquires empty), so that a server's
  // graceful shutdown does not wait for their deadlines.
  for (auto& [handle, parked] : acquires) parked.done(std::optional<Assignment>());
  for (auto& [handle, parked] : changes) parked.done();
  if (sweeper_.joinable()) sweeper_.join();
  if (waiter_.joinable()) waiter_.join();
}

}  // namespace peftsearch::controller
