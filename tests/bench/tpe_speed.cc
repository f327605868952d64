// tpe_speed: per-Suggest latency of the C++ TPE sampler with 100 / 1,000 /
// 10,000 completed trials in the history, 10 mixed parameters, independent
// and multivariate. Writes each history to --history_dir so that the driver
// (tpe_speed.py) times python3-optuna's TPESampler on exactly the same trials
// in the same run, and prints one line per configuration:
//   RESULT <n> <mode> <median_wall_ms> <min_wall_ms> <reps> <median_cpu_ms>
// CPU time (this thread's) is reported too: on a shared 2-core machine the
// wall time mostly measures the neighbours.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <ctime>
#include <vector>

#include "tpe/random.h"
#include "tpe/sampler.h"

namespace peftsearch {
namespace tpe {
namespace {

ParamSpec P(std::string name, DistributionKind kind, double low, double high, bool log = false,
            int choices = 0) {
  ParamSpec p;
  p.name = std::move(name);
  p.distribution.kind = kind;
  p.distribution.low = low;
  p.distribution.high = high;
  p.distribution.log = log;
  p.distribution.num_choices = choices;
  return p;
}

// "mixed10t" of tpe_optuna.md section 4.3: 4 float, 2 log-float, int,
// log-int, 2 categorical (4 and 10 choices).
SearchSpace Mixed10() {
  using K = DistributionKind;
  return {{P("x0", K::kFloat, -5, 5), P("x1", K::kFloat, -5, 5), P("x2", K::kFloat, -5, 5),
           P("x3", K::kFloat, -5, 5), P("lr0", K::kFloat, 1e-5, 1, true),
           P("lr1", K::kFloat, 1e-5, 1, true), P("n", K::kInt, 1, 100),
           P("units", K::kInt, 1, 1024, true), P("c4", K::kCategorical, 0, 0, false, 4),
           P("c10", K::kCategorical, 0, 0, false, 10)}};
}

std::vector<Trial> History(const SearchSpace& space, int n) {
  auto random = NewRandomSampler(12345);
  std::vector<Trial> trials;
  for (int i = 0; i < n; ++i) {
    Trial t;
    t.number = i;
    t.state = TrialState::kComplete;
    random->Suggest(space, {}, Direction::kMinimize, i, &t.params);
    double f = 0;
    for (const auto& [name, v] : t.params) f += std::sin(v) + 0.01 * v * v;
    t.value = f;
    trials.push_back(std::move(t));
  }
  return trials;
}

void WriteHistory(const std::string& path, const SearchSpace& space, const std::vector<Trial>& trials) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
  std::fprintf(f, "number value");
  for (const ParamSpec& p : space.params) std::fprintf(f, " %s", p.name.c_str());
  std::fprintf(f, "\n");
  for (const Trial& t : trials) {
    std::fprintf(f, "%lld %.17g", static_cast<long long>(t.number), *t.value);
    for (const ParamSpec& p : space.params) std::fprintf(f, " %.17g", t.params.at(p.name));
    std::fprintf(f, "\n");
  }
  std::fclose(f);
}

// print_suggestions: also print every suggestion (SUGGEST <n> <mode> <i>
// name=value...), to check that a faster build suggests exactly the same.
int Run(const std::vector<int>& sizes, const std::string& history_dir, int reps, const std::string& modes,
        bool print_suggestions) {
  const SearchSpace space = Mixed10();
  for (int n : sizes) {
    const std::vector<Trial> history = History(space, n);
    if (!history_dir.empty()) {
      WriteHistory(history_dir + "/history_" + std::to_string(n) + ".txt", space, history);
    }
    for (bool multivariate : {false, true}) {
      if (modes != "both" && modes != (multivariate ? "multivariate" : "independent")) continue;
      TpeOptions o;
      o.seed = 7;
      o.multivariate = multivariate;
      std::unique_ptr<Sampler> sampler;
      Status s = NewTpeSampler(o, &sampler);
      if (!s.ok()) {
        std::fprintf(stderr, "%s\n", s.ToString().c_str());
        return 1;
      }
      const int r = n >= 10000 ? std::max(3, reps / 2) : reps;
      std::vector<double> ms, cpu_ms;
      for (int i = -1; i < r; ++i) {  // i = -1 warms caches up, not timed
        ParamValues out;
        timespec c0, c1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
        auto t0 = std::chrono::steady_clock::now();
        s = sampler->Suggest(space, history, Direction::kMinimize, n + 1 + i, &out);
        auto t1 = std::chrono::steady_clock::now();
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
        if (!s.ok()) {
          std::fprintf(stderr, "%s\n", s.ToString().c_str());
          return 1;
        }
        if (print_suggestions) {
          std::printf("SUGGEST %d %s %d", n, multivariate ? "multivariate" : "independent", i);
          for (const auto& [name, v] : out) std::printf(" %s=%.17g", name.c_str(), v);
          std::printf("\n");
        }
        if (i >= 0) {
          ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
          cpu_ms.push_back((c1.tv_sec - c0.tv_sec) * 1e3 + (c1.tv_nsec - c0.tv_nsec) * 1e-6);
        }
      }
      std::sort(ms.begin(), ms.end());
      std::sort(cpu_ms.begin(), cpu_ms.end());
      std::printf("RESULT %d %s %.4f %.4f %d %.4f\n", n, multivariate ? "multivariate" : "independent",
                  ms[ms.size() / 2], ms.front(), r, cpu_ms[cpu_ms.size() / 2]);
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace
}  // namespace tpe
}  // namespace peftsearch

int main(int argc, char** argv) {
  CLI::App app{"Per-suggest latency of the C++ TPE sampler"};
  std::vector<int> sizes = {100, 1000, 10000};
  std::string history_dir;
  int reps = 21;
  std::string modes = "both";
  bool print_suggestions = false;
  app.add_option("--sizes", sizes, "completed trials in the history");
  app.add_option("--history_dir", history_dir, "write each history here for the Optuna driver");
  app.add_option("--reps", reps, "timed suggestions per configuration (half at 10k)");
  app.add_option("--modes", modes, "independent, multivariate or both");
  app.add_flag("--print_suggestions", print_suggestions, "print every suggestion (to compare builds)");
  CLI11_PARSE(app, argc, argv);
  return peftsearch::tpe::Run(sizes, history_dir, reps, modes, print_suggestions);
}
