// Converts between a trial's params as users see them (a JSON object of
// scalars) and the samplers' internal representation (numbers, with a
// categorical as the index of its choice), and builds the tpe::SearchSpace of
// a spec.
#ifndef PEFTSEARCH_CONTROLLER_PARAM_CODEC_H_
#define PEFTSEARCH_CONTROLLER_PARAM_CODEC_H_

#include <vector>

#include "absl/status/statusor.h"
#include "controller/spec.h"
#include "tpe/search_space.h"

namespace peftsearch::controller {

tpe::SearchSpace ToSearchSpace(const std::vector<ParamDef>& space);

// Internal values -> JSON object. Params absent from `values` are omitted.
Json EncodeParams(const std::vector<ParamDef>& space, const tpe::ParamValues& values);

// JSON object -> internal values. Params not in `space`, or with a value that
// is not one of a categorical's choices, are skipped (history from an older
// spec must not break sampling).
tpe::ParamValues DecodeParams(const std::vector<ParamDef>& space, const Json& params);

}  // namespace peftsearch::controller

#endif  // PEFTSEARCH_CONTROLLER_PARAM_CODEC_H_
