#include "worker/daemon/builtin_functions.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <functional>

#include "absl/status/status.h"

namespace peftsearch::daemon {
namespace {

constexpr double kPi = 3.14159265358979323846;

absl::StatusOr<double> Get(const std::string& function, const ParamValues& params,
                           const std::string& name) {
  auto it = params.find(name);
  if (it == params.end()) {
    return absl::InvalidArgumentError("builtin function " + function +
                                      " needs parameter '" + name + "', which the trial lacks");
  }
  return it->second;
}

// Collects x0..x{n-1}; n = 1 + the largest i among parameters named x<i>.
absl::StatusOr<std::vector<double>> GetVector(const std::string& function,
                                              const ParamValues& params, size_t min_dim) {
  long max_index = -1;
  for (const auto& [name, value] : params) {
    if (name.size() < 2 || name[0] != 'x') continue;
    char* end = nullptr;
    long index = std::strtol(name.c_str() + 1, &end, 10);
    if (*end != '\0' || !std::isdigit(static_cast<unsigned char>(name[1]))) continue;
    if (index > max_index) max_index = index;
  }
  size_t dim = static_cast<size_t>(max_index + 1);
  if (dim < min_dim) dim = min_dim;  // reports x0 (or x1) as the missing one
  std::vector<double> x;
  for (size_t i = 0; i < dim; ++i) {
    absl::StatusOr<double> v = Get(function, params, "x" + std::to_string(i));
    if (!v.ok()) return v.status();
    x.push_back(*v);
  }
  return x;
}

double Branin(double x, double y) {
  const double b = 5.1 / (4 * kPi * kPi), c = 5 / kPi, t = 1 / (8 * kPi);
  double u = y - b * x * x + c * x - 6;
  return u * u + 10 * (1 - t) * std::cos(x) + 10;
}

// Constants from Surjanovic & Bingham, "Virtual Library of Simulation
// Experiments" (the usual Hartmann 6-D definition).
double Hartmann6(const std::vector<double>& x) {
  static const double kAlpha[4] = {1.0, 1.2, 3.0, 3.2};
  static const double kA[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                  {0.05, 10, 17, 0.1, 8, 14},
                                  {3, 3.5, 1.7, 10, 17, 8},
                                  {17, 8, 0.05, 10, 0.1, 14}};
  static const double kP[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                                  {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                                  {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                                  {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
  double sum = 0;
  for (int i = 0; i < 4; ++i) {
    double inner = 0;
    for (int j = 0; j < 6; ++j) inner += kA[i][j] * (x[j] - kP[i][j]) * (x[j] - kP[i][j]);
    sum += kAlpha[i] * std::exp(-inner);
  }
  return -sum;
}

double Rosenbrock(const std::vector<double>& x) {
  double sum = 0;
  for (size_t i = 0; i + 1 < x.size(); ++i) {
    double a = x[i + 1] - x[i] * x[i], b = 1 - x[i];
    sum += 100 * a * a + b * b;
  }
  return sum;
}

double Sphere(const std::vector<double>& x) {
  double sum = 0;
  for (double v : x) sum += v * v;
  return sum;
}

double StyblinskiTang(const std::vector<double>& x) {
  double sum = 0;
  for (double v : x) sum += v * v * v * v - 16 * v * v + 5 * v;
  return sum / 2;
}

double Quadratic(const std::vector<double>& x) {
  double sum = 0;
  for (double v : x) sum += (v - 2) * (v - 2);
  return sum;
}

}  // namespace

std::vector<std::string> BuiltinFunctionNames() {
  return {"branin", "hartmann6", "quadratic", "rosenbrock", "sphere", "styblinski_tang"};
}

absl::StatusOr<double> EvaluateBuiltin(const std::string& function, const ParamValues& params) {
  if (function == "branin") {
    absl::StatusOr<double> x = Get(function, params, "x");
    if (!x.ok()) return x.status();
    absl::StatusOr<double> y = Get(function, params, "y");
    if (!y.ok()) return y.status();
    return Branin(*x, *y);
  }
  if (function == "hartmann6") {
    std::vector<double> x;
    for (int i = 0; i < 6; ++i) {
      absl::StatusOr<double> v = Get(function, params, "x" + std::to_string(i));
      if (!v.ok()) return v.status();
      x.push_back(*v);
    }
    return Hartmann6(x);
  }
  using VectorFn = double (*)(const std::vector<double>&);
  struct Entry {
    const char* name;
    VectorFn fn;
    size_t min_dim;
  };
  static const Entry kVectorFunctions[] = {{"rosenbrock", Rosenbrock, 2},
                                           {"sphere", Sphere, 1},
                                           {"styblinski_tang", StyblinskiTang, 1},
                                           {"quadratic", Quadratic, 1}};
  for (const Entry& e : kVectorFunctions) {
    if (function != e.name) continue;
    absl::StatusOr<std::vector<double>> x = GetVector(function, params, e.min_dim);
    if (!x.ok()) return x.status();
    return e.fn(*x);
  }
  std::string known;
  for (const std::string& n : BuiltinFunctionNames()) known += (known.empty() ? "" : ", ") + n;
  return absl::NotFoundError("unknown builtin function '" + function + "' (known: " + known +
                             ")");
}

}  // namespace peftsearch::daemon
