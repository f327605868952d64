// Plain structs the dashboard renders, and the pure analyses on them: the
// parameter columns of a set of trials, PED-ANOVA parameter importance, the
// hybrid PEFT step-1 accuracy by method, and the winning combination. No
// engine, RPC or HTTP here, so every function is tested on literals.
//
// Thread safety: free functions of their arguments only.
#ifndef PEFTSEARCH_CONTROLLER_DASHBOARD_MODEL_H_
#define PEFTSEARCH_CONTROLLER_DASHBOARD_MODEL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace peftsearch::controller::dashboard {

using Json = nlohmann::ordered_json;

struct TrialInfo {
  int64_t number = 0;
  std::string state;  // "WAITING", "RUNNING", "COMPLETE", "PRUNED", "FAILED"
  int phase = 0;
  Json params = Json::object();
  std::optional<double> value;
  Json result;  // the parsed result_json, or null
  std::vector<std::pair<int64_t, double>> intermediate;  // (step, value)
  int attempt = 0;
  std::string worker_id;
  std::string message;
  int64_t created_ms = 0;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
};

// What the spec says about one parameter (range and scale), when known.
struct ParamSpecInfo {
  bool numeric = false;
  bool log = false;
  double low = 0;
  double high = 0;
};

struct StudyInfo {
  int64_t id = 0;
  std::string name;
  std::string state;      // "RUNNING", "COMPLETE", "CANCELLED"
  std::string strategy;   // "single" or "hybrid_peft"
  bool maximize = false;
  int phase = 0;
  int64_t max_trials = 0;
  int parallelism = 1;
  int64_t waiting = 0, running = 0, complete = 0, pruned = 0, failed = 0;
  std::optional<double> best_value;
  int64_t best_trial_number = -1;
  Json summary;  // the strategy's summary (hybrid PEFT phases), or null
  std::map<std::string, ParamSpecInfo> space;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;

  int64_t total() const { return waiting + running + complete + pruned + failed; }
};

// One axis of the parallel coordinates and one row of the importance chart:
// a parameter that takes at least two distinct values among the trials.
struct ParamColumn {
  std::string name;
  bool numeric = false;  // numbers (bools and strings are categorical)
  bool log = false;
  double low = 0, high = 0;             // numeric: range shown (spec range when known)
  std::vector<std::string> categories;  // categorical: sorted distinct values
};

// The text a categorical parameter value is shown and grouped as.
std::string CategoryOf(const Json& value);

// The parameters of `trials` (scalar values only: nested objects such as a
// hybrid trial's derived "peft" block are skipped), in first-seen order,
// without those that never vary.
std::vector<ParamColumn> ParamColumns(const std::vector<TrialInfo>& trials,
                                      const StudyInfo& study);

// COMPLETE trials with a value, optionally of one phase only.
std::vector<TrialInfo> CompletedTrials(const std::vector<TrialInfo>& trials,
                                       std::optional<int> phase = std::nullopt);

// ------------------------------------------------------------------ importance
//
// PED-ANOVA (Watanabe, Bansal, Hutter: "PED-ANOVA: Efficiently Quantifying
// Hyperparameter Importance in Arbitrary Subspaces", IJCAI 2023,
// arXiv:2304.10255), as Optuna's PedAnovaImportanceEvaluator computes it: the
// importance of a parameter is the Pearson divergence between its density
// among the top `baseline_quantile` of trials and its density among all
// trials (the "local" space the study explored),
//     D = sum_g p_all(g) * (p_top(g) / p_all(g) - 1)^2,
// on a grid of `n_steps` points over the parameter's range (log scale when the
// spec says so). Each density is a Parzen estimator with Scott's-rule
// bandwidth on the grid (categorical: category frequencies). Importances are
// normalised to sum to 1. Needs no surrogate model, so it is cheap enough to
// recompute on every page view.
struct ImportanceOptions {
  double baseline_quantile = 0.1;  // Optuna's default
  int n_steps = 50;                // Optuna's default grid size
  int min_top_trials = 2;
};

struct ParamImportance {
  std::string name;
  double importance = 0;  // normalised: the values sum to 1 (all 0 if none differ)
};

// Importance of each column over `completed` (COMPLETE trials with values),
// highest first. Empty when fewer than 3 trials or no column.
std::vector<ParamImportance> PedAnovaImportance(const std::vector<TrialInfo>& completed,
                                                const std::vector<ParamColumn>& columns,
                                                bool maximize,
                                                const ImportanceOptions& options = {});

// ------------------------------------------------------------- hybrid PEFT
//
// Step 1 of the hybrid search samples one boolean per PEFT method. For each
// method: the mean value of the completed step-1 trials that included it and
// of those that did not (MambaPEFT's per-method view of step 1).
struct MethodEffect {
  std::string method;
  int64_t n_with = 0, n_without = 0;
  std::optional<double> mean_with, mean_without;
};

// `trials`: any trials; phase-1 COMPLETE ones with values are used, and the
// methods are their boolean parameters. Sorted by mean_with - mean_without,
// best for the study's direction first.
std::vector<MethodEffect> MethodEffects(const std::vector<TrialInfo>& trials, bool maximize);

// The combination the hybrid search settled on, from the strategy summary:
// the final (test) trial if there is one, else the best of step 2, else the
// best of step 1.
struct Winner {
  std::string stage;  // "final", "step2" or "step1"
  int64_t trial = -1;
  std::vector<std::string> combination;
  std::optional<double> trainable_params;
  std::optional<double> value;  // test accuracy for "final", else validation
  std::string removed;          // step 2's "remove" choice, if any
};
std::optional<Winner> WinnerOf(const Json& summary);

}  // namespace peftsearch::controller::dashboard

#endif  // PEFTSEARCH_CONTROLLER_DASHBOARD_MODEL_H_
