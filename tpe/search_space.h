// Search-space types of a study: what parameters exist, their distributions,
// and which are conditional on another parameter's value. Values travel in an
// internal representation (numbers, or a categorical choice's index) so that
// tpe/ knows nothing of JSON; the caller maps choices to indices.
// Thread safety: plain values; the free functions are pure.
#ifndef PEFTSEARCH_TPE_SEARCH_SPACE_H_
#define PEFTSEARCH_TPE_SEARCH_SPACE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tpe/status.h"

namespace peftsearch {
namespace tpe {

enum class DistributionKind { kFloat, kInt, kCategorical };

struct Distribution {
  DistributionKind kind = DistributionKind::kFloat;
  double low = 0, high = 0;  // inclusive; float and int
  bool log = false;          // sample and model in ln space; REQUIRES low > 0
  double step = 0;           // float: 0 = continuous; int: 0 means 1
  int num_choices = 0;       // categorical: values are choice indices 0..num_choices-1
};

// Active iff the parent is active and the parent's internal value is one of
// parent_values (categorical: the choice index).
struct Condition {
  std::string parent;
  std::vector<double> parent_values;
};

struct ParamSpec {
  std::string name;
  Distribution distribution;
  std::optional<Condition> condition;
};

// REQUIRES (checked by ValidateSearchSpace): a parent is listed before its children.
struct SearchSpace {
  std::vector<ParamSpec> params;
};

// Internal representation: numeric value, or categorical index.
using ParamValues = std::map<std::string, double>;

// OK if every parameter is well formed. Otherwise InvalidArgument naming the
// parameter and the field, e.g. "param 'lr': low (0) must be > 0 when log".
Status ValidateSearchSpace(const SearchSpace& space);

// True iff `p` has no condition, or its parent is in `assigned` (only active
// parameters are ever assigned) with one of the listed values.
bool IsActive(const ParamSpec& p, const ParamValues& assigned);

// --- helpers shared by the samplers (additions to the controller's API) ---

// The effective step: int 0 -> 1; float 0 -> 0 (continuous).
double EffectiveStep(const Distribution& d);
// True when the distribution has a single value (low == high, or one choice);
// such a parameter is a constant and is never modelled (as Optuna's single()).
bool IsSingle(const Distribution& d);
// Number of grid points of a discrete distribution (int, stepped float,
// categorical); 0 for a continuous float.
int64_t NumGridPoints(const Distribution& d);
// The i-th grid value, 0 <= i < NumGridPoints(d).
double GridValue(const Distribution& d, int64_t i);
// Rounds a value to the nearest legal value of `d` (grid point, in range).
double Snap(const Distribution& d, double value);
// True iff `value` is a legal internal value of `d`.
bool Contains(const Distribution& d, double value);

}  // namespace tpe
}  // namespace peftsearch

#endif  // PEFTSEARCH_TPE_SEARCH_SPACE_H_
