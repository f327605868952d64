#include "tpe/parzen_estimator.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <string>

namespace peftsearch {
namespace tpe {
namespace {

// Lower bound on sigma without magic clip (Optuna's EPS).
constexpr double kEps = 1e-12;

// Indices of `values` (all within [low, high]) in ascending order of value,
// ties by index: what a stable sort gives. The sort of the "above"
// observations was the largest single cost of a suggestion at 1,000+ trials.
// Bucket sort: n buckets over [low, high], filled in index order, each
// bucket then sorted by (value, index); observations spread over the domain
// leave about one per bucket, so this is two linear passes.
std::vector<size_t> SortedOrder(const std::vector<double>& values, double low, double high) {
  const size_t n = values.size();
  std::vector<size_t> order(n);
  std::vector<std::pair<double, size_t>> pairs(n);
  auto by_value_then_index = [](const std::pair<double, size_t>& a, const std::pair<double, size_t>& b) {
    return a.first != b.first ? a.first < b.first : a.second < b.second;
  };
  if (n < 64 || !(high > low)) {
    for (size_t i = 0; i < n; ++i) pairs[i] = {values[i], i};
    std::sort(pairs.begin(), pairs.end(), by_value_then_index);
    for (size_t i = 0; i < n; ++i) order[i] = pairs[i].second;
    return order;
  }
  const double scale = n / (high - low);
  std::vector<uint32_t> bucket(n), start(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    const double b = (values[i] - low) * scale;  // monotone in the value, so buckets are ordered
    bucket[i] = b <= 0 ? 0 : static_cast<uint32_t>(std::min(static_cast<double>(n - 1), b));
    ++start[bucket[i] + 1];
  }
  for (size_t b = 0; b < n; ++b) start[b + 1] += start[b];
  // Filled from the back, last index first: each bucket ends up in index order.
  {
    std::vector<uint32_t> end(start.begin() + 1, start.end());
    for (size_t i = n; i-- > 0;) pairs[--end[bucket[i]]] = {values[i], i};
  }
  for (size_t b = 0; b < n; ++b) {
    auto first = pairs.begin() + start[b], last = pairs.begin() + start[b + 1];
    if (last - first < 2) continue;
    if (last - first <= 16) {  // insertion sort: stable, and ties already in index order
      for (auto it = first + 1; it != last; ++it) {
        const std::pair<double, size_t> v = *it;
        auto hole = it;
        while (hole != first && v.first < (hole - 1)->first) {
          *hole = *(hole - 1);
          --hole;
        }
        *hole = v;
      }
    } else {
      std::sort(first, last, by_value_then_index);
    }
  }
  for (size_t i = 0; i < n; ++i) order[i] = pairs[i].second;
  return order;
}

// Neighbour rule: a kernel's width is its larger gap to the sorted
// neighbours, the domain bounds bracketing the ends (Optuna 4.9, which no
// longer inserts the prior mean as a neighbour, PR #6574).
// *order receives the indices of `mus` in ascending order (ties by index).
std::vector<double> NeighborSigmas(const std::vector<double>& mus, double low, double high,
                                   bool consider_endpoints, std::vector<size_t>* order_out) {
  const size_t n = mus.size();
  std::vector<size_t> order = SortedOrder(mus, low, high);
  std::vector<double> s(n + 2);
  s[0] = low;
  for (size_t i = 0; i < n; ++i) s[i + 1] = mus[order[i]];
  s[n + 1] = high;
  // Without endpoints, the outermost kernels ignore the bounds: a lone good
  // point near the edge would otherwise get a huge width.
  std::vector<double> sigma;
  sigma.reserve(n + 1);  // the caller appends the prior's width
  sigma.resize(n);
  for (size_t i = 0; i < n; ++i) {
    double width = std::max(s[i + 1] - s[i], s[i + 2] - s[i + 1]);
    if (!consider_endpoints && n >= 2) {
      if (i == 0) width = s[2] - s[1];
      if (i == n - 1) width = s[n] - s[n - 1];
    }
    sigma[order[i]] = width;
  }
  *order_out = std::move(order);
  return sigma;
}

// Merges kernels that are identical in every dimension, summing their
// weights: the same density and the same sampling distribution with fewer
// kernels. Ints and categoricals repeat values (1,000 trials over 10 choices
// give 11 distinct kernels), which is most of the cost of scoring against g.
void MergeIdenticalKernels(Mixture* m) {
  const int k_count = m->num_kernels();
  // One flat row of doubles per kernel: (mu, sigma) per numeric dimension,
  // the probability row per categorical one.
  size_t width = 0;
  for (const MixtureDim& dim : m->dims) {
    width += dim.domain.type == ModelDomain::Type::kCategorical ? dim.domain.num_choices : 2;
  }
  std::vector<double> keys(static_cast<size_t>(k_count) * width);
  for (int k = 0; k < k_count; ++k) {
    double* key = &keys[static_cast<size_t>(k) * width];
    for (const MixtureDim& dim : m->dims) {
      if (dim.domain.type == ModelDomain::Type::kCategorical) {
        const int c = dim.domain.num_choices;
        key = std::copy(dim.probs.begin() + static_cast<size_t>(k) * c,
                        dim.probs.begin() + static_cast<size_t>(k + 1) * c, key);
      } else {
        *key++ = dim.mu[k];
        *key++ = dim.sigma[k];
      }
    }
  }
  auto key_of = [&](int k) { return &keys[static_cast<size_t>(k) * width]; };
  std::vector<int> order(k_count);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    const double *ka = key_of(a), *kb = key_of(b);
    for (size_t i = 0; i < width; ++i) {
      if (ka[i] != kb[i]) return ka[i] < kb[i];
    }
    return a < b;
  });
  Mixture out;
  out.omit_log_sigma = m->omit_log_sigma;
  out.dims.resize(m->dims.size());
  for (size_t d = 0; d < m->dims.size(); ++d) out.dims[d].domain = m->dims[d].domain;
  for (int i = 0; i < k_count; ++i) {
    const int k = order[i];
    if (i > 0 && std::equal(key_of(k), key_of(k) + width, key_of(order[i - 1]))) {
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

// Merges identical kernels of a 1-D mixture without a full sort: numeric
// kernels arrive sorted by mean, so equal kernels sit in runs of equal means
// (ordered by width here); categorical rows are grouped by observed choice.
void MergeAdjacentIdenticalKernels(Mixture* m) {
  MixtureDim& dim = m->dims[0];
  const int k_count = m->num_kernels();
  if (dim.domain.type == ModelDomain::Type::kCategorical) {
    // Rows differ only by the observed choice (argmax); the prior row is
    // uniform. Bucket by row: O(n), no sort.
    const int c = dim.domain.num_choices;
    std::vector<int> bucket_of_choice(c, -1);
    Mixture out;
    out.omit_log_sigma = m->omit_log_sigma;
    out.dims.resize(1);
    out.dims[0].domain = dim.domain;
    for (int k = 0; k < k_count; ++k) {
      const double* row = &dim.probs[static_cast<size_t>(k) * c];
      const int top = static_cast<int>(std::max_element(row, row + c) - row);
      const bool uniform = row[top] == row[0] && std::equal(row + 1, row + c, row);
      int slot = uniform ? -1 : bucket_of_choice[top];
      if (slot >= 0 && std::equal(row, row + c, &out.dims[0].probs[static_cast<size_t>(slot) * c])) {
        out.weights[slot] += m->weights[k];
        continue;
      }
      if (!uniform) bucket_of_choice[top] = static_cast<int>(out.weights.size());
      out.weights.push_back(m->weights[k]);
      out.dims[0].probs.insert(out.dims[0].probs.end(), row, row + c);
    }
    *m = std::move(out);
    return;
  }
  // Within each run of equal means, order by width so equal kernels meet.
  for (int a = 0; a < k_count;) {
    int b = a + 1;
    while (b < k_count && dim.mu[b] == dim.mu[a]) ++b;
    if (b - a > 2) {
      std::vector<std::pair<double, double>> run;
      for (int k = a; k < b; ++k) run.push_back({dim.sigma[k], m->weights[k]});
      std::sort(run.begin(), run.end());
      for (int k = a; k < b; ++k) {
        dim.sigma[k] = run[k - a].first;
        m->weights[k] = run[k - a].second;
      }
    }
    a = b;
  }
  int w = 0;
  for (int k = 0; k < k_count; ++k) {
    if (w > 0 && dim.mu[k] == dim.mu[w - 1] && dim.sigma[k] == dim.sigma[w - 1]) {
      m->weights[w - 1] += m->weights[k];
      continue;
    }
    dim.mu[w] = dim.mu[k];
    dim.sigma[w] = dim.sigma[k];
    m->weights[w] = m->weights[k];
    ++w;
  }
  dim.mu.resize(w);
  dim.sigma.resize(w);
  m->weights.resize(w);
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
  // Every parameter of a side usually gets the same raw weights, and the
  // divisions cost more than comparing: the last normalisation is kept per
  // thread and reused when the raw weights are equal (the same divisions,
  // so the same result).
  thread_local std::vector<double> last_raw, last_normalised, last_log;
  if (w == last_raw) {
    w = last_normalised;
  } else {
    last_raw = w;
    for (double& x : w) x /= total;
    last_normalised = w;
    last_log.clear();  // computed when first needed
  }

  out->weights = std::move(w);
  out->log_weights.clear();
  // A 1-D continuous mixture is scored by LogPdf's windowed sum, which needs
  // each kernel's log weight; all parameters of a side share the weights, so
  // their logs are taken once (and permuted with the kernels below).
  const bool one_continuous_dim =
      dims.size() == 1 && ModelDomain::For(dims[0], options.log_int_as_continuous).type ==
                              ModelDomain::Type::kContinuous;
  if (one_continuous_dim) {
    if (last_log.empty()) {
      last_log.resize(last_normalised.size());
      for (size_t k = 0; k < last_log.size(); ++k) last_log[k] = std::log(last_normalised[k]);
    }
    out->log_weights = last_log;
  }
  out->omit_log_sigma = options.omit_log_sigma;
  // Observation indices by ascending model value (1-D numeric spaces only).
  std::vector<int> sorted_obs;
  out->dims.clear();
  out->dims.reserve(dims.size());
  for (size_t d = 0; d < dims.size(); ++d) {
    MixtureDim dim;
    dim.domain = ModelDomain::For(dims[d], options.log_int_as_continuous);
    const ModelDomain& dom = dim.domain;
    const std::vector<double>& obs = observations.empty() ? std::vector<double>() : observations[d];
    if (dom.type == ModelDomain::Type::kCategorical && dims.size() == 1 &&
        options.merge_identical_kernels && n_obs > 0) {
      // 1-D and merging: build the merged mixture directly, one kernel per
      // observed choice (weights summed) plus the prior, instead of n rows.
      const int c_count = dom.num_choices;
      const double base = options.prior_weight / n_kernels;
      std::vector<double> weight_of_choice(c_count, 0.0);
      std::vector<int> first_seen(c_count, -1);
      std::vector<int> choices;
      for (int j = 0; j < n_obs; ++j) {
        const int c = static_cast<int>(obs[j]);
        if (first_seen[c] < 0) {
          first_seen[c] = j;
          choices.push_back(c);
        }
        weight_of_choice[c] += out->weights[j];
      }
      std::vector<double> merged_w;
      for (int c : choices) {
        merged_w.push_back(weight_of_choice[c]);
        for (int x = 0; x < c_count; ++x) dim.probs.push_back((base + (x == c ? 1 : 0)) / (1 + c_count * base));
      }
      if (use_prior) {
        merged_w.push_back(out->weights.back());
        for (int x = 0; x < c_count; ++x) dim.probs.push_back(1.0 / c_count);
      }
      out->weights = std::move(merged_w);
      out->dims.push_back(std::move(dim));
      return Status::OK();
    }
    if (dom.type == ModelDomain::Type::kCategorical) {
      // Each observation's row: prior_weight / n_kernels everywhere, +1 at the
      // observed choice, normalised; the prior row is uniform.
      const int c_count = dom.num_choices;
      dim.probs.assign(static_cast<size_t>(n_kernels) * c_count, 0);
      const double base = n_obs == 0 ? 1.0 : options.prior_weight / n_kernels;
      // Observations of the same choice get the same row: each distinct row
      // is computed (its divisions done) once and copied after.
      std::vector<int> row_of_choice(c_count, -1);
      for (int k = 0; k < n_kernels; ++k) {
        double* row = &dim.probs[static_cast<size_t>(k) * c_count];
        const int choice = k < n_obs ? static_cast<int>(obs[k]) : -1;
        if (choice >= 0 && row_of_choice[choice] >= 0) {
          const double* same = &dim.probs[static_cast<size_t>(row_of_choice[choice]) * c_count];
          std::copy(same, same + c_count, row);
          continue;
        }
        for (int c = 0; c < c_count; ++c) row[c] = base;
        if (choice >= 0) {
          row[choice] += 1;
          row_of_choice[choice] = k;
        }
        double sum = std::accumulate(row, row + c_count, 0.0);
        for (int c = 0; c < c_count; ++c) row[c] /= sum;
      }
      out->dims.push_back(std::move(dim));
      continue;
    }
    // Room for the prior's kernel up front: appending it to a full vector
    // would copy the whole vector.
    std::vector<double> mus;
    mus.reserve(n_obs + 1);
    mus.resize(n_obs);
    for (int j = 0; j < n_obs; ++j) mus[j] = dom.ToModel(obs[j]);
    sorted_obs.clear();
    const double range = dom.high - dom.low;
    std::vector<double> sigmas;
    sigmas.reserve(n_obs + 1);
    if (options.multivariate && !options.neighbor_bandwidth) {
      const double sigma = 0.2 * std::pow(std::max(n_obs, 1), -1.0 / (dims.size() + 4)) * range;
      sigmas.assign(n_obs, sigma);
    } else {
      // The prior mean joins as a neighbour at the end (index n_obs), where
      // the prior kernel goes anyway; it is taken off again below.
      const bool prior_neighbour = options.prior_as_neighbor && use_prior;
      if (prior_neighbour) mus.push_back(0.5 * (dom.low + dom.high));
      std::vector<size_t> order;
      sigmas = NeighborSigmas(mus, dom.low, dom.high, options.consider_endpoints, &order);
      if (prior_neighbour) mus.pop_back();
      sigmas.resize(n_obs);
      sorted_obs.reserve(n_obs);
      for (size_t i : order) {
        if (static_cast<int>(i) < n_obs) sorted_obs.push_back(static_cast<int>(i));
      }
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
  // 1-D numeric kernels are emitted sorted by mean (any order gives the same
  // mixture): the windowed density sum needs them sorted. The neighbour rule
  // sorted them already; the Scott rule did not.
  if (out->dims.size() == 1 && out->dims[0].domain.type != ModelDomain::Type::kCategorical &&
      n_obs > 1) {
    MixtureDim& dim = out->dims[0];
    if (static_cast<int>(sorted_obs.size()) != n_obs) {
      std::vector<std::pair<double, int>> by_mu(n_obs);
      for (int j = 0; j < n_obs; ++j) by_mu[j] = {dim.mu[j], j};
      std::sort(by_mu.begin(), by_mu.end());
      sorted_obs.clear();
      for (const auto& [mu, j] : by_mu) sorted_obs.push_back(j);
    }
    std::vector<double> mu(dim.mu), sigma(dim.sigma), w(out->weights), log_w(out->log_weights);
    const bool has_log = !log_w.empty();
    for (int j = 0; j < n_obs; ++j) {
      dim.mu[j] = mu[sorted_obs[j]];
      dim.sigma[j] = sigma[sorted_obs[j]];
      out->weights[j] = w[sorted_obs[j]];
      if (has_log) out->log_weights[j] = log_w[sorted_obs[j]];
    }
  }
  // Continuous values practically never repeat; everything else does.
  bool all_discrete = true;
  for (const MixtureDim& dim : out->dims) {
    all_discrete = all_discrete && dim.domain.type != ModelDomain::Type::kContinuous;
  }
  if (options.merge_identical_kernels && all_discrete && n_kernels > 1) {
    if (out->dims.size() == 1) {
      MergeAdjacentIdenticalKernels(out);  // sorted: equal kernels are mostly adjacent
    } else {
      MergeIdenticalKernels(out);
    }
  }
  return Status::OK();
}

}  // namespace tpe
}  // namespace peftsearch
