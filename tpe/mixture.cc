#include "tpe/mixture.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tpe/truncnorm.h"

namespace peftsearch {
namespace tpe {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kHalfLog2Pi = 0.91893853320467274178;

}  // namespace

ModelDomain ModelDomain::For(const Distribution& d) {
  ModelDomain m;
  m.dist = d;
  if (d.kind == DistributionKind::kCategorical) {
    m.type = Type::kCategorical;
    m.num_choices = d.num_choices;
    return m;
  }
  m.step = EffectiveStep(d);
  if (m.step > 0) {
    m.type = Type::kDiscrete;
    // The last grid point, not `high`, bounds the last cell (a step that does
    // not divide the range would otherwise give it extra mass).
    const double top = GridValue(d, NumGridPoints(d) - 1);
    m.low = m.ToModel(d.low - m.step / 2);
    m.high = m.ToModel(top + m.step / 2);
  } else {
    m.type = Type::kContinuous;
    m.low = m.ToModel(d.low);
    m.high = m.ToModel(d.high);
  }
  return m;
}

double ModelDomain::ToModel(double x) const { return dist.log ? std::log(x) : x; }

void ModelDomain::Cell(double x, double* lo, double* hi) const {
  *lo = ToModel(x - step / 2);
  *hi = ToModel(x + step / 2);
}

double ModelDomain::FromModel(double m) const {
  double x = dist.log ? std::exp(m) : m;
  return Snap(dist, x);
}

void Mixture::Sample(Rng* rng, int n, std::vector<std::vector<double>>* points) const {
  const int k_count = num_kernels();
  std::vector<double> cumulative(k_count);
  double total = 0;
  for (int k = 0; k < k_count; ++k) cumulative[k] = (total += weights[k]);
  points->assign(dims.size(), std::vector<double>(n));
  for (int i = 0; i < n; ++i) {
    double u = rng->Uniform() * total;
    int k = static_cast<int>(std::upper_bound(cumulative.begin(), cumulative.end(), u) -
                             cumulative.begin());
    if (k >= k_count) k = k_count - 1;
    for (size_t d = 0; d < dims.size(); ++d) {
      const MixtureDim& dim = dims[d];
      const ModelDomain& dom = dim.domain;
      if (dom.type == ModelDomain::Type::kCategorical) {
        const double* row = &dim.probs[static_cast<size_t>(k) * dom.num_choices];
        double v = rng->Uniform();
        int c = 0;
        double acc = row[0];
        while (c + 1 < dom.num_choices && acc <= v) acc += row[++c];
        (*points)[d][i] = c;
        continue;
      }
      const double mu = dim.mu[k], sigma = dim.sigma[k];
      const double z = TruncNormPpf(rng->UniformOpen(), (dom.low - mu) / sigma,
                                    (dom.high - mu) / sigma);
      double m = std::clamp(mu + sigma * z, dom.low, dom.high);
      (*points)[d][i] = dom.FromModel(m);
    }
  }
}

void Mixture::LogPdf(const std::vector<std::vector<double>>& points,
                     std::vector<double>* out) const {
  const int k_count = num_kernels();
  const size_t n = points.empty() ? 0 : points[0].size();
  // acc[i * K + k] = log w_k + sum_d log p_kd(x_id)
  std::vector<double> acc(n * k_count);
  for (size_t i = 0; i < n; ++i) {
    for (int k = 0; k < k_count; ++k) acc[i * k_count + k] = std::log(weights[k]);
  }
  std::vector<double> log_norm(k_count), inv_sigma(k_count), scratch(k_count);
  for (size_t d = 0; d < dims.size(); ++d) {
    const MixtureDim& dim = dims[d];
    const ModelDomain& dom = dim.domain;
    const std::vector<double>& xs = points[d];
    if (dom.type == ModelDomain::Type::kCategorical) {
      for (size_t i = 0; i < n; ++i) {
        const int c = static_cast<int>(xs[i]);
        for (int k = 0; k < k_count; ++k) {
          acc[i * k_count + k] += std::log(dim.probs[static_cast<size_t>(k) * dom.num_choices + c]);
        }
      }
      continue;
    }
    // Each kernel's normalising mass over the domain depends only on the kernel.
    for (int k = 0; k < k_count; ++k) {
      inv_sigma[k] = 1 / dim.sigma[k];
      log_norm[k] = LogGaussMass((dom.low - dim.mu[k]) * inv_sigma[k],
                                 (dom.high - dim.mu[k]) * inv_sigma[k]);
    }
    if (dom.type == ModelDomain::Type::kContinuous) {
      for (int k = 0; k < k_count; ++k) {
        scratch[k] = -std::log(dim.sigma[k]) - kHalfLog2Pi - log_norm[k];
      }
      for (size_t i = 0; i < n; ++i) {
        const double x = dom.ToModel(xs[i]);
        double* row = &acc[i * k_count];
        if (x < dom.low || x > dom.high) {
          for (int k = 0; k < k_count; ++k) row[k] = -kInf;
          continue;
        }
        for (int k = 0; k < k_count; ++k) {
          const double z = (x - dim.mu[k]) * inv_sigma[k];
          row[k] += scratch[k] - 0.5 * z * z;
        }
      }
      continue;
    }
    // Discrete: the kernel's mass over the value's cell. Candidates repeat
    // values, so each distinct value's masses are computed once (Optuna 4.5
    // deduplicates the same way, PR #6202).
    std::vector<std::pair<double, size_t>> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = {xs[i], i};
    std::sort(order.begin(), order.end());
    for (size_t j = 0; j < n; ++j) {
      const size_t i = order[j].second;
      if (j == 0 || order[j].first != order[j - 1].first) {
        double lo, hi;
        dom.Cell(xs[i], &lo, &hi);
        for (int k = 0; k < k_count; ++k) {
          scratch[k] = LogGaussMass((lo - dim.mu[k]) * inv_sigma[k],
                                    (hi - dim.mu[k]) * inv_sigma[k]) -
                       log_norm[k];
        }
      }
      double* row = &acc[i * k_count];
      for (int k = 0; k < k_count; ++k) row[k] += scratch[k];
    }
  }
  out->resize(n);
  for (size_t i = 0; i < n; ++i) {
    const double* row = &acc[i * k_count];
    double m = -kInf;
    for (int k = 0; k < k_count; ++k) m = std::max(m, row[k]);
    if (m == -kInf) {
      (*out)[i] = -kInf;
      continue;
    }
    double s = 0;
    for (int k = 0; k < k_count; ++k) s += std::exp(row[k] - m);
    (*out)[i] = m + std::log(s);
  }
}

}  // namespace tpe
}  // namespace peftsearch
