// tpe_quality: best-so-far regret of the C++ TPE sampler (default options,
// with Optuna 4.9's kernel model, and multivariate) and of random search on the problems of tpe_problems.h,
// S seeds x T trials, sequential. Prints machine-readable lines for the
// driver (tpe_quality.py), which adds Optuna's TPE and the statistics:
//   CHECK <problem> <name>=<value>... f=<value>   (sample points, to check
//                                                   the Python objectives)
//   OPT <problem> <f*>
//   RUN <problem> <sampler> <seed> <regret@50> <regret@100> <regret@200> <seconds>
//   START <problem> <seed> <trial> <name>=<value>...  (the default C++ TPE's
//                                   random startup trials, internal values;
//                                   the driver can give Optuna the same ones)
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "tests/bench/tpe_problems.h"
#include "tpe/sampler.h"

namespace peftsearch {
namespace bench {
namespace {

using tpe::ParamValues;
using tpe::Trial;

const int kCheckpoints[] = {50, 100, 200};

// print_startup: print the first n_startup trials as START lines.
int RunOne(const Problem& problem, tpe::Sampler* sampler, const std::string& name, int seed,
           int n_trials, int print_startup = 0) {
  std::vector<Trial> trials;
  double best = std::numeric_limits<double>::infinity();
  std::vector<double> at;
  auto t0 = std::chrono::steady_clock::now();
  for (int t = 0; t < n_trials; ++t) {
    ParamValues v;
    tpe::Status s = sampler->Suggest(problem.space, trials, tpe::Direction::kMinimize, t, &v);
    if (!s.ok()) {
      std::fprintf(stderr, "%s: %s\n", problem.name.c_str(), s.ToString().c_str());
      return 1;
    }
    const double f = problem.objective(v);
    if (t < print_startup) {
      std::printf("START %s %d %d", problem.name.c_str(), seed, t);
      for (const auto& [k, x] : v) std::printf(" %s=%.17g", k.c_str(), x);
      std::printf("\n");
    }
    best = std::min(best, f);
    trials.push_back(Trial{t, tpe::TrialState::kComplete, v, f, {}});
    for (int c : kCheckpoints) {
      if (t + 1 == c) at.push_back(best - problem.optimum);
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  while (at.size() < 3) at.push_back(best - problem.optimum);
  std::printf("RUN %s %s %d %.10g %.10g %.10g %.4f\n", problem.name.c_str(), name.c_str(), seed,
              at[0], at[1], at[2], secs);
  std::fflush(stdout);
  return 0;
}

int Run(int first_seed, int seeds, int n_trials, const std::vector<std::string>& only) {
  for (const Problem& problem : AllProblems()) {
    if (!only.empty() && std::find(only.begin(), only.end(), problem.name) == only.end()) continue;
    std::printf("OPT %s %.17g\n", problem.name.c_str(), problem.optimum);
    auto check = tpe::NewRandomSampler(999);
    for (int i = 0; i < 5; ++i) {
      ParamValues v;
      check->Suggest(problem.space, {}, tpe::Direction::kMinimize, i, &v);
      std::printf("CHECK %s", problem.name.c_str());
      for (const auto& [k, x] : v) std::printf(" %s=%.17g", k.c_str(), x);
      std::printf(" f=%.17g\n", problem.objective(v));
    }
    for (int seed = first_seed; seed < first_seed + seeds; ++seed) {
      // cpp_tpe: defaults; cpp_tpe_49: Optuna 4.9's kernel model (the three
      // measured deviations of the defaults switched off); cpp_tpe_mv:
      // multivariate.
      for (const char* mode : {"cpp_tpe", "cpp_tpe_49", "cpp_tpe_mv"}) {
        tpe::TpeOptions o;
        o.seed = seed;
        o.multivariate = std::string(mode) == "cpp_tpe_mv";
        if (std::string(mode) == "cpp_tpe_49") {
          o.prior_as_neighbor = false;
          o.optuna3_density = false;
          o.optuna3_log_int = false;
        }
        std::unique_ptr<tpe::Sampler> tpe_sampler;
        tpe::Status s = tpe::NewTpeSampler(o, &tpe_sampler);
        if (!s.ok()) return 1;
        const int print_startup = std::string(mode) == "cpp_tpe" ? o.n_startup_trials : 0;
        if (RunOne(problem, tpe_sampler.get(), mode, seed, n_trials, print_startup)) return 1;
      }
      auto random = tpe::NewRandomSampler(seed);
      if (RunOne(problem, random.get(), "random", seed, n_trials)) return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace bench
}  // namespace peftsearch

int main(int argc, char** argv) {
  CLI::App app{"Regret of the C++ TPE sampler and random search on benchmark problems"};
  int seeds = 30, trials = 200, first_seed = 0;
  std::vector<std::string> only;
  app.add_option("--seeds", seeds, "seeds per problem and sampler");
  app.add_option("--trials", trials, "trials per run");
  app.add_option("--first_seed", first_seed, "seeds are first_seed .. first_seed + seeds - 1");
  app.add_option("--problems", only, "subset of problems (default: all)");
  CLI11_PARSE(app, argc, argv);
  return peftsearch::bench::Run(first_seed, seeds, trials, only);
}
