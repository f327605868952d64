// Trainable-parameter counts of a PEFT combination on a Vim preset (the
// `peftsearch-peft count` command), and MambaPEFT's Table 1 (Vim-S rows) with
// the hyperparameters that give each row, rendered as the markdown table in
// docs/PEFT.md. Counts come from building the combination for real on an
// uninitialised backbone, so they are the tensors CreatePeft makes.
// Thread safety: reentrant.
#ifndef PEFTSEARCH_WORKER_PEFT_PARAM_COUNT_H_
#define PEFTSEARCH_WORKER_PEFT_PARAM_COUNT_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/model/vim_config.h"

namespace peftsearch {
namespace peft {

struct CountReport {
  std::vector<std::pair<std::string, int64_t>> by_method;  // application order
  int64_t peft_total = 0;                                   // without the head
  int64_t head = 0;                                         // Linear(D, classes): D*C + C
  int64_t total_with_head = 0;
};

// REQUIRES: classes >= 0. INVALID_ARGUMENT for a bad combination.
absl::StatusOr<CountReport> CountTrainable(const nlohmann::json& combination,
                                           const model::VimConfig& config, int64_t classes);
// Plain text, one method per line, then the totals.
std::string FormatCount(const CountReport& report);
std::string FormatCountMarkdown(const CountReport& report);

// One row of MambaPEFT Table 1 for Vim-S.
struct Table1Row {
  std::string row;           // as printed in Table 1
  nlohmann::json combination;
  std::string shown;         // the combination in words, for the table
  double paper_k = 0;        // "#Params (K)", head included
  std::string source;        // where the hyperparameters come from
};
const std::vector<Table1Row>& Table1Rows();

// The head used for the table: Table 1's counts are "the average of all
// tasks" including the head; its Linear-probing row (9K) is the head alone.
// The rows Pos-embed (84), D (45) and LoRA_p(d) (2,442) together pin the head
// to 8,476..8,635 parameters (~22.2 classes on average); 22 classes (8,470)
// is the nearest integer head.
constexpr int64_t kTable1Classes = 22;

// A row matches when |ours - paper| <= 1% of the paper's value. Table 1
// prints whole thousands, so rows of a few K are also reported against the
// printed precision, |ours - paper| <= 500.
constexpr double kTable1Tolerance = 0.01;
constexpr int64_t kTable1Rounding = 500;

struct Table1Result {
  Table1Row row;
  CountReport count;
  double diff = 0;  // (ours - paper) / paper
  bool match = false;            // within kTable1Tolerance
  bool within_rounding = false;  // within kTable1Rounding
};
absl::StatusOr<std::vector<Table1Result>> ComputeTable1();
// The markdown block committed in docs/PEFT.md: FormatTable1(ComputeTable1()).
absl::StatusOr<std::string> Table1Markdown();
std::string FormatTable1(const std::vector<Table1Result>& results);

}  // namespace peft
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_PEFT_PARAM_COUNT_H_
