// DashboardServer: the controller's HTTP side (cpp-httplib). Serves the
// dashboard pages and JSON of pages.h and /metrics, reading everything through
// the StudyEngine's thread-safe queries; it never writes.
//
// Thread safety: Start/Stop from one thread; requests are served on
// httplib's own thread pool.
#ifndef PEFTSEARCH_CONTROLLER_DASHBOARD_HTTP_SERVER_H_
#define PEFTSEARCH_CONTROLLER_DASHBOARD_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "controller/dashboard/model.h"
#include "controller/dashboard/prometheus.h"
#include "controller/study_engine.h"

namespace httplib {
class Server;
}

namespace peftsearch::controller::dashboard {

struct DashboardOptions {
  // host:port to listen on; port 0 picks a free port.
  std::string address = "127.0.0.1:8080";
  // Called with each request's Authorization header (nullopt if absent);
  // a non-OK status refuses the request (UNAUTHENTICATED -> 401, anything
  // else -> 403). Unset: every request is served. The controller passes the
  // same check as the gRPC API's read role.
  std::function<absl::Status(std::optional<std::string_view> authorization)> authorize;
  // Milliseconds since the epoch; replaceable in tests.
  std::function<int64_t()> now_ms;
};

// Engine views to the dashboard's plain structs.
StudyInfo ToStudyInfo(const StudyView& view);
TrialInfo ToTrialInfo(const storage::TrialRecord& record);

class DashboardServer {
 public:
  // Binds options.address and starts serving. `engine` must outlive the
  // server. UNAVAILABLE if the address cannot be bound, INVALID_ARGUMENT if it
  // is not host:port.
  static absl::StatusOr<std::unique_ptr<DashboardServer>> Start(StudyEngine* engine,
                                                                DashboardOptions options);
  ~DashboardServer();  // Stop()s
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  // The bound "host:port".
  const std::string& address() const { return address_; }
  int port() const { return port_; }

  // Stops accepting, finishes running requests, joins. Idempotent.
  void Stop();

  // The /metrics text now (also used by tests without HTTP).
  std::string MetricsText();

 private:
  DashboardServer(StudyEngine* engine, DashboardOptions options);
  void Routes();
  absl::StatusOr<std::vector<TrialInfo>> AllTrials(const std::string& ref,
                                                   std::optional<storage::TrialState> state);
  int64_t Now() const;

  StudyEngine* const engine_;
  const DashboardOptions options_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::string address_;
  int port_ = 0;
  EventTally tally_;
};

}  // namespace peftsearch::controller::dashboard

#endif  // PEFTSEARCH_CONTROLLER_DASHBOARD_HTTP_SERVER_H_
