// Parses one line of an objective's stdout. The protocol, shared by builtin,
// command and trainer objectives:
//   {"step": k, "value": v, ...}   progress: forwarded as ReportProgress(k, v)
//   {"value": v, ...}              a result candidate
// Any other line (plain text, JSON without a numeric "value") is ignored, so
// objectives may log freely to stdout. The trial's result is the LAST line
// that carries a numeric "value" (a final progress line counts too); its full
// JSON text is kept as the trial's result_json (e.g. per-task accuracies).
//
// Thread safety: pure function.
#ifndef PEFTSEARCH_WORKER_DAEMON_OUTPUT_LINE_H_
#define PEFTSEARCH_WORKER_DAEMON_OUTPUT_LINE_H_

#include <cstdint>
#include <string>

namespace peftsearch::daemon {

struct OutputLine {
  enum class Kind { kOther, kProgress, kResult };
  Kind kind = Kind::kOther;
  int64_t step = 0;    // kProgress only
  double value = 0;    // kProgress and kResult
};

// Classifies `line` (without its newline). A "step" that is not an integer
// makes the line a result candidate rather than progress, since a fractional
// step cannot be reported.
OutputLine ParseOutputLine(const std::string& line);

}  // namespace peftsearch::daemon

#endif  // PEFTSEARCH_WORKER_DAEMON_OUTPUT_LINE_H_
