// The one table of PEFT methods and their hyperparameters: names, types,
// valid ranges and the Table 9 step-1 defaults of MambaPEFT (the "minimal"
// settings of the hybrid search's first step). Everything that validates or
// fills in a combination reads this table.
// Thread safety: immutable after first use.
#ifndef PEFTSEARCH_WORKER_PEFT_METHOD_TABLE_H_
#define PEFTSEARCH_WORKER_PEFT_METHOD_TABLE_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace peftsearch {
namespace peft {

enum class FieldType { kInt, kNumber, kBool, kChoice };

// Where a missing field's value comes from.
enum class DefaultFrom {
  kValue,          // FieldSpec::default_value
  kRecipeLr,       // PeftDefaults::lr
  kRecipeWd,       // PeftDefaults::weight_decay
};

struct FieldSpec {
  std::string name;
  FieldType type = FieldType::kNumber;
  double min = 0;                    // kInt / kNumber: valid range
  double max = 0;
  bool min_exclusive = false;        // (min, max] instead of [min, max]
  std::vector<std::string> choices;  // kChoice
  DefaultFrom default_from = DefaultFrom::kValue;
  nlohmann::json default_value;
};

enum class Family {
  kPartial,          // frozen original + zero-init trainable delta
  kPrompt,
  kAffix,
  kAdditionalScan,
  kLowRank,          // LoRA variants and ParallelAdapter
  kBaseline,         // linear_probing, full
  // Beyond MambaPEFT (issue 13; research/peft_beyond.md): not among the 20.
  kProDiaL,
  kSdLora,
  kMemba,
  kDora,
};

struct MethodSpec {
  std::string name;        // canonical key, e.g. "lora_p_x"
  std::string paper_name;  // as in Table 1, e.g. "LoRA_p(X)"
  Family family;
  std::vector<FieldSpec> fields;
  // True for the methods beyond MambaPEFT's 20 (prodial, sdlora, memba, dora):
  // valid in any combination, but not in MethodNames() (Table 1's list).
  bool extended = false;
};

// The 20 methods in Table 1 order, then linear_probing and full, then the
// extended methods.
const std::vector<MethodSpec>& MethodSpecs();
// Null if `name` is not a method or baseline.
const MethodSpec* FindMethod(const std::string& name);

// Checks `given` (a JSON object of hyperparameters) against `spec` and fills
// in defaults; recipe-dependent defaults (lr, most wd) come from the two
// numbers passed. INVALID_ARGUMENT "<method>.<field>: ..." on an unknown
// field, a wrong type or a value out of range.
absl::StatusOr<nlohmann::json> ResolveMethod(const MethodSpec& spec, const nlohmann::json& given,
                                             double recipe_lr, double recipe_wd);

}  // namespace peft
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_PEFT_METHOD_TABLE_H_
