// Synthetic objective functions for testing the service end to end without a
// trainer (the "builtin" objective type). Each takes its parameters by name:
//   branin           x, y                       minimum 0.397887 (three minimisers)
//   hartmann6        x0..x5 in [0, 1]           minimum -3.32237
//   rosenbrock       x0..x{n-1}, n >= 2         minimum 0 at (1, ..., 1)
//   sphere           x0..x{n-1}, n >= 1         minimum 0 at the origin
//   styblinski_tang  x0..x{n-1}, n >= 1         minimum -39.16617 n at x_i = -2.903534
//   quadratic        x0..x{n-1}, n >= 1         sum (x_i - 2)^2, minimum 0 at x_i = 2
// For the n-dimensional functions n is one more than the largest index i of a
// parameter named x<i>; every x0..x{n-1} must then be present.
//
// Thread safety: pure functions.
#ifndef PEFTSEARCH_WORKER_DAEMON_BUILTIN_FUNCTIONS_H_
#define PEFTSEARCH_WORKER_DAEMON_BUILTIN_FUNCTIONS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace peftsearch::daemon {

using ParamValues = std::map<std::string, double>;

// Names accepted by EvaluateBuiltin, sorted.
std::vector<std::string> BuiltinFunctionNames();

// Returns f(params). INVALID_ARGUMENT names the function and the missing
// parameter; NOT_FOUND when `function` is not one of BuiltinFunctionNames().
// Parameters the function does not use are ignored (a study may carry extra
// ones, e.g. for conditional spaces).
absl::StatusOr<double> EvaluateBuiltin(const std::string& function, const ParamValues& params);

}  // namespace peftsearch::daemon

#endif  // PEFTSEARCH_WORKER_DAEMON_BUILTIN_FUNCTIONS_H_
