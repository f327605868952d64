#include "tests/bench/tpe_problems.h"

#include <cmath>

namespace peftsearch {
namespace bench {
namespace {

using tpe::DistributionKind;
using tpe::ParamSpec;
using tpe::ParamValues;

ParamSpec Num(std::string name, DistributionKind kind, double low, double high, bool log = false,
              double step = 0) {
  ParamSpec p;
  p.name = std::move(name);
  p.distribution.kind = kind;
  p.distribution.low = low;
  p.distribution.high = high;
  p.distribution.log = log;
  p.distribution.step = step;
  return p;
}

ParamSpec Cat(std::string name, int n) {
  ParamSpec p;
  p.name = std::move(name);
  p.distribution.kind = DistributionKind::kCategorical;
  p.distribution.num_choices = n;
  return p;
}

ParamSpec When(ParamSpec p, std::string parent, std::vector<double> values) {
  p.condition = tpe::Condition{std::move(parent), std::move(values)};
  return p;
}

Problem Box(std::string name, int dims, double low, double high,
            std::function<double(const std::vector<double>&)> f, double optimum) {
  Problem p;
  p.name = std::move(name);
  for (int d = 0; d < dims; ++d) {
    p.space.params.push_back(Num("x" + std::to_string(d), DistributionKind::kFloat, low, high));
  }
  p.objective = [dims, f](const ParamValues& v) {
    std::vector<double> x(dims);
    for (int d = 0; d < dims; ++d) x[d] = v.at("x" + std::to_string(d));
    return f(x);
  };
  p.optimum = optimum;
  return p;
}

Problem Branin() {
  Problem p;
  p.name = "branin";
  p.space.params = {Num("x0", DistributionKind::kFloat, -5, 10), Num("x1", DistributionKind::kFloat, 0, 15)};
  p.objective = [](const ParamValues& v) {
    const double x1 = v.at("x0"), x2 = v.at("x1");
    const double b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, t = 1 / (8 * M_PI);
    return std::pow(x2 - b * x1 * x1 + c * x1 - 6, 2) + 10 * (1 - t) * std::cos(x1) + 10;
  };
  p.optimum = 0.39788735772973816;
  return p;
}

double Hartmann6(const std::vector<double>& x) {
  static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
  static const double a[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                 {0.05, 10, 17, 0.1, 8, 14},
                                 {3, 3.5, 1.7, 10, 17, 8},
                                 {17, 8, 0.05, 10, 0.1, 14}};
  static const double p[4][6] = {{1312, 1696, 5569, 124, 8283, 5886},
                                 {2329, 4135, 8307, 3736, 1004, 9991},
                                 {2348, 1451, 3522, 2883, 3047, 6650},
                                 {4047, 8828, 8732, 5743, 1091, 381}};
  double f = 0;
  for (int i = 0; i < 4; ++i) {
    double s = 0;
    for (int j = 0; j < 6; ++j) s += a[i][j] * std::pow(x[j] - 1e-4 * p[i][j], 2);
    f -= alpha[i] * std::exp(-s);
  }
  return f;
}

double Rosenbrock(const std::vector<double>& x) {
  double f = 0;
  for (size_t i = 0; i + 1 < x.size(); ++i) {
    f += 100 * std::pow(x[i + 1] - x[i] * x[i], 2) + std::pow(1 - x[i], 2);
  }
  return f;
}

double StyblinskiTang(const std::vector<double>& x) {
  double f = 0;
  for (double xi : x) f += xi * xi * xi * xi - 16 * xi * xi + 5 * xi;
  return 0.5 * f;
}

// cond_mlp of tpe_optuna.md section 3.3 B.4, exactly: an optimiser choice
// with conditional hyperparameters, a layer count with one width per active
// layer (int, log), a stepped dropout. f* = 0.
Problem CondMlp() {
  using K = DistributionKind;
  Problem p;
  p.name = "cond_mlp";
  p.space.params = {Cat("opt", 3),
                    Num("lr", K::kFloat, 1e-5, 1, true),
                    When(Num("momentum", K::kFloat, 0, 0.99), "opt", {0}),
                    When(Num("beta1", K::kFloat, 0.8, 0.999), "opt", {1}),
                    Num("n_layers", K::kInt, 1, 4),
                    Num("units_1", K::kInt, 8, 1024, true),
                    When(Num("units_2", K::kInt, 8, 1024, true), "n_layers", {2, 3, 4}),
                    When(Num("units_3", K::kInt, 8, 1024, true), "n_layers", {3, 4}),
                    When(Num("units_4", K::kInt, 8, 1024, true), "n_layers", {4}),
                    Num("dropout", K::kFloat, 0, 0.5, false, 0.05)};
  p.objective = [](const ParamValues& v) {
    static const double base[3] = {0.3, 0, 0.1};
    static const double best_lr[3] = {-1, -3, -2.5};
    const int opt = static_cast<int>(v.at("opt"));
    double f = base[opt] + 0.5 * std::pow(std::log10(v.at("lr")) - best_lr[opt], 2);
    if (opt == 0) f += std::pow(v.at("momentum") - 0.9, 2);
    if (opt == 1) f += 10 * std::pow(v.at("beta1") - 0.9, 2);
    const int n = static_cast<int>(v.at("n_layers"));
    f += 0.1 * std::abs(n - 3);
    for (int i = 1; i <= n; ++i) {
      f += std::pow(std::log2(v.at("units_" + std::to_string(i))) - (8 - i), 2) / (10.0 * n);
    }
    f += std::pow(v.at("dropout") - 0.2, 2);
    return f;
  };
  p.optimum = 0;
  return p;
}

// A surrogate of MambaPEFT's step 1 (which of 20 PEFT methods to combine):
// each method adds its own accuracy gain, some pairs are redundant or
// synergistic, and crowding costs 0.05 k^2 for k methods. The numbers are
// made up but shaped like the paper's Table 3 (gains of 0-2 points, LoRA
// variants on the same projection redundant). f = -accuracy; f* is found by
// enumerating all 2^20 combinations.
constexpr int kPeft = 20;
const char* const kPeftNames[kPeft] = {
    "cls", "bias", "pos_embed", "d", "a", "conv1d", "prompt", "affix", "add_scan", "par_adapter",
    "lora_embed", "lora_xproj", "lora_dtproj", "lora_outproj", "lora_inproj", "lorap_d",
    "lorap_b", "lorap_c", "lorap_x", "lorap_z"};
const double kPeftGain[kPeft] = {0.3, 0.8, 0.5, 0.9, 1.2, 0.6, -0.4, 1.5, 1.0, 1.4,
                                 -0.2, 1.1, 0.4, 0.7, 1.3, 0.2, 0.5, 0.3, 1.6, 0.9};
struct Pair {
  int i, j;
  double gain;
};
const Pair kPeftPairs[] = {{11, 18, -1.2}, {14, 19, -1.0}, {6, 7, -0.8}, {4, 8, 0.6},
                           {9, 13, -0.9},  {3, 4, 0.4},    {5, 18, 0.5}, {0, 1, 0.2},
                           {7, 9, -0.7},   {12, 15, 0.3}};

double PeftAccuracy(const bool* on) {
  double acc = 60;
  int k = 0;
  for (int i = 0; i < kPeft; ++i) {
    if (on[i]) {
      acc += kPeftGain[i];
      ++k;
    }
  }
  for (const Pair& p : kPeftPairs) {
    if (on[p.i] && on[p.j]) acc += p.gain;
  }
  return acc - 0.05 * k * k;
}

Problem Peft20() {
  Problem p;
  p.name = "peft20";
  for (int i = 0; i < kPeft; ++i) p.space.params.push_back(Cat(kPeftNames[i], 2));
  p.objective = [](const ParamValues& v) {
    bool on[kPeft];
    for (int i = 0; i < kPeft; ++i) on[i] = v.at(kPeftNames[i]) == 1;
    return -PeftAccuracy(on);
  };
  double best = -1e300;
  for (unsigned mask = 0; mask < (1u << kPeft); ++mask) {
    bool on[kPeft];
    for (int i = 0; i < kPeft; ++i) on[i] = (mask >> i) & 1;
    best = std::max(best, PeftAccuracy(on));
  }
  p.optimum = -best;
  return p;
}

}  // namespace

std::vector<Problem> AllProblems() {
  return {Branin(),
          Box("hartmann6", 6, 0, 1, Hartmann6, -3.3223680114155147),
          Box("rosenbrock5", 5, -5, 10, Rosenbrock, 0),
          Box("styblinski10", 10, -5, 5, StyblinskiTang, -39.16616570377142 * 10),
          CondMlp(),
          Peft20()};
}

}  // namespace bench
}  // namespace peftsearch
