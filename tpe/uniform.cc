#include "tpe/uniform.h"

#include <cmath>

namespace peftsearch {
namespace tpe {

double SampleUniform(const Distribution& d, Rng* rng) {
  if (IsSingle(d)) return d.kind == DistributionKind::kCategorical ? 0.0 : d.low;
  if (d.kind == DistributionKind::kCategorical) {
    return static_cast<double>(rng->UniformInt(static_cast<uint64_t>(d.num_choices)));
  }
  const double step = EffectiveStep(d);
  if (d.log) {
    // Log int: cells [x - 1/2, x + 1/2] in ln space, so larger ints, whose
    // cells are relatively narrower, are rarer: uniform in log scale.
    double lo = step > 0 ? d.low - step / 2 : d.low;
    double hi = step > 0 ? d.high + step / 2 : d.high;
    double x = std::exp(std::log(lo) + rng->Uniform() * (std::log(hi) - std::log(lo)));
    return Snap(d, x);
  }
  if (step > 0) {
    // Uniform over grid indices directly: exact, no boundary-cell bias.
    return GridValue(d, static_cast<int64_t>(rng->UniformInt(NumGridPoints(d))));
  }
  double x = d.low + rng->Uniform() * (d.high - d.low);
  return x < d.high ? x : d.low;  // [low, high) even under rounding
}

}  // namespace tpe
}  // namespace peftsearch
