// A mixture of product kernels over a (sub)space of parameters: what a Parzen
// estimator builds and what TPE samples from and scores with. Numeric kernels
// are truncated normals in model coordinates (ln for log parameters); int and
// stepped parameters use the kernel's mass over the value's grid cell;
// categorical kernels are per-kernel probability rows.
// Thread safety: const methods are safe to share; the Rng is the caller's.
#ifndef PEFTSEARCH_TPE_MIXTURE_H_
#define PEFTSEARCH_TPE_MIXTURE_H_

#include <vector>

#include "tpe/random.h"
#include "tpe/search_space.h"

namespace peftsearch {
namespace tpe {

// Model coordinates of one parameter: where its kernels live.
struct ModelDomain {
  enum class Type { kContinuous, kDiscrete, kCategorical };
  Type type = Type::kContinuous;
  Distribution dist;    // the parameter's own distribution (for snapping)
  double step = 0;      // discrete: the grid step in the parameter's own units
  double low = 0;       // truncation bounds in model coordinates; discrete:
  double high = 0;      // the outer edges of the first and last cells
  int num_choices = 0;  // categorical

  // log_int_as_continuous: model a log int as Optuna < 4.7 did, a continuous
  // kernel on [ln(low - 1/2), ln(high + 1/2)] scored by density, sampled
  // values rounded (instead of cell masses).
  static ModelDomain For(const Distribution& d, bool log_int_as_continuous = false);
  // Model coordinate of a value (ln for log parameters).
  double ToModel(double x) const;
  // Cell of a discrete value in model coordinates: [x - step/2, x + step/2].
  void Cell(double x, double* lo, double* hi) const;
  // Back from model coordinates to a legal parameter value (exp, grid snap).
  double FromModel(double m) const;
};

struct MixtureDim {
  ModelDomain domain;
  std::vector<double> mu, sigma;  // numeric: one per kernel
  std::vector<double> probs;      // categorical: kernels x num_choices, rows sum to 1
};

class Mixture {
 public:
  std::vector<double> weights;  // one per kernel, summing to 1
  // Optional cache: empty, or log(weights[k]) for every k (the estimator
  // fills it when many 1-D mixtures share one set of weights). Whoever
  // changes `weights` must clear or update it.
  std::vector<double> log_weights;
  std::vector<MixtureDim> dims;
  // Optuna <= 3.1's continuous kernel log density, which lacks the -log sigma
  // term: a kernel's height no longer grows as it narrows. Not a density any
  // more, but TPE only compares l/g at the same points. See TpeOptions.
  bool omit_log_sigma = false;

  int num_kernels() const { return static_cast<int>(weights.size()); }

  // Draws n points: (*points)[d][i] is the i-th point's value of dimension d,
  // a legal parameter value. Draw order: per point, the kernel, then each
  // dimension in order (one uniform each).
  void Sample(Rng* rng, int n, std::vector<std::vector<double>>* points) const;

  // log density of each point (layout as Sample's). For log parameters the
  // density is in ln space, without the 1/x Jacobian: it cancels in l/g.
  void LogPdf(const std::vector<std::vector<double>>& points, std::vector<double>* out) const;

 private:
  // LogPdf for points known to be distinct (or not worth deduplicating).
  void LogPdfDistinct(const std::vector<std::vector<double>>& points,
                      std::vector<double>* out) const;
};

}  // namespace tpe
}  // namespace peftsearch

#endif  // PEFTSEARCH_TPE_MIXTURE_H_
