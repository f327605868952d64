#include "controller/dashboard/http_server.h"

#include <httplib.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "controller/dashboard/pages.h"
#include "controller/metrics.h"

namespace peftsearch::controller::dashboard {
namespace {

constexpr char kHtml[] = "text/html; charset=utf-8";
constexpr char kJson[] = "application/json";

int HttpStatusOf(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kInvalidArgument: return 400;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kUnavailable: return 503;
    default: return 500;
  }
}

void SendError(const absl::Status& s, httplib::Response* res) {
  res->status = HttpStatusOf(s);
  res->set_content(Json({{"error", std::string(s.message())}}).dump() + "\n", kJson);
}

std::optional<storage::TrialState> ParseState(const std::string& text, bool* ok) {
  *ok = true;
  if (text.empty()) return std::nullopt;
  for (auto s : {storage::TrialState::kWaiting, storage::TrialState::kRunning,
                 storage::TrialState::kComplete, storage::TrialState::kPruned,
                 storage::TrialState::kFailed}) {
    std::string name = storage::TrialStateName(s);
    if (strcasecmp(name.c_str(), text.c_str()) == 0) return s;
  }
  *ok = false;
  return std::nullopt;
}

Json ParseOrNull(const std::string& text) {
  if (text.empty()) return nullptr;
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? Json(nullptr) : j;
}

}  // namespace

StudyInfo ToStudyInfo(const StudyView& v) {
  StudyInfo s;
  s.id = v.record.id;
  s.name = v.record.name;
  s.state = storage::StudyStateName(v.record.state);
  s.strategy = v.spec.strategy_type;
  s.maximize = v.spec.maximize;
  s.phase = v.record.phase;
  s.max_trials = v.max_trials;
  s.parallelism = v.spec.parallelism;
  s.waiting = v.counts.waiting;
  s.running = v.counts.running;
  s.complete = v.counts.complete;
  s.pruned = v.counts.pruned;
  s.failed = v.counts.failed;
  s.best_value = v.best_value;
  s.best_trial_number = v.best_trial_number;
  s.summary = ParseOrNull(v.record.summary_json);
  for (const ParamDef& p : v.spec.space) {
    ParamSpecInfo info;
    info.numeric = p.type != ParamDef::Type::kCategorical;
    info.log = p.log;
    info.low = p.low;
    info.high = p.high;
    s.space[p.name] = info;
  }
  s.created_ms = v.record.created_ms;
  s.updated_ms = v.record.updated_ms;
  return s;
}

TrialInfo ToTrialInfo(const storage::TrialRecord& r) {
  TrialInfo t;
  t.number = r.number;
  t.state = storage::TrialStateName(r.state);
  t.phase = r.phase;
  t.params = ParseOrNull(r.params_json);
  if (!t.params.is_object()) t.params = Json::object();
  t.value = r.value;
  t.result = ParseOrNull(r.result_json);
  t.intermediate = r.intermediate_values;
  t.attempt = r.attempt;
  t.worker_id = r.worker_id;
  t.message = r.message;
  t.created_ms = r.created_ms;
  t.started_ms = r.started_ms;
  t.finished_ms = r.finished_ms;
  return t;
}

DashboardServer::DashboardServer(StudyEngine* engine, DashboardOptions options)
    : engine_(engine), options_(std::move(options)), http_(std::make_unique<httplib::Server>()) {}

DashboardServer::~DashboardServer() { Stop(); }

int64_t DashboardServer::Now() const {
  if (options_.now_ms) return options_.now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

absl::StatusOr<std::unique_ptr<DashboardServer>> DashboardServer::Start(StudyEngine* engine,
                                                                        DashboardOptions options) {
  const size_t colon = options.address.rfind(':');
  if (colon == std::string::npos || colon + 1 == options.address.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http: want host:port, got '", options.address, "'"));
  }
  std::string host = options.address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  int port = 0;
  try {
    port = std::stoi(options.address.substr(colon + 1));
  } catch (...) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http: bad port in '", options.address, "'"));
  }
  std::unique_ptr<DashboardServer> server(new DashboardServer(engine, std::move(options)));
  server->Routes();
  httplib::Server* http = server->http_.get();
  // httplib's default also sets SO_REUSEPORT, which lets a second controller
  // bind the same port silently; keep only SO_REUSEADDR.
  http->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  http->set_read_timeout(5, 0);
  http->set_write_timeout(5, 0);
  const int bound = port == 0 ? http->bind_to_any_port(host) : (http->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(absl::StrCat("--http: cannot listen on '",
                                               server->options_.address, "'"));
  }
  server->port_ = bound;
  const std::string shown_host = server->options_.address.substr(0, colon);
  server->address_ = absl::StrCat(shown_host.empty() ? "0.0.0.0" : shown_host, ":", bound);
  server->thread_ = std::thread([http] { http->listen_after_bind(); });
  // Stop() before listen_after_bind has started would be lost; wait for it.
  for (int i = 0; i < 500 && !http->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return server;
}

void DashboardServer::Stop() {
  if (!thread_.joinable()) return;
  http_->stop();
  thread_.join();
}

absl::StatusOr<std::vector<TrialInfo>> DashboardServer::AllTrials(
    const std::string& ref, std::optional<storage::TrialState> state) {
  std::vector<TrialInfo> out;
  std::string token;
  do {
    auto page = engine_->ListTrials(ref, state, 1000, token, /*include_intermediate=*/true);
    if (!page.ok()) return page.status();
    for (const auto& r : page->trials) out.push_back(ToTrialInfo(r));
    token = page->next_page_token;
  } while (!token.empty());
  return out;
}

std::string DashboardServer::MetricsText() {
  MetricsSnapshot snap;
  if (auto studies = engine_->ListStudies(); studies.ok()) {
    for (const StudyView& v : *studies) snap.studies.push_back(ToStudyInfo(v));
  }
  if (auto workers = engine_->ListWorkers(); workers.ok()) {
    snap.workers_registered = static_cast<int64_t>(workers->size());
    for (const WorkerView& w : *workers) snap.workers_alive += w.alive ? 1 : 0;
  }
  // Read the event log from where the previous scrape stopped.
  for (;;) {
    auto events = engine_->EventsAfter(0, tally_.last_seq(), 5000);
    if (!events.ok() || events->empty()) break;
    tally_.Add(*events);
    if (events->size() < 5000) break;
  }
  tally_.Fill(Now(), &snap);
  return RenderPrometheus(snap, MetricsRegistry::Global().RenderText());
}

void DashboardServer::Routes() {
  httplib::Server& http = *http_;
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!options_.authorize) return httplib::Server::HandlerResponse::Unhandled;
    const std::string value = req.get_header_value("Authorization");
    std::optional<std::string_view> header;
    if (req.has_header("Authorization")) header = value;
    absl::Status s = options_.authorize(header);
    if (s.ok()) return httplib::Server::HandlerResponse::Unhandled;
    SendError(s, &res);
    if (res.status == 401) res.set_header("WWW-Authenticate", "Bearer");
    return httplib::Server::HandlerResponse::Handled;
  });
  http.Get("/", [this](const httplib::Request&, httplib::Response& res) {
    auto views = engine_->ListStudies();
    if (!views.ok()) return SendError(views.status(), &res);
    std::vector<StudyInfo> studies;
    for (const StudyView& v : *views) studies.push_back(ToStudyInfo(v));
    res.set_content(StudiesPage(studies), kHtml);
  });
  http.Get(R"(/studies/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    auto view = engine_->GetStudy(req.matches[1].str());
    if (!view.ok()) return SendError(view.status(), &res);
    auto trials = AllTrials(req.matches[1].str(), std::nullopt);
    if (!trials.ok()) return SendError(trials.status(), &res);
    res.set_content(StudyPage(ToStudyInfo(*view), *trials), kHtml);
  });
  http.Get("/api/studies", [this](const httplib::Request&, httplib::Response& res) {
    auto views = engine_->ListStudies();
    if (!views.ok()) return SendError(views.status(), &res);
    std::vector<StudyInfo> studies;
    for (const StudyView& v : *views) studies.push_back(ToStudyInfo(v));
    res.set_content(StudiesJson(studies).dump() + "\n", kJson);
  });
  http.Get(R"(/api/studies/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    auto view = engine_->GetStudy(req.matches[1].str());
    if (!view.ok()) return SendError(view.status(), &res);
    if (req.get_param_value("fields") == "study") {  // the page's cheap poll
      res.set_content(Json({{"study", StudyToJson(ToStudyInfo(*view))}}).dump() + "\n", kJson);
      return;
    }
    auto trials = AllTrials(req.matches[1].str(), std::nullopt);
    if (!trials.ok()) return SendError(trials.status(), &res);
    res.set_content(StudyDetailJson(ToStudyInfo(*view), *trials).dump() + "\n", kJson);
  });
  http.Get(R"(/api/studies/([^/]+)/trials)",
           [this](const httplib::Request& req, httplib::Response& res) {
             bool ok = true;
             auto state = ParseState(req.get_param_value("state"), &ok);
             if (!ok) {
               return SendError(absl::InvalidArgumentError(
                                    "state: one of WAITING, RUNNING, COMPLETE, PRUNED, FAILED"),
                                &res);
             }
             auto trials = AllTrials(req.matches[1].str(), state);
             if (!trials.ok()) return SendError(trials.status(), &res);
             res.set_content(TrialsJson(*trials).dump() + "\n", kJson);
           });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(MetricsText(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
}

}  // namespace peftsearch::controller::dashboard
