// Builds the Parzen estimator (a Mixture) of one side of the TPE split from
// its observations, as Optuna 4.x's _ParzenEstimator: one kernel per
// observation plus a prior kernel; neighbour (univariate) or Scott-like
// (multivariate) bandwidths; magic clip; smoothed one-hot categorical rows.
// Thread safety: pure function.
#ifndef PEFTSEARCH_TPE_PARZEN_ESTIMATOR_H_
#define PEFTSEARCH_TPE_PARZEN_ESTIMATOR_H_

#include <functional>
#include <vector>

#include "tpe/mixture.h"
#include "tpe/search_space.h"
#include "tpe/status.h"

namespace peftsearch {
namespace tpe {

struct ParzenOptions {
  bool consider_prior = true;  // false is honoured only while observations exist
  double prior_weight = 1.0;   // REQUIRES > 0
  bool consider_magic_clip = true;
  bool consider_endpoints = false;
  // Scott-like bandwidth 0.2 * n^(-1/(D+4)) * range for every kernel (Optuna
  // <= 4.9 multivariate), unless neighbor_bandwidth (Optuna 5.0 multivariate).
  bool multivariate = false;
  bool neighbor_bandwidth = false;
  // Neighbour rule of Optuna <= 4.8 (and hyperopt): the prior mean counts as
  // a neighbour. Optuna 4.9 dropped it (PR #6574).
  bool prior_as_neighbor = false;
  // Mixture::omit_log_sigma (Optuna <= 3.1's continuous kernel density).
  bool omit_log_sigma = false;
  // ModelDomain::For's log_int_as_continuous (Optuna < 4.7's log ints).
  bool log_int_as_continuous = false;
  // Merge kernels identical in every dimension (only when no dimension is
  // continuous). Off only in tests that inspect kernels one by one.
  bool merge_identical_kernels = true;
  // Observation weights, oldest first. REQUIRES: non-empty function.
  std::function<std::vector<double>(int)> weights;
};

// The Optuna defaults, used when TpeOptions leaves gamma / weights empty.
int DefaultGamma(int n);                   // min(ceil(0.1 n), 25)
std::vector<double> DefaultWeights(int n);  // 1/n..1 ramp, newest 25 at 1

// When no dimension is continuous, kernels identical in every dimension are
// merged (weights summed): the same mixture with fewer kernels.
// `dims` are the parameters of the (sub)space; observations[d][j] is the
// value of dims[d] in the j-th observed trial, trials oldest first.
// InvalidArgument if the weights function returns the wrong size or negative,
// non-finite or all-zero weights.
Status BuildParzenEstimator(const std::vector<Distribution>& dims,
                            const std::vector<std::vector<double>>& observations,
                            const ParzenOptions& options, Mixture* out);

}  // namespace tpe
}  // namespace peftsearch

#endif  // PEFTSEARCH_TPE_PARZEN_ESTIMATOR_H_
