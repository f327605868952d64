#include "tpe/parzen_estimator.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace peftsearch {
namespace tpe {
namespace {

// Lower bound on sigma without magic clip (Optuna's EPS).
constexpr double kEps = 1e-12;

// Neighbour rule: a kernel's width is its larger gap to the sorted
// neighbours, the domain bounds bracketing the ends (Optuna 4.9, which no
// longer inserts the prior mean as a neighbour, PR #6574).
std::vector<double> NeighborSigmas(const std::vector<double>& mus, double low, double high,
                                   bool consider_endpoints) {
  const size_t n = mus.size();
  // (value, index) pairs sort faster than indices compared through mus; the
  // index breaks ties, so equal values keep observation order (stable).
  std::vector<std::pair<double, size_t>> sorted(n);
  for (size_t i = 0; i < n; ++i) sorted[i] = {mus[i], i};
  std::sort(sorted.begin(), sorted.end());
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = sorted[i].second;
  std::vector<double> s(n + 2);
  s[0] = low;
  for (size_t i = 0; i < n; ++i) s[i + 1] = sorted[i].first;
  s[n + 1] = high;
  std::vector<double> sorted_sigma(n);
  for (size_t i = 0; i < n; ++i) {
    sorted_sigma[i] = std::max(s[i + 1] - s[i], s[i + 2] - s[i + 1]);
  }
  // Without endpoints, the outermost kernels ignore the bounds: a lone good
  // point near the edge would otherwise get a huge width.
  if (!consider_endpoints && n >= 2) {
    sorted_sigma[0] = s[2] - s[1];
    sorted_sigma[n - 1] = s[n] - s[n - 1];
  }
  std::vector<double> sigma(n);
  for (size_t i = 0; i < n; ++i) sigma[order[i]] = sorted_sigma[i];
  return sigma;
}

// Merges kernels that are identical in every dimension, summing their
// weights: the same density and the same sampling distribution with fewer
// kernels. Ints and categoricals repeat values (1,000 trials over 10 choices
// give 11 distinct kernels), which is most of the cost of scoring against g.
void MergeIdenticalKernels(Mixture* m) {
  const int k_count = m->num_kernels();
  auto key = [m](int k) {
    std::vector<double> key;
    for (const MixtureDim& dim : m->dims) {
      if (dim.domain.type == ModelDomain::Type::kCategorical) {
        const int c = dim.domain.num_choices;
        key.insert(key.end(), dim.probs.begin() + static_cast<size_t>(k) * c,
                   dim.probs.begin() + static_cast<size_t>(k + 1) * c);
      } else {
        key.push_back(dim.mu[k]);
        key.push_back(dim.sigma[k]);
      }
    }
    return key;
  };
  std::vector<std::pair<std::vector<double>, int>> keyed(k_count);
  for (int k = 0; k < k_count; ++k) keyed[k] = {key(k), k};
  std::sort(keyed.begin(), keyed.end());
  Mixture out;
  out.dims.resize(m->dims.size());
  for (size_t d = 0; d < m->dims.size(); ++d) out.dims[d].domain = m->dims[d].domain;
  for (int i = 0; i < k_count; ++i) {
    const int k = keyed[i].second;
    if (i > 0 && keyed[i].first == keyed[i - 1].first) {
      out.weights.back() += m->weights[k];
      continue;
    }
    out.weights.push_back(m->weights[k]);
    for (size_t d = 0; d < m->dims.size(); ++d) {
      const MixtureDim& src = m->dims[d];
      MixtureDim& dst = out.dims[d];
      if (src.domain.type == ModelDomain::Type::kCategorical) {
        const int c = src.domain.num_choices;
        dst.probs.insert(dst.probs.end(), src.probs.begin() + static_cast<size_t>(k) * c,
                         src.probs.begin() + static_cast<size_t>(k + 1) * c);
      } else {
        dst.mu.push_back(src.mu[k]);
        dst.sigma.push_back(src.sigma[k]);
      }
    }
  }
  *m = std::move(out);
}

}  // namespace

int DefaultGamma(int n) { return std::min(static_cast<int>(std::ceil(0.1 * n)), 25); }

std::vector<double> DefaultWeights(int n) {
  if (n <= 0) return {};
  if (n < 25) return std::vector<double>(n, 1.0);
  std::vector<double> w(n, 1.0);
  const int ramp = n - 25;  // np.linspace(1/n, 1, num=n-25)
  for (int i = 0; i < ramp; ++i) {
    w[i] = ramp == 1 ? 1.0 / n : 1.0 / n + (1.0 - 1.0 / n) * i / (ramp - 1);
  }
  return w;
}

Status BuildParzenEstimator(const std::vector<Distribution>& dims,
                            const std::vector<std::vector<double>>& observations,
                            const ParzenOptions& options, Mixture* out) {
  const int n_obs = observations.empty() ? 0 : static_cast<int>(observations[0].size());
  const bool use_prior = options.consider_prior || n_obs == 0;
  const int n_kernels = n_obs + (use_prior ? 1 : 0);

  // Mixture weights: the weights function over observations, then the prior.
  std::vector<double> w;
  if (n_obs > 0) {
    w = options.weights(n_obs);
    if (static_cast<int>(w.size()) != n_obs) {
      return Status::InvalidArgument("weights(" + std::to_string(n_obs) + ") returned " +
                                     std::to_string(w.size()) + " values");
    }
    for (double x : w) {
      if (!std::isfinite(x) || x < 0) {
        return Status::InvalidArgument("weights(" + std::to_string(n_obs) +
                                       ") returned a negative or non-finite weight");
      }
    }
  }
  if (use_prior) w.push_back(n_obs == 0 ? 1.0 : options.prior_weight);
  const double total = std::accumulate(w.begin(), w.end(), 0.0);
  if (!(total > 0)) {
    return Status::InvalidArgument("weights(" + std::to_string(n_obs) + ") are all zero");
  }
  for (double& x : w) x /= total;

  out->weights = std::move(w);
  out->dims.clear();
  out->dims.reserve(dims.size());
  for (size_t d = 0; d < dims.size(); ++d) {
    MixtureDim dim;
    dim.domain = ModelDomain::For(dims[d]);
    const ModelDomain& dom = dim.domain;
    const std::vector<double>& obs = observations.empty() ? std::vector<double>() : observations[d];
    if (dom.type == ModelDomain::Type::kCategorical) {
      // Each observation's row: prior_weight / n_kernels everywhere, +1 at the
      // observed choice, normalised; the prior row is uniform.
      const int c_count = dom.num_choices;
      dim.probs.assign(static_cast<size_t>(n_kernels) * c_count, 0);
      const double base = n_obs == 0 ? 1.0 : options.prior_weight / n_kernels;
      for (int k = 0; k < n_kernels; ++k) {
        double* row = &dim.probs[static_cast<size_t>(k) * c_count];
        for (int c = 0; c < c_count; ++c) row[c] = base;
        if (k < n_obs) row[static_cast<int>(obs[k])] += 1;
        double sum = std::accumulate(row, row + c_count, 0.0);
        for (int c = 0; c < c_count; ++c) row[c] /= sum;
      }
      out->dims.push_back(std::move(dim));
      continue;
    }
    std::vector<double> mus(n_obs);
    for (int j = 0; j < n_obs; ++j) mus[j] = dom.ToModel(obs[j]);
    const double range = dom.high - dom.low;
    std::vector<double> sigmas;
    if (options.multivariate && !options.neighbor_bandwidth) {
      const double sigma = 0.2 * std::pow(std::max(n_obs, 1), -1.0 / (dims.size() + 4)) * range;
      sigmas.assign(n_obs, sigma);
    } else {
      std::vector<double> neighbours = mus;
      if (options.prior_as_neighbor && use_prior) neighbours.push_back(0.5 * (dom.low + dom.high));
      sigmas = NeighborSigmas(neighbours, dom.low, dom.high, options.consider_endpoints);
      sigmas.resize(n_obs);
    }
    // Magic clip: never narrower than range / (n_kernels + 1), capped at
    // range / 100, so a handful of good points cannot collapse the search.
    const double max_sigma = range;
    const double min_sigma =
        options.consider_magic_clip ? range / std::min(100.0, 1.0 + n_kernels) : kEps;
    for (double& s : sigmas) s = std::clamp(s, min_sigma, max_sigma);
    if (use_prior) {
      mus.push_back(0.5 * (dom.low + dom.high));
      sigmas.push_back(range);
    }
    dim.mu = std::move(mus);
    dim.sigma = std::move(sigmas);
    out->dims.push_back(std::move(dim));
  }
  // Continuous values practically never repeat; everything else does.
  bool all_discrete = true;
  for (const MixtureDim& dim : out->dims) {
    all_discrete = all_discrete && dim.domain.type != ModelDomain::Type::kContinuous;
  }
  if (options.merge_identical_kernels && all_discrete && n_kernels > 1) MergeIdenticalKernels(out);
  return Status::OK();
}

}  // namespace tpe
}  // namespace peftsearch
