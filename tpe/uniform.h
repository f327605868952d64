// Uniform draws from one distribution: the random sampler's whole job and
// TPE's startup phase. Kept apart so both use exactly the same rule.
// Thread safety: pure given the Rng.
#ifndef PEFTSEARCH_TPE_UNIFORM_H_
#define PEFTSEARCH_TPE_UNIFORM_H_

#include "tpe/random.h"
#include "tpe/search_space.h"

namespace peftsearch {
namespace tpe {

// A uniform draw, as Optuna's RandomSampler: log distributions uniform in ln
// space; stepped and int ones uniform on [low - step/2, high + step/2] (in ln
// space for log int) and rounded to the grid. Single-valued: low (or 0).
// REQUIRES: `d` is valid.
double SampleUniform(const Distribution& d, Rng* rng);

}  // namespace tpe
}  // namespace peftsearch

#endif  // PEFTSEARCH_TPE_UNIFORM_H_
