// Maps a spec's strategy block to its Strategy. New strategies register here.
#include "absl/strings/str_cat.h"
#include "controller/hybrid/hybrid_strategy.h"
#include "controller/single_strategy.h"
#include "controller/strategy.h"

namespace peftsearch::controller {

absl::StatusOr<std::unique_ptr<Strategy>> NewStrategy(const StudySpec& spec) {
  if (spec.strategy_type == "single") {
    auto s = SingleSpaceStrategy::Create(spec);
    if (!s.ok()) return s.status();
    return std::unique_ptr<Strategy>(std::move(*s));
  }
  if (spec.strategy_type == "hybrid_peft") {
    auto s = HybridPeftStrategy::Create(spec);
    if (!s.ok()) return s.status();
    return std::unique_ptr<Strategy>(std::move(*s));
  }
  return absl::UnimplementedError(
      absl::StrCat("strategy.type: \"", spec.strategy_type, "\" is not available in this build"));
}

}  // namespace peftsearch::controller
