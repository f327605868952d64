#include "worker/daemon/trial_runner.h"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "worker/daemon/child_process.h"
#include "worker/daemon/output_line.h"

namespace peftsearch::daemon {
namespace {

using nlohmann::json;

// Creates every missing directory along `path`; returns "" or an error text.
std::string MakeDirs(const std::string& path) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    std::string prefix = path.substr(0, pos);
    if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return "cannot create directory " + prefix + ": " + std::strerror(errno);
    }
  }
  return "";
}

std::string SafeName(const std::string& name) {
  std::string out;
  for (char c : name) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    out += ok ? c : '_';
  }
  if (out.empty() || out == "." || out == "..") out = "_" + out;
  return out;
}

json TrialJson(const TrialSpec& t) {
  json doc;
  doc["study_id"] = t.study_id;
  doc["study"] = t.study_name;
  doc["number"] = t.number;
  doc["attempt"] = t.attempt;
  doc["phase"] = t.phase;
  doc["params"] = json::parse(t.params_json, nullptr, /*allow_exceptions=*/false);
  doc["objective"] = json::parse(t.objective_json, nullptr, /*allow_exceptions=*/false);
  return doc;
}

TrialOutcome Failed(std::string message, const std::string& dir) {
  TrialOutcome out;
  out.kind = TrialOutcome::Kind::kFailed;
  out.message = std::move(message);
  out.trial_dir = dir;
  return out;
}

// Reports each progress line; remembers the last result candidate.
struct LineHandler {
  ProgressSink* sink;
  bool have_result = false;
  double value = 0;
  std::string result_line;
  std::string stop_why;

  bool operator()(const std::string& line) {
    OutputLine parsed = ParseOutputLine(line);
    if (parsed.kind == OutputLine::Kind::kOther) return true;
    have_result = true;
    value = parsed.value;
    // Normalised so that the controller stores compact JSON, not our padding.
    result_line = json::parse(line).dump();
    if (parsed.kind != OutputLine::Kind::kProgress) return true;
    return sink->Report(parsed.step, parsed.value, &stop_why) == ProgressSink::Action::kContinue;
  }
};

std::string WithStderr(const std::string& what, const std::string& stderr_path,
                       size_t tail_bytes) {
  std::string tail = ReadFileTail(stderr_path, tail_bytes);
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.pop_back();
  if (tail.empty()) return what + " (stderr empty)";
  return what + "; stderr tail: " + tail;
}

}  // namespace

std::string TrialDirectory(const std::string& workdir, const TrialSpec& trial) {
  std::string study =
      trial.study_name.empty() ? "study-" + std::to_string(trial.study_id) : trial.study_name;
  return workdir + "/" + SafeName(study) + "/trial-" + std::to_string(trial.number) + "-a" +
         std::to_string(trial.attempt);
}

TrialOutcome RunTrial(const TrialRunnerOptions& options, const TrialSpec& trial,
                      ProgressSink* sink, const std::function<std::string()>& should_stop) {
  const std::string dir = TrialDirectory(options.workdir, trial);
  if (std::string err = MakeDirs(dir); !err.empty()) return Failed("worker: " + err, dir);
  const std::string trial_json_path = dir + "/trial.json";
  {
    std::ofstream out(trial_json_path, std::ios::trunc);
    out << TrialJson(trial).dump(2) << "\n";
    if (!out) return Failed("worker: cannot write " + trial_json_path, dir);
  }

  absl::StatusOr<ChildCommand> cmd = BuildChildCommand(trial.objective_json, trial.params_json,
                                                       trial_json_path, options.objective);
  if (!cmd.ok()) return Failed(std::string(cmd.status().message()), dir);

  ChildOptions child;
  child.argv = cmd->argv;
  child.stdout_path = dir + "/stdout";
  child.stderr_path = dir + "/stderr";
  child.timeout = std::chrono::seconds(cmd->timeout_s);
  child.kill_grace = options.kill_grace;
  // Objectives may want to write files next to their logs, or know who they are.
  child.extra_env = {"PEFTSEARCH_TRIAL_DIR=" + dir, "PEFTSEARCH_TRIAL_JSON=" + trial_json_path,
                     "PEFTSEARCH_STUDY=" + trial.study_name,
                     "PEFTSEARCH_TRIAL_NUMBER=" + std::to_string(trial.number),
                     "PEFTSEARCH_TRIAL_ATTEMPT=" + std::to_string(trial.attempt)};
  child.extra_env.insert(child.extra_env.end(), cmd->env.begin(), cmd->env.end());

  LineHandler handler{sink};
  std::string stop_reason;
  absl::StatusOr<ChildResult> result = RunChild(
      child, [&handler](const std::string& line) { return handler(line); },
      [&stop_reason, &should_stop] {
        if (stop_reason.empty() && should_stop) stop_reason = should_stop();
        return !stop_reason.empty();
      });
  if (!result.ok()) return Failed(std::string(result.status().message()), dir);

  TrialOutcome out;
  out.trial_dir = dir;
  out.elapsed = result->elapsed;
  switch (result->stopped_by) {
    case ChildResult::StopCause::kLineCallback:
      out.kind = TrialOutcome::Kind::kAbandoned;
      out.message = handler.stop_why.empty() ? "stopped by the controller" : handler.stop_why;
      return out;
    case ChildResult::StopCause::kShouldStop:
      out.kind = TrialOutcome::Kind::kAbandoned;
      out.message = stop_reason;
      return out;
    case ChildResult::StopCause::kTimeout:
      return Failed(WithStderr("timed out after " + std::to_string(cmd->timeout_s) +
                                   " s and was killed",
                               child.stderr_path, options.stderr_tail_bytes),
                    dir);
    case ChildResult::StopCause::kNone:
      break;
  }
  if (!result->exited || result->exit_code != 0) {
    TrialOutcome failed = Failed(WithStderr("objective failed: " + DescribeExit(*result),
                                            child.stderr_path, options.stderr_tail_bytes),
                                 dir);
    if (!result->exited) failed.term_signal = result->term_signal;
    return failed;
  }
  if (!handler.have_result) {
    return Failed(WithStderr("objective exited 0 but printed no result line {\"value\": v} "
                             "on stdout",
                             child.stderr_path, options.stderr_tail_bytes),
                  dir);
  }
  out.kind = TrialOutcome::Kind::kComplete;
  out.value = handler.value;
  out.result_json = handler.result_line;
  return out;
}

}  // namespace peftsearch::daemon
