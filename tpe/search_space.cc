#include "tpe/search_space.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

namespace peftsearch {
namespace tpe {
namespace {

// Integers beyond 2^53 are not exact in a double; refuse them rather than
// silently sample neighbouring values.
constexpr double kMaxExactInt = 9007199254740992.0;

bool IsIntegral(double x) {
  return std::isfinite(x) && std::fabs(x) <= kMaxExactInt && std::floor(x) == x;
}

// Shortest text that reads back as x, so messages show 0.1, not 0.1000...01.
std::string Num(double x) {
  std::string text;
  for (int precision = 6; precision <= 17; ++precision) {
    std::ostringstream os;
    os.precision(precision);
    os << x;
    text = os.str();
    if (std::stod(text) == x) break;
  }
  return text;
}

Status Bad(const std::string& name, const std::string& what) {
  return Status::InvalidArgument("param '" + name + "': " + what);
}

Status ValidateDistribution(const std::string& name, const Distribution& d) {
  if (d.kind == DistributionKind::kCategorical) {
    if (d.num_choices < 1) {
      return Bad(name, "num_choices (" + std::to_string(d.num_choices) + ") must be >= 1");
    }
    return Status::OK();
  }
  if (!std::isfinite(d.low)) return Bad(name, "low (" + Num(d.low) + ") must be finite");
  if (!std::isfinite(d.high)) return Bad(name, "high (" + Num(d.high) + ") must be finite");
  if (d.low > d.high) {
    return Bad(name, "low (" + Num(d.low) + ") must be <= high (" + Num(d.high) + ")");
  }
  if (!std::isfinite(d.step) || d.step < 0) {
    return Bad(name, "step (" + Num(d.step) + ") must be >= 0");
  }
  if (d.kind == DistributionKind::kFloat) {
    if (d.log && d.low <= 0) return Bad(name, "low (" + Num(d.low) + ") must be > 0 when log");
    // As Optuna: a log grid is not evenly spaced, so log and step exclude each other.
    if (d.log && d.step > 0) return Bad(name, "step (" + Num(d.step) + ") must be 0 when log");
    if (d.step > 0 && (d.high - d.low) / d.step > 1e9) {
      return Bad(name, "step (" + Num(d.step) + ") gives more than 1e9 grid points");
    }
    return Status::OK();
  }
  // kInt
  if (!IsIntegral(d.low)) return Bad(name, "low (" + Num(d.low) + ") must be an integer");
  if (!IsIntegral(d.high)) return Bad(name, "high (" + Num(d.high) + ") must be an integer");
  if (d.step != 0 && !IsIntegral(d.step)) {
    return Bad(name, "step (" + Num(d.step) + ") must be an integer");
  }
  if (d.log && d.low < 1) return Bad(name, "low (" + Num(d.low) + ") must be >= 1 when log");
  if (d.log && EffectiveStep(d) != 1) {
    return Bad(name, "step (" + Num(d.step) + ") must be 1 when log");
  }
  return Status::OK();
}

}  // namespace

double EffectiveStep(const Distribution& d) {
  if (d.kind == DistributionKind::kInt) return d.step > 0 ? d.step : 1.0;
  if (d.kind == DistributionKind::kCategorical) return 1.0;
  return d.step;
}

bool IsSingle(const Distribution& d) {
  if (d.kind == DistributionKind::kCategorical) return d.num_choices == 1;
  return NumGridPoints(d) == 1 || d.low == d.high;
}

int64_t NumGridPoints(const Distribution& d) {
  if (d.kind == DistributionKind::kCategorical) return d.num_choices;
  double step = EffectiveStep(d);
  if (step <= 0) return d.low == d.high ? 1 : 0;
  // The small slack keeps 0.1-steps on [0, 1] at 11 points despite rounding.
  return static_cast<int64_t>(std::floor((d.high - d.low) / step + 1e-9)) + 1;
}

double GridValue(const Distribution& d, int64_t i) {
  if (d.kind == DistributionKind::kCategorical) return static_cast<double>(i);
  double v = d.low + static_cast<double>(i) * EffectiveStep(d);
  return std::min(v, d.high);
}

double Snap(const Distribution& d, double value) {
  if (d.kind == DistributionKind::kCategorical) {
    double idx = std::round(value);
    return std::clamp(idx, 0.0, static_cast<double>(d.num_choices - 1));
  }
  double step = EffectiveStep(d);
  if (step > 0) {
    double n_max = static_cast<double>(NumGridPoints(d) - 1);
    double k = std::clamp(std::round((value - d.low) / step), 0.0, n_max);
    value = d.low + k * step;
  }
  return std::clamp(value, d.low, d.high);
}

bool Contains(const Distribution& d, double value) {
  if (!std::isfinite(value)) return false;
  if (d.kind == DistributionKind::kCategorical) {
    return IsIntegral(value) && value >= 0 && value < d.num_choices;
  }
  if (value < d.low || value > d.high) return false;
  double step = EffectiveStep(d);
  if (step <= 0) return true;
  double k = (value - d.low) / step;
  return std::fabs(k - std::round(k)) <= 1e-8 * std::max(1.0, std::fabs(k));
}

Status ValidateSearchSpace(const SearchSpace& space) {
  if (space.params.empty()) return Status::InvalidArgument("search space has no parameters");
  std::map<std::string, const ParamSpec*> seen;
  for (const ParamSpec& p : space.params) {
    if (p.name.empty()) return Status::InvalidArgument("a parameter has an empty name");
    if (seen.count(p.name)) return Bad(p.name, "name is used twice");
    Status s = ValidateDistribution(p.name, p.distribution);
    if (!s.ok()) return s;
    if (p.condition) {
      const Condition& c = *p.condition;
      if (c.parent == p.name) return Bad(p.name, "condition.parent names the parameter itself");
      auto it = seen.find(c.parent);
      if (it == seen.end()) {
        return Bad(p.name, "condition.parent '" + c.parent +
                               "' must be a parameter listed before it");
      }
      if (c.parent_values.empty()) return Bad(p.name, "condition.parent_values is empty");
      for (double v : c.parent_values) {
        if (!Contains(it->second->distribution, v)) {
          return Bad(p.name, "condition.parent_values: " + Num(v) +
                                 " is not a value of '" + c.parent + "'");
        }
      }
    }
    seen[p.name] = &p;
  }
  return Status::OK();
}

bool IsActive(const ParamSpec& p, const ParamValues& assigned) {
  if (!p.condition) return true;
  auto it = assigned.find(p.condition->parent);
  if (it == assigned.end()) return false;
  for (double v : p.condition->parent_values) {
    // Values are indices, integers or grid points; tolerate float noise from
    // a round trip through JSON or SQLite.
    if (std::fabs(v - it->second) <= 1e-9 * std::max(1.0, std::fabs(v))) return true;
  }
  return false;
}

}  // namespace tpe
}  // namespace peftsearch
