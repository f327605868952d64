// Plain records that the TrialStore reads and writes. State numbers equal the
// proto enums (peftsearch.v1.TrialState / StudyState) so conversion is a cast.
#ifndef PEFTSEARCH_STORAGE_RECORDS_H_
#define PEFTSEARCH_STORAGE_RECORDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace peftsearch::storage {

enum class TrialState { kWaiting = 1, kRunning = 2, kComplete = 3, kPruned = 4, kFailed = 5 };
enum class StudyState { kRunning = 1, kComplete = 2, kCancelled = 3 };

const char* TrialStateName(TrialState state);  // "WAITING", ...
const char* StudyStateName(StudyState state);
inline bool IsFinal(TrialState s) {
  return s == TrialState::kComplete || s == TrialState::kPruned || s == TrialState::kFailed;
}

struct StudyRecord {
  int64_t id = 0;
  std::string name;
  std::string spec_json;
  StudyState state = StudyState::kRunning;
  int phase = 0;
  std::string summary_json;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  // Set once the study has finished: its counts, best trial and planned total
  // as the controller saw them (JSON); empty before, and for studies finished
  // by a controller older than schema version 4.
  std::string final_json;
};

struct TrialRecord {
  int64_t id = 0;
  int64_t study_id = 0;
  int64_t number = 0;
  TrialState state = TrialState::kWaiting;
  int phase = 0;
  std::string params_json;
  std::optional<double> value;
  std::string result_json;
  int attempt = 0;
  std::string worker_id;
  std::string lease_token;
  int64_t lease_deadline_ms = 0;
  std::string message;
  int64_t created_ms = 0;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  // Filled only by the calls that say so.
  std::vector<std::pair<int64_t, double>> intermediate_values;
};

struct WorkerRecord {
  std::string id;
  std::string name;
  std::string hostname;
  int slots = 1;
  std::string objective_types;  // comma-separated
  int64_t registered_ms = 0;
  int64_t last_heartbeat_ms = 0;
};

// A bearer token: only the SHA-256 (hex) of the secret is stored.
struct TokenRecord {
  int64_t id = 0;
  std::string name;
  std::string role;  // admin, submit, read, worker
  std::string sha256;
  int64_t created_ms = 0;
  int64_t revoked_ms = 0;  // 0 while the token is valid
};

struct EventRecord {
  int64_t seq = 0;
  int64_t study_id = 0;
  int64_t trial_number = -1;  // -1 for study-level events
  std::string kind;
  TrialState state = TrialState::kWaiting;
  std::optional<double> value;
  int64_t unix_ms = 0;
};

}  // namespace peftsearch::storage

#endif  // PEFTSEARCH_STORAGE_RECORDS_H_
