// The work behind `peftsearch-peft` (flags are parsed in main.cc only):
//   count  --model vim_small --peft PEFT.json --classes C [--markdown]
//   table1                      (the Table 1 block of docs/PEFT.md)
// Thread safety: reentrant.
#ifndef PEFTSEARCH_WORKER_PEFT_PEFT_CLI_H_
#define PEFTSEARCH_WORKER_PEFT_PEFT_CLI_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/status/status.h"

namespace peftsearch {
namespace peft {

struct CountOptions {
  std::string model = "vim_small";  // a VimPreset name
  std::string peft_path;            // JSON file: the combination
  int64_t classes = 0;              // head classes (0: no head)
  bool markdown = false;
};

// Prints trainable parameters per method and the totals with and without the
// head. NOT_FOUND for a missing file or preset; INVALID_ARGUMENT for bad JSON
// or a bad combination (naming method and field).
absl::Status RunCount(const CountOptions& options, std::ostream& out);

// Prints the Table 1 markdown block (param_count.h).
absl::Status RunTable1(std::ostream& out);

}  // namespace peft
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_PEFT_PEFT_CLI_H_
