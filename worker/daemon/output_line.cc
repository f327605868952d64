#include "worker/daemon/output_line.h"

#include <cmath>

#include <nlohmann/json.hpp>

namespace peftsearch::daemon {

OutputLine ParseOutputLine(const std::string& line) {
  OutputLine out;
  size_t first = line.find_first_not_of(" \t\r");
  // Cheap pre-check: most log lines are not JSON and need no parse.
  if (first == std::string::npos || line[first] != '{') return out;
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return out;
  auto value = j.find("value");
  if (value == j.end() || !value->is_number()) return out;
  out.value = value->get<double>();
  if (!std::isfinite(out.value)) return out;
  auto step = j.find("step");
  if (step != j.end() && step->is_number_integer()) {
    out.kind = OutputLine::Kind::kProgress;
    out.step = step->get<int64_t>();
  } else {
    out.kind = OutputLine::Kind::kResult;
  }
  return out;
}

}  // namespace peftsearch::daemon
