#include "worker/peft/peft_cli.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/status/statusor.h"
#include "worker/model/vim_config.h"
#include "worker/peft/param_count.h"

namespace peftsearch {
namespace peft {

absl::Status RunCount(const CountOptions& options, std::ostream& out) {
  absl::StatusOr<model::VimConfig> config = model::VimPreset(options.model);
  if (!config.ok()) return config.status();
  std::ifstream in(options.peft_path);
  if (!in) return absl::NotFoundError("--peft: cannot open " + options.peft_path);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json combination = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (combination.is_discarded()) {
    return absl::InvalidArgumentError("--peft: " + options.peft_path + " is not valid JSON");
  }
  absl::StatusOr<CountReport> report = CountTrainable(combination, *config, options.classes);
  if (!report.ok()) return report.status();
  out << (options.markdown ? FormatCountMarkdown(*report) : FormatCount(*report));
  return absl::OkStatus();
}

absl::Status RunTable1(std::ostream& out) {
  absl::StatusOr<std::string> table = Table1Markdown();
  if (!table.ok()) return table.status();
  out << *table;
  return absl::OkStatus();
}

}  // namespace peft
}  // namespace peftsearch
