// Benchmark problems of tests/bench/tpe_quality (issue 4): each a search
// space, an objective to minimise and its known optimum. tpe_quality.py
// implements the same formulas in Python for Optuna and checks them against
// these on sample points before it trusts any comparison.
#ifndef PEFTSEARCH_TESTS_BENCH_TPE_PROBLEMS_H_
#define PEFTSEARCH_TESTS_BENCH_TPE_PROBLEMS_H_

#include <functional>
#include <string>
#include <vector>

#include "tpe/search_space.h"

namespace peftsearch {
namespace bench {

struct Problem {
  std::string name;
  tpe::SearchSpace space;
  std::function<double(const tpe::ParamValues&)> objective;  // minimise
  double optimum = 0;                                          // f*
};

// branin, hartmann6, rosenbrock5, styblinski10, cond_mlp, peft20.
std::vector<Problem> AllProblems();

}  // namespace bench
}  // namespace peftsearch

#endif  // PEFTSEARCH_TESTS_BENCH_TPE_PROBLEMS_H_
