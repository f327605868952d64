#include "tpe/mixture.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tpe/fast_exp.h"
#include "tpe/truncnorm.h"

namespace peftsearch {
namespace tpe {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kHalfLog2Pi = 0.91893853320467274178;

}  // namespace

ModelDomain ModelDomain::For(const Distribution& d, bool log_int_as_continuous) {
  ModelDomain m;
  m.dist = d;
  if (d.kind == DistributionKind::kCategorical) {
    m.type = Type::kCategorical;
    m.num_choices = d.num_choices;
    return m;
  }
  m.step = EffectiveStep(d);
  if (log_int_as_continuous && d.kind == DistributionKind::kInt && d.log) {
    m.type = Type::kContinuous;
    m.low = std::log(d.low - m.step / 2);
    m.high = std::log(GridValue(d, NumGridPoints(d) - 1) + m.step / 2);
    return m;  // FromModel snaps exp(m) to the integer grid
  }
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

namespace {

// log sum_k exp(row[k]), -inf if every term is -inf.
// Four independent accumulators let the compiler keep several exps in
// flight (and vectorise); the sum order is fixed, so results do not depend
// on the machine.
double LogSumExp(const double* row, int n) {
  double m0 = -kInf, m1 = -kInf;
  int k = 0;
  for (; k + 1 < n; k += 2) {
    m0 = row[k] > m0 ? row[k] : m0;
    m1 = row[k + 1] > m1 ? row[k + 1] : m1;
  }
  if (k < n) m0 = row[k] > m0 ? row[k] : m0;
  const double m = m0 > m1 ? m0 : m1;
  if (m == -kInf) return -kInf;
  double s[4] = {0, 0, 0, 0};
  k = 0;
#if defined(__SSE2__) && defined(__x86_64__)
  // The same four sums, two lanes each: bit-identical to the loop below.
  {
    const __m128d mm = _mm_set1_pd(m);
    __m128d s01 = _mm_setzero_pd(), s23 = _mm_setzero_pd();
    for (; k + 3 < n; k += 4) {
      s01 = _mm_add_pd(s01, ExpNonPositive2(_mm_sub_pd(_mm_loadu_pd(row + k), mm)));
      s23 = _mm_add_pd(s23, ExpNonPositive2(_mm_sub_pd(_mm_loadu_pd(row + k + 2), mm)));
    }
    _mm_storeu_pd(s, s01);
    _mm_storeu_pd(s + 2, s23);
  }
#endif
  for (; k + 3 < n; k += 4) {
    s[0] += ExpNonPositive(row[k] - m);
    s[1] += ExpNonPositive(row[k + 1] - m);
    s[2] += ExpNonPositive(row[k + 2] - m);
    s[3] += ExpNonPositive(row[k + 3] - m);
  }
  for (; k < n; ++k) s[0] += ExpNonPositive(row[k] - m);
  return m + std::log((s[0] + s[1]) + (s[2] + s[3]));
}

// A kernel whose upper bound is this far below an exact term of the same
// point adds < e^-50 relative per kernel: skipped, it changes nothing a
// double can show (K <= 1e6 kernels).
constexpr double kNegligible = 50.0;

// One continuous dimension (univariate TPE, the default) with many kernels:
// only kernels near the point can matter. Kernels are split into "wide"
// (sigma above the 90th percentile, the prior among them), always summed,
// and "narrow", sorted by mean. A narrow kernel farther than cap * W from x
// (cap: the largest narrow sigma) has a term below base_max - W^2/2; W is
// chosen so that this is below anchor - kNegligible, anchor being an exact
// term of the same point. So the skipped kernels change nothing a double
// shows, and the result equals the full sum.
void LogPdf1dContinuous(const Mixture& mix, const std::vector<double>& xs, std::vector<double>* out) {
  const MixtureDim& dim = mix.dims[0];
  const ModelDomain& dom = dim.domain;
  const int k_count = mix.num_kernels();
  std::vector<double> base(k_count), inv(k_count);
  const bool have_log_weights = mix.log_weights.size() == mix.weights.size();
  for (int k = 0; k < k_count; ++k) {
    inv[k] = 1 / dim.sigma[k];
    base[k] = (have_log_weights ? mix.log_weights[k] : std::log(mix.weights[k])) - (mix.omit_log_sigma ? 0.0 : std::log(dim.sigma[k])) - kHalfLog2Pi -
              LogGaussMass((dom.low - dim.mu[k]) * inv[k], (dom.high - dim.mu[k]) * inv[k]);
  }
  std::vector<double> sorted_sigma(dim.sigma);
  const size_t q = sorted_sigma.size() * 9 / 10;
  std::nth_element(sorted_sigma.begin(), sorted_sigma.begin() + q, sorted_sigma.end());
  const double cap = sorted_sigma[q];
  std::vector<std::pair<double, int>> narrow_sorted;
  std::vector<int> wide;
  for (int k = 0; k < k_count; ++k) {
    if (dim.sigma[k] <= cap) {
      narrow_sorted.push_back({dim.mu[k], k});
    } else {
      wide.push_back(k);
    }
  }
  // The estimator emits 1-D kernels sorted by mean; sort only if not.
  if (!std::is_sorted(narrow_sorted.begin(), narrow_sorted.end())) {
    std::sort(narrow_sorted.begin(), narrow_sorted.end());
  }
  const size_t nn = narrow_sorted.size();
  std::vector<double> nmu(nn), ninv(nn), nbase(nn);
  double base_max = -kInf;
  for (size_t j = 0; j < nn; ++j) {
    const int k = narrow_sorted[j].second;
    nmu[j] = dim.mu[k];
    ninv[j] = inv[k];
    nbase[j] = base[k];
    base_max = std::max(base_max, base[k]);
  }
  // Written by index, not push_back: GCC stopped inlining push_back here
  // once this file grew, and the call per term cost ~6% of a suggestion.
  std::vector<double> terms(k_count);
  for (size_t i = 0; i < xs.size(); ++i) {
    const double x = dom.ToModel(xs[i]);
    if (!(x >= dom.low && x <= dom.high)) {
      (*out)[i] = -kInf;
      continue;
    }
    size_t n_terms = 0;
    double anchor = -kInf;
    for (int k : wide) {
      const double z = (x - dim.mu[k]) * inv[k];
      terms[n_terms] = base[k] - 0.5 * z * z;
      anchor = std::max(anchor, terms[n_terms++]);
    }
    const size_t pos = std::lower_bound(nmu.begin(), nmu.end(), x) - nmu.begin();
    for (size_t j : {pos, pos - 1}) {
      if (j < nn) {
        const double z = (x - nmu[j]) * ninv[j];
        anchor = std::max(anchor, nbase[j] - 0.5 * z * z);
      }
    }
    size_t lo = 0, hi = nn;
    if (anchor > -kInf) {
      const double w2 = 2 * std::max(0.0, base_max - anchor + kNegligible);
      const double half = cap * std::sqrt(w2);
      lo = std::lower_bound(nmu.begin(), nmu.end(), x - half) - nmu.begin();
      hi = std::upper_bound(nmu.begin(), nmu.end(), x + half) - nmu.begin();
    }
    for (size_t j = lo; j < hi; ++j) {
      const double z = (x - nmu[j]) * ninv[j];
      terms[n_terms++] = nbase[j] - 0.5 * z * z;
    }
    (*out)[i] = LogSumExp(terms.data(), static_cast<int>(n_terms));
  }
}

}  // namespace

void Mixture::LogPdf(const std::vector<std::vector<double>>& points,
                     std::vector<double>* out) const {
  const int k_count = num_kernels();
  const size_t n = points.empty() ? 0 : points[0].size();
  out->assign(n, -kInf);
  if (k_count == 0) return;
  if (dims.size() == 1 && dims[0].domain.type == ModelDomain::Type::kContinuous && k_count >= 64) {
    LogPdf1dContinuous(*this, points[0], out);
    return;
  }
  // Candidates drawn from a discrete or categorical l(x) repeat values; each
  // distinct point is scored once.
  bool any_discrete = false;
  for (const MixtureDim& dim : dims) any_discrete |= dim.domain.type != ModelDomain::Type::kContinuous;
  if (any_discrete && n > 1) {
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    auto less = [&](size_t a, size_t b) {
      for (const std::vector<double>& col : points) {
        if (col[a] != col[b]) return col[a] < col[b];
      }
      return a < b;
    };
    auto same = [&](size_t a, size_t b) {
      for (const std::vector<double>& col : points) {
        if (col[a] != col[b]) return false;
      }
      return true;
    };
    std::sort(order.begin(), order.end(), less);
    std::vector<std::vector<double>> unique(dims.size());
    std::vector<size_t> slot(n);
    for (size_t j = 0; j < n; ++j) {
      if (j == 0 || !same(order[j], order[j - 1])) {
        for (size_t d = 0; d < dims.size(); ++d) unique[d].push_back(points[d][order[j]]);
      }
      slot[order[j]] = unique[0].size() - 1;
    }
    if (unique[0].size() < n) {
      std::vector<double> unique_out;
      LogPdfDistinct(unique, &unique_out);
      for (size_t i = 0; i < n; ++i) (*out)[i] = unique_out[slot[i]];
      return;
    }
  }
  LogPdfDistinct(points, out);
}

namespace {

// Scratch buffers of LogPdfDistinct (see there), lent from a pool.
struct LogPdfWorkspace {
  struct DimConsts {
    std::vector<double> inv_sigma;  // numeric
    // Discrete: kernels sharing (mu, sigma) in this dimension share their
    // cell masses; many do (observations repeat grid values, and the Scott
    // bandwidth gives every observation the same sigma).
    std::vector<int> kernel_class;
    std::vector<int> class_rep;  // a kernel of each class
    int num_classes = 0;
    std::vector<std::vector<double>> log_probs;  // categorical: per choice, per kernel (lazy)
  };
  // base: each kernel's log weight plus every term of its log density that
  // does not depend on the point (-log sigma - log(2 pi)/2 per continuous
  // dimension, -log of its mass over the domain per numeric dimension).
  std::vector<double> base, domain_mass, class_mass_of_domain, row, bound;
  std::vector<DimConsts> consts;
  std::vector<std::vector<double>> class_mass;
  std::vector<int> kept_kernels, todo;
  std::vector<std::pair<std::pair<double, double>, int>> by_kernel;
};

// A process-wide pool of workspaces rather than one per thread: the
// controller samples on whichever of its (up to hundreds of) gRPC handler
// threads finished a trial, and a per-thread set would keep ~1 MB (1,000
// trials) to ~10 MB (10,000) alive for every thread that ever sampled. The
// pool holds at most a few per core; a lease costs one uncontended lock.
class WorkspaceLease {
 public:
  WorkspaceLease() {
    std::lock_guard<std::mutex> lock(Mu());
    auto& pool = Pool();
    if (pool.empty()) {
      ws_ = std::make_unique<LogPdfWorkspace>();
    } else {
      ws_ = std::move(pool.back());
      pool.pop_back();
    }
  }
  ~WorkspaceLease() {
    std::lock_guard<std::mutex> lock(Mu());
    auto& pool = Pool();
    if (pool.size() < MaxPooled()) pool.push_back(std::move(ws_));
  }
  WorkspaceLease(const WorkspaceLease&) = delete;
  WorkspaceLease& operator=(const WorkspaceLease&) = delete;

  LogPdfWorkspace& operator*() { return *ws_; }

 private:
  static std::mutex& Mu() {
    static std::mutex* mu = new std::mutex;
    return *mu;
  }
  static std::vector<std::unique_ptr<LogPdfWorkspace>>& Pool() {
    static auto* pool = new std::vector<std::unique_ptr<LogPdfWorkspace>>;
    return *pool;
  }
  static size_t MaxPooled() {
    static const size_t n = 2 * std::max(1u, std::thread::hardware_concurrency());
    return n;
  }

  std::unique_ptr<LogPdfWorkspace> ws_;
};

// Up to four continuous dimensions of one point: its coordinates and the
// kernels' means and inverse widths.
struct ContinuousGroup {
  double x[4];
  const double* mu[4];
  const double* inv[4];
};

// dst[k] = src[k] - sum_j 0.5 z_j^2, z_j = (x_j - mu_j[k]) inv_j[k], the
// terms subtracted one by one in order j = 0..N-1. dst may be src.
template <int N>
void SubtractHalfSquares(const ContinuousGroup& g, const double* src, double* dst, int k_count) {
  auto term = [&](int k, double r) {
    for (int j = 0; j < N; ++j) {
      const double z = (g.x[j] - g.mu[j][k]) * g.inv[j][k];
      r -= 0.5 * z * z;
    }
    return r;
  };
  // In place as its own loop: GCC's run-time overlap check would otherwise
  // send src == dst to the scalar version.
  if (src == dst) {
    for (int k = 0; k < k_count; ++k) dst[k] = term(k, dst[k]);
  } else {
    for (int k = 0; k < k_count; ++k) dst[k] = term(k, src[k]);
  }
}

}  // namespace

void Mixture::LogPdfDistinct(const std::vector<std::vector<double>>& points,
                             std::vector<double>* out) const {
  const int k_count = num_kernels();
  const size_t n = points.empty() ? 0 : points[0].size();
  out->assign(n, -kInf);

  // Per-kernel constants, computed once for all points. The buffers are
  // pooled and reused: at 1,000 trials a multivariate suggestion needs ~1 MB
  // of them, and glibc hands a freed heap top back to the OS, so fresh
  // vectors meant page faults (15 % of the time) on every call.
  WorkspaceLease lease;
  LogPdfWorkspace& ws = *lease;
  std::vector<double>& base = ws.base;
  base.resize(k_count);
  // Runs of equal inputs are common (the newest 25 weights, one Scott width
  // for all kernels, identical categorical rows): each log is taken once per
  // run.
  for (int k = 0; k < k_count; ++k) {
    base[k] = k > 0 && weights[k] == weights[k - 1] ? base[k - 1] : std::log(weights[k]);
  }
  // A kernel's masses over the domain, one per numeric dimension, are
  // multiplied and the product's log taken once per kernel (instead of one
  // log1p per kernel and dimension). A kernel's mean lies in the domain, so
  // each mass is Phi(b) - Phi(a) with a <= 0 <= b (GaussMassCentral), at
  // least ~0.3 unless the kernel is far wider than the domain; the product
  // is folded into `base` before it could underflow.
  std::vector<double>& domain_mass = ws.domain_mass;
  domain_mass.assign(k_count, 1.0);
  constexpr double kFoldBelow = 1e-250;
  auto fold_mass = [&](int k, double a, double b) {
    if (a <= 0 && b >= 0) {
      domain_mass[k] *= GaussMassCentral(a, b);
      if (domain_mass[k] < kFoldBelow) {
        base[k] -= std::log(domain_mass[k]);
        domain_mass[k] = 1.0;
      }
    } else {
      base[k] -= LogGaussMassFast(a, b);
    }
  };
  if (ws.consts.size() < dims.size()) ws.consts.resize(dims.size());
  std::vector<LogPdfWorkspace::DimConsts>& consts = ws.consts;
  std::vector<size_t> continuous, discrete, categorical;
  for (size_t d = 0; d < dims.size(); ++d) {
    const MixtureDim& dim = dims[d];
    const ModelDomain& dom = dim.domain;
    LogPdfWorkspace::DimConsts& c = consts[d];
    c.num_classes = 0;
    if (dom.type == ModelDomain::Type::kCategorical) {
      categorical.push_back(d);
      c.log_probs.resize(dom.num_choices);
      for (std::vector<double>& lp : c.log_probs) lp.clear();  // empty = not computed yet
      continue;
    }
    c.inv_sigma.resize(k_count);
    for (int k = 0; k < k_count; ++k) c.inv_sigma[k] = 1 / dim.sigma[k];
    if (dom.type == ModelDomain::Type::kContinuous) {
      continuous.push_back(d);
      double log_sigma = 0;
      for (int k = 0; k < k_count; ++k) {
        if (!omit_log_sigma) {
          log_sigma = k > 0 && dim.sigma[k] == dim.sigma[k - 1] ? log_sigma : std::log(dim.sigma[k]);
        }
        base[k] -= log_sigma + kHalfLog2Pi;
      }
      int k = 0;
#if defined(__SSE2__) && defined(__x86_64__)
      // Two kernels at a time (the bulk of the fit at 1,000 trials); the
      // same operations as the scalar loop, so the same bits.
      const __m128d low = _mm_set1_pd(dom.low), high = _mm_set1_pd(dom.high);
      for (; k + 1 < k_count; k += 2) {
        const __m128d mu = _mm_loadu_pd(&dim.mu[k]), inv = _mm_loadu_pd(&c.inv_sigma[k]);
        const __m128d a = _mm_mul_pd(_mm_sub_pd(low, mu), inv);
        const __m128d b = _mm_mul_pd(_mm_sub_pd(high, mu), inv);
        const __m128d zero = _mm_setzero_pd();
        if (_mm_movemask_pd(_mm_and_pd(_mm_cmple_pd(a, zero), _mm_cmpge_pd(b, zero))) != 3) {
          double av[2], bv[2];
          _mm_storeu_pd(av, a);
          _mm_storeu_pd(bv, b);
          fold_mass(k, av[0], bv[0]);
          fold_mass(k + 1, av[1], bv[1]);
          continue;
        }
        double m[2];
        _mm_storeu_pd(m, GaussMassCentral2(a, b));
        for (int l = 0; l < 2; ++l) {
          domain_mass[k + l] *= m[l];
          if (domain_mass[k + l] < kFoldBelow) {
            base[k + l] -= std::log(domain_mass[k + l]);
            domain_mass[k + l] = 1.0;
          }
        }
      }
#endif
      for (; k < k_count; ++k) {
        fold_mass(k, (dom.low - dim.mu[k]) * c.inv_sigma[k], (dom.high - dim.mu[k]) * c.inv_sigma[k]);
      }
    } else {
      discrete.push_back(d);
      std::vector<std::pair<std::pair<double, double>, int>>& by_kernel = ws.by_kernel;
      by_kernel.resize(k_count);
      for (int k = 0; k < k_count; ++k) by_kernel[k] = {{dim.mu[k], dim.sigma[k]}, k};
      std::sort(by_kernel.begin(), by_kernel.end());
      c.kernel_class.resize(k_count);
      c.class_rep.clear();
      // The domain mass is a function of (mu, sigma): once per class.
      std::vector<double>& class_norm = ws.class_mass_of_domain;
      class_norm.clear();
      for (int i = 0; i < k_count; ++i) {
        const int k = by_kernel[i].second;
        if (i == 0 || by_kernel[i].first != by_kernel[i - 1].first) {
          ++c.num_classes;
          c.class_rep.push_back(k);
          const double a = (dom.low - dim.mu[k]) * c.inv_sigma[k];
          const double b = (dom.high - dim.mu[k]) * c.inv_sigma[k];
          // Central masses are multiplied in; others (NaN marks them) folded as logs.
          class_norm.push_back(a <= 0 && b >= 0 ? GaussMassCentral(a, b) : std::nan(""));
        }
        c.kernel_class[k] = c.num_classes - 1;
      }
      for (int k = 0; k < k_count; ++k) {
        const double m = class_norm[c.kernel_class[k]];
        if (std::isnan(m)) {
          base[k] -= LogGaussMassFast((dom.low - dim.mu[k]) * c.inv_sigma[k],
                                      (dom.high - dim.mu[k]) * c.inv_sigma[k]);
          continue;
        }
        domain_mass[k] *= m;
        if (domain_mass[k] < kFoldBelow) {
          base[k] -= std::log(domain_mass[k]);
          domain_mass[k] = 1.0;
        }
      }
    }
  }
  for (int k = 0; k < k_count; ++k) {
    if (domain_mass[k] != 1.0) base[k] -= std::log(domain_mass[k]);
  }

  std::vector<double>& row = ws.row;
  std::vector<double>& bound = ws.bound;
  row.resize(k_count);
  bound.resize(k_count);
  std::vector<std::pair<double, double>> cell(discrete.size());
  std::vector<int>& kept_kernels = ws.kept_kernels;
  kept_kernels.resize(k_count);
  if (ws.class_mass.size() < discrete.size()) ws.class_mass.resize(discrete.size());
  std::vector<std::vector<double>>& class_mass = ws.class_mass;
  constexpr double kNotYet = 1.0;  // log masses are <= 0, so 1 marks "not computed"
  for (size_t i = 0; i < n; ++i) {
    // Exact and cheap: weights, continuous and categorical dimensions.
    bool outside = false;
    // Up to four dimensions per pass over the kernels (same operations in
    // the same order as one pass per dimension, less traffic on `row`).
    const double* src = base.data();
    for (size_t c0 = 0; c0 < continuous.size() || src == base.data(); c0 += 4) {
      const size_t group = std::min<size_t>(4, continuous.size() - c0);
      ContinuousGroup g;
      for (size_t j = 0; j < group; ++j) {
        const size_t d = continuous[c0 + j];
        const double x = dims[d].domain.ToModel(points[d][i]);
        if (!(x >= dims[d].domain.low && x <= dims[d].domain.high)) outside = true;
        g.x[j] = x;
        g.mu[j] = dims[d].mu.data();
        g.inv[j] = consts[d].inv_sigma.data();
      }
      switch (group) {
        case 0: std::copy(src, src + k_count, row.data()); break;
        case 1: SubtractHalfSquares<1>(g, src, row.data(), k_count); break;
        case 2: SubtractHalfSquares<2>(g, src, row.data(), k_count); break;
        case 3: SubtractHalfSquares<3>(g, src, row.data(), k_count); break;
        default: SubtractHalfSquares<4>(g, src, row.data(), k_count); break;
      }
      src = row.data();
    }
    if (outside) continue;  // density 0 outside the domain
    for (size_t d : categorical) {
      const MixtureDim& dim = dims[d];
      const int choice = static_cast<int>(points[d][i]);
      std::vector<double>& lp = consts[d].log_probs[choice];
      if (lp.empty()) {
        lp.resize(k_count);
        const size_t stride = dim.domain.num_choices;
        const double* col = &dim.probs[choice];
        // A column holds few distinct values (an observation's row is
        // `base` except at its own choice; the prior's is uniform) that
        // alternate from kernel to kernel: each pass takes the log of the
        // first value not done yet and stores it wherever the value recurs,
        // with a select rather than a branch. After a few passes, whatever
        // is left gets its own log.
        constexpr double kUnset = 1.0;  // log p <= 0
        std::fill(lp.begin(), lp.end(), kUnset);
        int next = 0;
        for (int pass = 0;; ++pass) {
          while (next < k_count && lp[next] != kUnset) ++next;
          if (next == k_count) break;
          if (pass == 4) {
            for (int k = next; k < k_count; ++k) {
              if (lp[k] == kUnset) lp[k] = std::log(col[k * stride]);
            }
            break;
          }
          const double v = col[next * stride], l = std::log(v);
          for (int k = next; k < k_count; ++k) lp[k] = col[k * stride] == v ? l : lp[k];
        }
      }
      for (int k = 0; k < k_count; ++k) row[k] += lp[k];
    }
    if (discrete.empty()) {
      (*out)[i] = LogSumExp(row.data(), k_count);
      continue;
    }
    // Discrete dimensions: the kernel's mass over the value's cell costs two
    // CDFs. Far kernels are bounded first (mass <= Phi(-d) <= e^{-d^2/2}/2
    // at z-distance d) and dropped when the bound cannot matter: their terms
    // are below an exact term by more than kNegligible, so the sum does not
    // see them (nor are they summed: the log-sum-exp runs over the kept
    // terms only, most of the kernels at 1,000 trials and more).
    for (size_t j = 0; j < discrete.size(); ++j) {
      const size_t d = discrete[j];
      double cell_lo, cell_hi;
      dims[d].domain.Cell(points[d][i], &cell_lo, &cell_hi);
      const double* mu = dims[d].mu.data();
      const double* inv = consts[d].inv_sigma.data();
      const double* src = j == 0 ? row.data() : bound.data();
      double* dst = bound.data();
      // Without the 1/2 of the tail bound (e^{-d^2/2} bounds the mass too),
      // the loop has no condition and GCC vectorises it (maxpd).
      for (int k = 0; k < k_count; ++k) {
        const double zlo = (cell_lo - mu[k]) * inv[k], zhi = (mu[k] - cell_hi) * inv[k];
        const double dist = std::max(zlo, 0.0) + std::max(zhi, 0.0);  // zlo <= -zhi: one is 0
        dst[k] = src[k] - 0.5 * dist * dist;
      }
      cell[j] = {cell_lo, cell_hi};
      // Per point, each (mu, sigma) class's cell mass is computed at most once.
      class_mass[j].assign(consts[d].num_classes, kNotYet);
    }
    auto exact = [&](int k) {
      double v = row[k];
      for (size_t j = 0; j < discrete.size(); ++j) {
        const size_t d = discrete[j];
        const LogPdfWorkspace::DimConsts& c = consts[d];
        double& mass = class_mass[j][c.kernel_class[k]];
        if (mass == kNotYet) {
          const double inv = c.inv_sigma[k], mu = dims[d].mu[k];
          mass = LogGaussMassFast((cell[j].first - mu) * inv, (cell[j].second - mu) * inv);
        }
        v += mass;
      }
      return v;
    };
    int k_best = 0;
    for (int k = 1; k < k_count; ++k) {
      if (bound[k] > bound[k_best]) k_best = k;
    }
    const double anchor = exact(k_best);
    const double threshold = anchor == -kInf ? -kInf : anchor - kNegligible;
    // Kept kernels, in order, without a branch per kernel.
    int kept = 0;
    for (int k = 0; k < k_count; ++k) {
      kept_kernels[kept] = k;
      kept += bound[k] >= threshold;
    }
    // The cell masses the kept kernels need, once per class, in pairs.
    constexpr double kPending = 2.0;
    for (size_t j = 0; j < discrete.size(); ++j) {
      const size_t d = discrete[j];
      const int* kernel_class = consts[d].kernel_class.data();
      double* mass = class_mass[j].data();
      // Mark the classes needed, then list one kernel of each marked class:
      // two passes without a branch (first sightings are unpredictable).
      // With no more classes than kept kernels, nearly every class is
      // needed anyway (93 of 101 for the int of tpe_speed): all are
      // computed, without the marking pass.
      const int num_classes = consts[d].num_classes;
      const bool all_classes = num_classes <= kept;
      if (!all_classes) {
        for (int t = 0; t < kept; ++t) {
          double& m = mass[kernel_class[kept_kernels[t]]];
          m = m == kNotYet ? kPending : m;
        }
      }
      const double wanted = all_classes ? kNotYet : kPending;
      std::vector<int>& todo = ws.todo;  // one kernel of each class to compute
      todo.resize(num_classes);
      const int* class_rep = consts[d].class_rep.data();
      int n_todo = 0;
      for (int c = 0; c < num_classes; ++c) {
        todo[n_todo] = class_rep[c];
        n_todo += mass[c] == wanted;
      }
      todo.resize(n_todo);
      const double lo = cell[j].first, hi = cell[j].second;
      const double* mu = dims[d].mu.data();
      const double* inv = consts[d].inv_sigma.data();
      size_t q = 0;
#if defined(__SSE2__) && defined(__x86_64__)
      for (; q + 1 < todo.size(); q += 2) {
        const int k0 = todo[q], k1 = todo[q + 1];
        const __m128d m = _mm_set_pd(mu[k1], mu[k0]), iv = _mm_set_pd(inv[k1], inv[k0]);
        double lm[2];
        LogGaussMassFast2(_mm_mul_pd(_mm_sub_pd(_mm_set1_pd(lo), m), iv),
                          _mm_mul_pd(_mm_sub_pd(_mm_set1_pd(hi), m), iv), lm);
        mass[kernel_class[k0]] = lm[0];
        mass[kernel_class[k1]] = lm[1];
      }
#endif
      for (; q < todo.size(); ++q) {
        const int k = todo[q];
        mass[kernel_class[k]] = LogGaussMassFast((lo - mu[k]) * inv[k], (hi - mu[k]) * inv[k]);
      }
    }
    constexpr size_t kMaxHoisted = 4;
    if (discrete.size() <= kMaxHoisted) {
      const int* kernel_class[kMaxHoisted];
      const double* mass[kMaxHoisted];
      for (size_t j = 0; j < discrete.size(); ++j) {
        kernel_class[j] = consts[discrete[j]].kernel_class.data();
        mass[j] = class_mass[j].data();
      }
      for (int t = 0; t < kept; ++t) {
        const int k = kept_kernels[t];
        double v = row[k];  // as exact(k)
        for (size_t j = 0; j < discrete.size(); ++j) v += mass[j][kernel_class[j][k]];
        bound[t] = k == k_best ? anchor : v;
      }
    } else {
      for (int t = 0; t < kept; ++t) {
        const int k = kept_kernels[t];
        double v = row[k];  // as exact(k)
        for (size_t j = 0; j < discrete.size(); ++j) {
          v += class_mass[j][consts[discrete[j]].kernel_class[k]];
        }
        bound[t] = k == k_best ? anchor : v;
      }
    }
    (*out)[i] = LogSumExp(bound.data(), kept);
  }
}

}  // namespace tpe
}  // namespace peftsearch
