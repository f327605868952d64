// Which parameters TPE samples jointly in multivariate mode: the
// intersection space (parameters every finished trial has) or, with
// group=true, the group decomposition (coarsest partition whose groups are
// each wholly present or wholly absent in every finished trial), as Optuna's
// IntersectionSearchSpace and _GroupDecomposedSearchSpace.
// Thread safety: pure functions.
#ifndef PEFTSEARCH_TPE_SUBSPACE_H_
#define PEFTSEARCH_TPE_SUBSPACE_H_

#include <functional>
#include <vector>

#include "tpe/search_space.h"
#include "tpe/trial.h"

namespace peftsearch {
namespace tpe {

// True iff `t` has a legal value of `p` (a value outside the current
// distribution, e.g. after the space changed, counts as absent).
bool HasParam(const Trial& t, const ParamSpec& p);

// Whether a trial has parameter space.params[i]; HasParam by default, a
// precomputed table in the sampler (string lookups are its hot spot at 10k).
using HasParamFn = std::function<bool(const Trial&, int)>;

// Indices into space.params, in space order; single-valued parameters are
// left out (they are constants). No trials -> empty.
std::vector<int> IntersectionSpace(const SearchSpace& space, const std::vector<const Trial*>& trials,
                                   const HasParamFn& has = nullptr);

// Groups of indices into space.params; each group in space order, groups
// ordered by their first parameter. Single-valued parameters are left out.
std::vector<std::vector<int>> GroupDecomposition(const SearchSpace& space,
                                                 const std::vector<const Trial*>& trials,
                                                 const HasParamFn& has = nullptr);

}  // namespace tpe
}  // namespace peftsearch

#endif  // PEFTSEARCH_TPE_SUBSPACE_H_
