#include "controller/cli/format.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"

namespace peftsearch::cli {
namespace {

using nlohmann::json;
using ordered_json = nlohmann::ordered_json;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Parsed JSON, or the text itself as a JSON string when it does not parse
// (the output stays valid JSON either way).
ordered_json JsonOrString(const std::string& text) {
  if (text.empty()) return nullptr;
  ordered_json j = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return text;
  return j;
}

std::string ScalarText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string CompactValue(const json& v) {
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.6g", v.get<double>());
    return buf;
  }
  return ScalarText(v);
}

std::string Best(const v1::Study& s) {
  if (!s.has_best()) return "-";
  return FormatValue(true, s.best_value()) + " (trial " + std::to_string(s.best_trial_number()) +
         ")";
}

int64_t Done(const v1::TrialCounts& c) { return c.complete() + c.pruned() + c.failed(); }

std::string Pretty(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return text;
  return j.dump(2);
}

std::string Indent(const std::string& text, const std::string& prefix) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out += prefix + text.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

}  // namespace

std::string TrialStateName(v1::TrialState state) {
  switch (state) {
    case v1::WAITING:
      return "waiting";
    case v1::RUNNING:
      return "running";
    case v1::COMPLETE:
      return "complete";
    case v1::PRUNED:
      return "pruned";
    case v1::FAILED:
      return "failed";
    default:
      return "unspecified";
  }
}

std::string StudyStateName(v1::StudyState state) {
  switch (state) {
    case v1::STUDY_RUNNING:
      return "running";
    case v1::STUDY_COMPLETE:
      return "complete";
    case v1::STUDY_CANCELLED:
      return "cancelled";
    default:
      return "unspecified";
  }
}

absl::StatusOr<v1::TrialState> ParseTrialState(const std::string& name) {
  std::string n = Lower(name);
  for (v1::TrialState s : {v1::WAITING, v1::RUNNING, v1::COMPLETE, v1::PRUNED, v1::FAILED}) {
    if (n == TrialStateName(s)) return s;
  }
  return absl::InvalidArgumentError("unknown trial state '" + name +
                                    "' (use waiting, running, complete, pruned or failed)");
}

absl::StatusOr<TrialFormat> ParseTrialFormat(const std::string& name) {
  std::string n = Lower(name);
  if (n == "table") return TrialFormat::kTable;
  if (n == "json") return TrialFormat::kJson;
  if (n == "csv") return TrialFormat::kCsv;
  return absl::InvalidArgumentError("unknown format '" + name + "' (use table, json or csv)");
}

std::string FormatValue(bool has_value, double value) {
  if (!has_value) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", value);
  return buf;
}

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size(), 0);
  auto measure = [&width](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  auto line = [&width](const std::vector<std::string>& row) {
    std::string out;
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      bool last = i + 1 == row.size() || i + 1 == width.size();
      out += row[i];
      if (!last) out += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(header);
  for (const auto& row : rows) out += line(row);
  return out;
}

std::string CsvField(const std::string& field) {
  if (field.find_first_of(",\"\n\r") == std::string::npos) return field;
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string CompactParams(const std::string& params_json) {
  json j = json::parse(params_json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return params_json;
  std::string out;
  for (auto it = j.begin(); it != j.end(); ++it) {  // nlohmann::json keeps keys sorted
    out += (out.empty() ? "" : " ") + it.key() + "=" + CompactValue(it.value());
  }
  return out;
}

std::string FormatCreated(const v1::Study& study) {
  return "created study id=" + std::to_string(study.id()) + " name=" + study.name() +
         " state=" + StudyStateName(study.state()) + "\n";
}

std::string FormatStudies(const std::vector<v1::Study>& studies) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Study& s : studies) {
    rows.push_back({std::to_string(s.id()), s.name(), StudyStateName(s.state()), s.direction(),
                    std::to_string(Done(s.counts())) + "/" + std::to_string(s.max_trials()),
                    std::to_string(s.counts().running()), Best(s), s.strategy()});
  }
  return FormatTable({"ID", "NAME", "STATE", "DIRECTION", "DONE", "RUNNING", "BEST", "STRATEGY"},
                     rows);
}

std::string FormatStudyStatus(const v1::Study& s) {
  const v1::TrialCounts& c = s.counts();
  std::string out;
  out += "study:       " + s.name() + " (id " + std::to_string(s.id()) + ")\n";
  out += "state:       " + StudyStateName(s.state()) + "\n";
  out += "direction:   " + s.direction() + "\n";
  out += "strategy:    " + s.strategy() +
         (s.strategy() == "hybrid_peft" ? " (phase " + std::to_string(s.phase()) + ")" : "") +
         "\n";
  out += "progress:    " + std::to_string(Done(c)) + "/" + std::to_string(s.max_trials()) +
         " done, parallelism " + std::to_string(s.parallelism()) + "\n";
  out += "trials:      waiting " + std::to_string(c.waiting()) + ", running " +
         std::to_string(c.running()) + ", complete " + std::to_string(c.complete()) +
         ", pruned " + std::to_string(c.pruned()) + ", failed " + std::to_string(c.failed()) +
         "\n";
  out += "best:        " + Best(s) + "\n";
  if (!s.summary_json().empty()) out += "summary:\n" + Indent(Pretty(s.summary_json()), "  ");
  return out;
}

std::string FormatTrials(const std::vector<v1::Trial>& trials, TrialFormat format) {
  if (format == TrialFormat::kJson) {
    ordered_json arr = ordered_json::array();
    for (const v1::Trial& t : trials) {
      ordered_json o;
      o["number"] = t.number();
      o["state"] = TrialStateName(t.state());
      o["value"] = t.has_value() ? ordered_json(t.value()) : ordered_json(nullptr);
      o["phase"] = t.phase();
      o["attempt"] = t.attempt();
      o["params"] = JsonOrString(t.params_json());
      o["result"] = JsonOrString(t.result_json());
      o["worker_id"] = t.worker_id();
      o["message"] = t.message();
      o["created_unix_ms"] = t.created_unix_ms();
      o["started_unix_ms"] = t.started_unix_ms();
      o["finished_unix_ms"] = t.finished_unix_ms();
      if (t.intermediate_values_size() > 0) {
        ordered_json iv = ordered_json::array();
        for (const v1::IntermediateValue& v : t.intermediate_values()) {
          iv.push_back({{"step", v.step()}, {"value", v.value()}});
        }
        o["intermediate_values"] = iv;
      }
      arr.push_back(o);
    }
    return arr.dump(2) + "\n";
  }
  if (format == TrialFormat::kCsv) {
    std::set<std::string> names;
    std::vector<json> params;
    for (const v1::Trial& t : trials) {
      json p = json::parse(t.params_json(), nullptr, /*allow_exceptions=*/false);
      if (!p.is_object()) p = json::object();
      for (auto it = p.begin(); it != p.end(); ++it) names.insert(it.key());
      params.push_back(p);
    }
    std::string out = "number,state,value,phase,attempt";
    for (const std::string& n : names) out += "," + CsvField("params_" + n);
    out += ",message\n";
    for (size_t i = 0; i < trials.size(); ++i) {
      const v1::Trial& t = trials[i];
      // Full precision: CSV is for machines.
      out += std::to_string(t.number()) + "," + TrialStateName(t.state()) + "," +
             (t.has_value() ? json(t.value()).dump() : "") + "," + std::to_string(t.phase()) +
             "," + std::to_string(t.attempt());
      for (const std::string& n : names) {
        auto it = params[i].find(n);
        out += "," + (it == params[i].end() ? "" : CsvField(ScalarText(*it)));
      }
      out += "," + CsvField(t.message()) + "\n";
    }
    return out;
  }
  std::vector<std::vector<std::string>> rows;
  for (const v1::Trial& t : trials) {
    rows.push_back({std::to_string(t.number()), TrialStateName(t.state()),
                    FormatValue(t.has_value(), t.value()), std::to_string(t.phase()),
                    std::to_string(t.attempt()), CompactParams(t.params_json())});
  }
  return FormatTable({"NUMBER", "STATE", "VALUE", "PHASE", "ATTEMPT", "PARAMS"}, rows);
}

std::string FormatBest(const v1::Study& study, const std::vector<v1::Trial>& best) {
  std::string out;
  if (best.empty()) {
    out += "no complete trial yet in study " + study.name() + "\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    int rank = 1;
    for (const v1::Trial& t : best) {
      rows.push_back({std::to_string(rank++), std::to_string(t.number()),
                      FormatValue(t.has_value(), t.value()), std::to_string(t.phase()),
                      CompactParams(t.params_json())});
    }
    out += FormatTable({"RANK", "TRIAL", "VALUE", "PHASE", "PARAMS"}, rows);
    const v1::Trial& top = best.front();
    out += "best params: " + top.params_json() + "\n";
    if (!top.result_json().empty()) out += "best result: " + top.result_json() + "\n";
  }
  if (!study.summary_json().empty()) {
    out += "summary:\n" + Indent(Pretty(study.summary_json()), "  ");
  }
  return out;
}

std::string FormatWorkers(const std::vector<v1::Worker>& workers, int64_t now_unix_ms) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Worker& w : workers) {
    std::string seen = "never";
    if (w.last_heartbeat_unix_ms() > 0) {
      int64_t ago_s = std::max<int64_t>(0, (now_unix_ms - w.last_heartbeat_unix_ms()) / 1000);
      seen = std::to_string(ago_s) + "s ago";
    }
    rows.push_back({w.id(), w.name(), w.hostname(), std::to_string(w.slots()),
                    std::to_string(w.running_trials()), w.alive() ? "yes" : "no", seen});
  }
  return FormatTable({"ID", "NAME", "HOST", "SLOTS", "RUNNING", "ALIVE", "LAST_HEARTBEAT"}, rows);
}

std::string FormatAsked(const v1::Trial& trial) {
  std::string params = trial.params_json().empty() ? "{}" : trial.params_json();
  json j = json::parse(params, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) params = j.dump();
  return "trial " + std::to_string(trial.number()) + "\n" + params + "\n";
}

std::string FormatTold(const v1::Trial& trial) {
  return "trial " + std::to_string(trial.number()) + " " + TrialStateName(trial.state()) +
         (trial.has_value() ? " value=" + FormatValue(true, trial.value()) : "") + "\n";
}

std::string FormatCancelled(const v1::Study& study) {
  return "cancelled study id=" + std::to_string(study.id()) + " name=" + study.name() +
         " state=" + StudyStateName(study.state()) + "\n";
}

std::string FormatProgressBar(const v1::Study& s, int width) {
  const v1::TrialCounts& c = s.counts();
  int64_t done = Done(c);
  int64_t total = s.max_trials();
  int filled = total > 0 ? static_cast<int>(std::min<int64_t>(done, total) * width / total) : 0;
  std::string bar = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
  return bar + std::to_string(done) + "/" + std::to_string(total) + " done  running " +
         std::to_string(c.running()) + "  pruned " + std::to_string(c.pruned()) + "  failed " +
         std::to_string(c.failed()) + "  best " + Best(s);
}

std::string FormatWatchEnd(const v1::Study& s) {
  return "study " + s.name() + " " + StudyStateName(s.state()) + ": " +
         std::to_string(Done(s.counts())) + " trials done, best " + Best(s);
}

std::string FormatRpcError(const grpc::Status& status) {
  std::string code = absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
  std::string message = status.error_message();
  for (char& c : message) {
    if (c == '\n') c = ' ';  // one line, always
  }
  return "error: " + code + ": " + message;
}

}  // namespace peftsearch::cli
