// Turns StudyService replies into the text the `peftsearch` CLI prints:
// tables, JSON, CSV, the watch progress bar and error lines. Pure functions
// of their arguments (no RPC, no clock), so every format is unit-tested
// without a server.
//
// Thread safety: pure functions.
#ifndef PEFTSEARCH_CONTROLLER_CLI_FORMAT_H_
#define PEFTSEARCH_CONTROLLER_CLI_FORMAT_H_

#include <cstdint>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "proto/peftsearch.pb.h"

namespace peftsearch::cli {

namespace v1 = ::peftsearch::v1;

// "waiting", "running", "complete", "pruned", "failed" ("unspecified" for 0).
std::string TrialStateName(v1::TrialState state);
// "running", "complete", "cancelled".
std::string StudyStateName(v1::StudyState state);

// Accepts the names above in any case (and WAITING etc.); INVALID_ARGUMENT
// lists the accepted names.
absl::StatusOr<v1::TrialState> ParseTrialState(const std::string& name);

enum class TrialFormat { kTable, kJson, kCsv };
// "table", "json", "csv"; INVALID_ARGUMENT otherwise.
absl::StatusOr<TrialFormat> ParseTrialFormat(const std::string& name);

// A value for people: 6 significant digits ("-" when absent).
std::string FormatValue(bool has_value, double value);

// Aligned columns, two spaces apart, header first; the last column is not
// padded. Every line ends with '\n'.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// RFC 4180 field: quoted when it holds a comma, quote or newline.
std::string CsvField(const std::string& field);

// Params JSON object as "lr=0.001 opt=adam" (keys sorted); the raw text when
// it is not a JSON object.
std::string CompactParams(const std::string& params_json);

// The line `submit` prints: "created study id=3 name=demo state=running".
std::string FormatCreated(const v1::Study& study);

// One row per study, newest first as the server sends them.
std::string FormatStudies(const std::vector<v1::Study>& studies);

// `status`: "key: value" lines, counts, best, and summary_json pretty-printed.
std::string FormatStudyStatus(const v1::Study& study);

// `trials`: table (number, state, value, phase, attempt, params), a JSON
// array (params and result as JSON), or CSV with one params_<name> column per
// parameter (as Optuna's trials_dataframe).
std::string FormatTrials(const std::vector<v1::Trial>& trials, TrialFormat format);

// `best`: the best trials, then the study's summary_json when present.
std::string FormatBest(const v1::Study& study, const std::vector<v1::Trial>& best);

// `workers`: one row per worker; `now_unix_ms` dates the last heartbeat.
std::string FormatWorkers(const std::vector<v1::Worker>& workers, int64_t now_unix_ms);

// `ask`: "trial <number>\n<params JSON>\n".
std::string FormatAsked(const v1::Trial& trial);

// `tell` and `cancel` confirmations.
std::string FormatTold(const v1::Trial& trial);
std::string FormatCancelled(const v1::Study& study);

// `watch`: "[#######.............] 7/20 done  running 2  pruned 1  failed 0  best 0.397887 (trial 5)"
// `width` is the bar's inner width. done = complete + pruned + failed.
std::string FormatProgressBar(const v1::Study& study, int width);

// The closing line of `watch`, e.g. "study demo complete: 20 trials, best 0.397887 (trial 5)".
std::string FormatWatchEnd(const v1::Study& study);

// "error: NOT_FOUND: no study named 'x'" (no trailing newline).
std::string FormatRpcError(const grpc::Status& status);

}  // namespace peftsearch::cli

#endif  // PEFTSEARCH_CONTROLLER_CLI_FORMAT_H_
