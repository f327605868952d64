#include "worker/daemon/daemon.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "worker/daemon/log.h"

namespace peftsearch::daemon {
namespace {

// The channel's own reconnect backoff: short, so that a restarted controller
// is found within about a second; our RPC retries carry their own backoff.
constexpr std::chrono::milliseconds kMaxReconnectBackoff{1000};

constexpr LogLevel kInfo = LogLevel::kInfo;
constexpr LogLevel kWarn = LogLevel::kWarning;
constexpr LogLevel kError = LogLevel::kError;

std::string HostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

std::string CodeName(const absl::Status& s) { return absl::StatusCodeToString(s.code()); }

// Distinct seeds per thread and process, so that workers restarted together
// do not retry in lockstep.
uint64_t Seed(int salt) {
  return static_cast<uint64_t>(getpid()) * 1000003u + static_cast<uint64_t>(salt) +
         static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

TrialSpec ToTrialSpec(const v1::TrialAssignment& a) {
  TrialSpec t;
  t.study_id = a.study_id();
  t.study_name = a.study_name();
  t.number = a.number();
  t.attempt = a.attempt();
  t.phase = a.phase();
  t.params_json = a.params_json().empty() ? "{}" : a.params_json();
  t.objective_json = a.objective_json();
  return t;
}

// For the trial_started line; the runner validates the objective itself.
std::string ObjectiveTypeOf(const std::string& objective_json) {
  nlohmann::json j = nlohmann::json::parse(objective_json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return "invalid";
  auto type = j.find("type");
  return type != j.end() && type->is_string() ? type->get<std::string>() : "invalid";
}

}  // namespace

// Forwards progress lines as ReportProgress; maps the reply to go on / stop.
class Daemon::GrpcProgressSink : public ProgressSink {
 public:
  GrpcProgressSink(Daemon* daemon, const v1::TrialAssignment& a) : daemon_(daemon), a_(a) {}

  Action Report(int64_t step, double value, std::string* why) override {
    std::string reason = daemon_->StopReason(a_.lease().token());
    if (!reason.empty()) {
      *why = reason;
      return Action::kStop;
    }
    v1::ReportProgressRequest req;
    req.set_lease_token(a_.lease().token());
    req.set_step(step);
    req.set_value(value);
    absl::StatusOr<v1::ReportProgressResponse> resp = daemon_->client_->ReportProgress(req);
    if (resp.ok()) {
      switch (resp->action()) {
        case v1::ReportProgressResponse::PRUNE:
          *why = "pruned";
          return Action::kStop;
        case v1::ReportProgressResponse::CANCEL:
          *why = "cancelled";
          return Action::kStop;
        default:
          return Action::kContinue;
      }
    }
    if (resp.status().code() == absl::StatusCode::kFailedPrecondition ||
        resp.status().code() == absl::StatusCode::kNotFound) {
      *why = "lease_stale";
      return Action::kStop;
    }
    // Progress is advisory: a point lost while the controller is away only
    // delays pruning, so the trial goes on rather than stalling its child.
    if (IsRetryable(resp.status())) daemon_->NoteControllerAway();
    Log(kWarn, "progress_dropped",
        {{"study", a_.study_name()}, {"trial", a_.number()}, {"step", step},
         {"code", CodeName(resp.status())}, {"message", std::string(resp.status().message())}});
    return Action::kContinue;
  }

 private:
  Daemon* daemon_;
  const v1::TrialAssignment& a_;
};

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Create(DaemonOptions options) {
  if (options.controller.empty()) {
    return absl::InvalidArgumentError(
        "no controller address: pass --controller HOST:PORT or set PEFTSEARCH_CONTROLLER");
  }
  if (options.slots < 1) {
    return absl::InvalidArgumentError("--slots must be at least 1, got " +
                                      std::to_string(options.slots));
  }
  if (options.workdir.empty()) return absl::InvalidArgumentError("--workdir is required");
  if (options.self_exe.empty()) return absl::InvalidArgumentError("self_exe is not set");
  if (!options.trainer.empty() && access(options.trainer.c_str(), X_OK) != 0) {
    return absl::InvalidArgumentError("--trainer " + options.trainer +
                                      " is not an executable file");
  }
  while (options.workdir.size() > 1 && options.workdir.back() == '/') options.workdir.pop_back();
  for (size_t pos = 1; pos <= options.workdir.size(); ++pos) {
    if (pos != options.workdir.size() && options.workdir[pos] != '/') continue;
    std::string prefix = options.workdir.substr(0, pos);
    if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::InternalError("cannot create workdir " + prefix + ": " +
                                 std::strerror(errno));
    }
  }
  if (access(options.workdir.c_str(), W_OK) != 0) {
    return absl::InternalError("workdir " + options.workdir + " is not writable");
  }
  if (options.name.empty()) options.name = HostName();
  if (absl::Status s = LoadPemFiles(&options.security); !s.ok()) return s;
  return std::unique_ptr<Daemon>(new Daemon(std::move(options)));
}

Daemon::Daemon(DaemonOptions options)
    : options_(std::move(options)),
      runner_options_{ObjectiveOptions{options_.self_exe, options_.trainer}, options_.workdir,
                      options_.kill_grace},
      client_(std::make_unique<WorkerClient>(
          MakeWorkerChannel(options_.controller, kMaxReconnectBackoff, options_.security))) {}

Daemon::~Daemon() = default;

std::string Daemon::worker_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return worker_id_;
}

bool Daemon::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

bool Daemon::past_shutdown_deadline() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_ && Clock::now() >= shutdown_deadline_;
}

void Daemon::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      stopping_ = true;
      shutdown_deadline_ = Clock::now() + options_.shutdown_grace;
    } else {
      shutdown_deadline_ = Clock::now();  // asked twice: no more waiting
    }
    for (grpc::ClientContext* ctx : acquiring_) ctx->TryCancel();
  }
  cv_.notify_all();
  Log(kInfo, "shutdown_requested",
      {{"running_leases", static_cast<int64_t>(leases_.Tokens().size())},
       {"grace_ms", static_cast<int64_t>(options_.shutdown_grace.count())}});
}

bool Daemon::SleepUnlessStopping(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t epoch = reachable_epoch_;
  cv_.wait_for(lock, d, [this, epoch] { return stopping_ || reachable_epoch_ != epoch; });
  return stopping_;
}

bool Daemon::SleepWithinGrace(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t epoch = reachable_epoch_;
  auto past_deadline = [this] { return stopping_ && Clock::now() >= shutdown_deadline_; };
  // Without a deadline wake-up the wait would oversleep the grace period.
  Clock::time_point until = Clock::now() + d;
  if (stopping_ && shutdown_deadline_ < until) until = shutdown_deadline_;
  cv_.wait_until(lock, until,
                 [&] { return past_deadline() || reachable_epoch_ != epoch; });
  return !past_deadline();
}

void Daemon::NoteControllerAway() {
  std::lock_guard<std::mutex> lock(mu_);
  need_register_ = true;
}

void Daemon::NoteControllerBack() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++reachable_epoch_;
  }
  cv_.notify_all();
}

std::string Daemon::StopReason(const std::string& lease_token) const {
  std::string reason = leases_.StopReason(lease_token);
  if (!reason.empty()) return reason;
  if (past_shutdown_deadline()) return "shutdown";
  return "";
}

absl::Status Daemon::Register(bool reregister) {
  v1::RegisterWorkerRequest req;
  req.set_name(options_.name);
  req.set_hostname(HostName());
  req.set_slots(options_.slots);
  for (const std::string& t : SupportedObjectiveTypes(runner_options_.objective)) {
    req.add_objective_types(t);
  }
  std::string old_id = worker_id();
  if (reregister) req.set_worker_id(old_id);
  absl::StatusOr<v1::RegisterWorkerResponse> resp = client_->RegisterWorker(req);
  if (!resp.ok()) return resp.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    worker_id_ = resp->worker_id();
    heartbeat_interval_ms_ = resp->heartbeat_interval_ms() > 0
                                 ? resp->heartbeat_interval_ms()
                                 : static_cast<int>(options_.default_heartbeat.count());
    need_register_ = false;
  }
  Log(kInfo, reregister ? "reregistered" : "registered",
      {{"worker_id", resp->worker_id()}, {"name", options_.name}, {"slots", options_.slots},
       {"heartbeat_interval_ms", resp->heartbeat_interval_ms()}});
  if (reregister && resp->worker_id() != old_id) {
    Log(kWarn, "worker_id_changed", {{"old", old_id}, {"new", resp->worker_id()}});
  }
  return absl::OkStatus();
}

absl::Status Daemon::Run() {
  std::string types;
  for (const std::string& t : SupportedObjectiveTypes(runner_options_.objective)) {
    types += (types.empty() ? "" : ",") + t;
  }
  Log(kInfo, "worker_starting",
      {{"controller", options_.controller}, {"name", options_.name}, {"slots", options_.slots},
       {"workdir", options_.workdir}, {"objective_types", types}});

  Backoff backoff(options_.backoff, Seed(-1));
  for (;;) {
    absl::Status s = Register(/*reregister=*/false);
    if (s.ok()) break;
    if (!IsRetryable(s)) {
      Log(kError, "register_failed", {{"code", CodeName(s)}, {"message", std::string(s.message())}});
      return s;
    }
    std::chrono::milliseconds delay = backoff.Next();
    Log(kWarn, "controller_unreachable",
        {{"rpc", "RegisterWorker"}, {"code", CodeName(s)}, {"message", std::string(s.message())},
         {"retry_in_ms", static_cast<int64_t>(delay.count())}});
    if (SleepUnlessStopping(delay)) {
      Log(kInfo, "stopped", {{"reason", "shutdown before registration"}});
      return absl::OkStatus();
    }
  }

  std::thread heartbeat([this] { HeartbeatLoop(); });
  std::vector<std::thread> slots;
  for (int i = 0; i < options_.slots; ++i) slots.emplace_back([this, i] { SlotLoop(i); });
  for (std::thread& t : slots) t.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    slots_done_ = true;
  }
  cv_.notify_all();
  heartbeat.join();
  Log(kInfo, "stopped", {{"worker_id", worker_id()}});
  return absl::OkStatus();
}

void Daemon::HeartbeatLoop() {
  Backoff backoff(options_.backoff, Seed(-2));
  bool failing = false;
  for (;;) {
    std::chrono::milliseconds wait;
    {
      std::lock_guard<std::mutex> lock(mu_);
      wait = std::chrono::milliseconds(heartbeat_interval_ms_);
    }
    absl::Status status = absl::OkStatus();
    bool need_register;
    {
      std::lock_guard<std::mutex> lock(mu_);
      need_register = need_register_;
    }
    if (need_register) status = Register(/*reregister=*/true);
    if (status.ok()) {
      v1::HeartbeatRequest req;
      req.set_worker_id(worker_id());
      for (const std::string& token : leases_.Tokens()) req.add_lease_tokens(token);
      absl::StatusOr<v1::HeartbeatResponse> resp = client_->Heartbeat(req);
      status = resp.status();
      if (resp.ok()) {
        for (const v1::LeaseStatus& lease : resp->leases()) {
          if (lease.cancel()) {
            leases_.RequestStop(lease.lease_token(), "cancelled");
          } else if (!lease.valid()) {
            leases_.RequestStop(lease.lease_token(), "lease_invalid");
          }
        }
      }
    }
    if (status.ok()) {
      // need_register: some other RPC saw the controller away, even if this
      // thread's (wait-for-ready) heartbeat rode out the outage.
      if (failing || need_register) {
        Log(kInfo, "controller_reachable", {{"rpc", "Heartbeat"}});
        NoteControllerBack();
      }
      failing = false;
      backoff.Reset();
    } else {
      if (status.code() == absl::StatusCode::kNotFound || IsRetryable(status)) {
        NoteControllerAway();  // restarted, or it forgot us: say who we are again
      }
      wait = std::min(wait, backoff.Next());
      if (!failing || !IsRetryable(status)) {
        Log(IsRetryable(status) ? kWarn : kError,
            IsRetryable(status) ? "controller_unreachable" : "heartbeat_failed",
            {{"rpc", "Heartbeat"}, {"code", CodeName(status)},
             {"message", std::string(status.message())},
             {"retry_in_ms", static_cast<int64_t>(wait.count())}});
      }
      failing = IsRetryable(status);
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, wait, [this] { return slots_done_; })) return;
  }
}

void Daemon::SlotLoop(int slot) {
  Backoff backoff(options_.backoff, Seed(slot));
  bool failing = false;
  std::vector<std::string> types = SupportedObjectiveTypes(runner_options_.objective);
  while (!stopping()) {
    v1::AcquireTrialRequest req;
    req.set_worker_id(worker_id());
    req.set_wait_ms(static_cast<int32_t>(options_.acquire_wait.count()));
    for (const std::string& t : types) req.add_objective_types(t);
    grpc::ClientContext ctx;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
      acquiring_.insert(&ctx);
    }
    absl::StatusOr<v1::AcquireTrialResponse> resp = client_->AcquireTrial(req, &ctx);
    {
      std::lock_guard<std::mutex> lock(mu_);
      acquiring_.erase(&ctx);
    }
    if (!resp.ok() && stopping()) break;  // cancelled by Shutdown()
    if (!resp.ok()) {
      const absl::Status& s = resp.status();
      if (s.code() == absl::StatusCode::kNotFound || IsRetryable(s)) NoteControllerAway();
      std::chrono::milliseconds delay = backoff.Next();
      if (!failing) {
        Log(IsRetryable(s) ? kWarn : kError,
            IsRetryable(s) ? "controller_unreachable" : "acquire_failed",
            {{"rpc", "AcquireTrial"}, {"slot", slot}, {"code", CodeName(s)},
             {"message", std::string(s.message())},
             {"retry_in_ms", static_cast<int64_t>(delay.count())}});
      }
      failing = true;
      SleepUnlessStopping(delay);
      continue;
    }
    if (failing) Log(kInfo, "controller_reachable", {{"rpc", "AcquireTrial"}, {"slot", slot}});
    failing = false;
    backoff.Reset();
    if (!resp->has_trial()) continue;
    RunAssignment(resp->assignment(), slot);
  }
}

bool Daemon::KilledWithTheWorker(const TrialOutcome& outcome) const {
  if (outcome.term_signal != SIGTERM && outcome.term_signal != SIGKILL &&
      outcome.term_signal != SIGINT) {
    return false;
  }
  // A batch system cancelling the job (scancel) signals every process at
  // once: the child may die before the signal thread has seen its own copy.
  // Not the objective's failure, so report nothing and let the lease expire.
  const auto until = Clock::now() + std::chrono::seconds(1);
  while (!stopping() && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return stopping();
}

void Daemon::RunAssignment(const v1::TrialAssignment& a, int slot) {
  const std::string& token = a.lease().token();
  leases_.Add(token);
  Log(kInfo, "trial_started",
      {{"study", a.study_name()}, {"study_id", a.study_id()}, {"trial", a.number()},
       {"attempt", a.attempt()}, {"phase", a.phase()}, {"slot", slot},
       {"objective", ObjectiveTypeOf(a.objective_json())}});
  GrpcProgressSink sink(this, a);
  TrialOutcome outcome = RunTrial(runner_options_, ToTrialSpec(a), &sink,
                                  [this, &token] { return StopReason(token); });
  switch (outcome.kind) {
    case TrialOutcome::Kind::kAbandoned:
      Log(kInfo, "trial_stopped",
          {{"study", a.study_name()}, {"trial", a.number()}, {"attempt", a.attempt()},
           {"reason", outcome.message},
           {"elapsed_ms", static_cast<int64_t>(outcome.elapsed.count())}});
      break;
    case TrialOutcome::Kind::kComplete:
      Log(kInfo, "trial_finished",
          {{"study", a.study_name()}, {"trial", a.number()}, {"attempt", a.attempt()},
           {"outcome", "complete"}, {"value", outcome.value},
           {"elapsed_ms", static_cast<int64_t>(outcome.elapsed.count())},
           {"dir", outcome.trial_dir}});
      Deliver(a, outcome);
      break;
    case TrialOutcome::Kind::kFailed:
      if (KilledWithTheWorker(outcome)) {
        Log(kInfo, "trial_stopped",
            {{"study", a.study_name()}, {"trial", a.number()}, {"attempt", a.attempt()},
             {"reason", "killed with the worker (shutdown); the lease expires and the trial is "
                        "retried"},
             {"elapsed_ms", static_cast<int64_t>(outcome.elapsed.count())}});
        break;
      }
      Log(kWarn, "trial_finished",
          {{"study", a.study_name()}, {"trial", a.number()}, {"attempt", a.attempt()},
           {"outcome", "failed"}, {"message", outcome.message},
           {"elapsed_ms", static_cast<int64_t>(outcome.elapsed.count())},
           {"dir", outcome.trial_dir}});
      Deliver(a, outcome);
      break;
  }
  leases_.Remove(token);
}

void Daemon::Deliver(const v1::TrialAssignment& a, const TrialOutcome& outcome) {
  const bool complete = outcome.kind == TrialOutcome::Kind::kComplete;
  const char* rpc = complete ? "CompleteTrial" : "FailTrial";
  Backoff backoff(options_.backoff, Seed(static_cast<int>(a.number())));
  for (;;) {
    std::string reason = leases_.StopReason(a.lease().token());
    if (!reason.empty()) {
      Log(kWarn, "result_dropped",
          {{"study", a.study_name()}, {"trial", a.number()}, {"rpc", rpc}, {"reason", reason}});
      return;
    }
    absl::Status status;
    v1::TrialState state = v1::TRIAL_STATE_UNSPECIFIED;
    if (complete) {
      v1::CompleteTrialRequest req;
      req.set_lease_token(a.lease().token());
      req.set_value(outcome.value);
      req.set_result_json(outcome.result_json);
      absl::StatusOr<v1::CompleteTrialResponse> resp = client_->CompleteTrial(req);
      status = resp.status();
      if (resp.ok()) state = resp->state();
    } else {
      v1::FailTrialRequest req;
      req.set_lease_token(a.lease().token());
      req.set_message(outcome.message);
      absl::StatusOr<v1::FailTrialResponse> resp = client_->FailTrial(req);
      status = resp.status();
      if (resp.ok()) state = resp->state();
    }
    if (status.ok()) {
      Log(kInfo, "result_delivered",
          {{"study", a.study_name()}, {"trial", a.number()}, {"rpc", rpc},
           {"state", v1::TrialState_Name(state)}, {"retries", backoff.attempt()}});
      return;
    }
    if (!IsRetryable(status)) {
      // FAILED_PRECONDITION: the lease is stale (expired and re-leased, or
      // the trial ended); retrying cannot help, and the trial is someone
      // else's now.
      Log(kWarn, "result_dropped",
          {{"study", a.study_name()}, {"trial", a.number()}, {"rpc", rpc},
           {"reason", status.code() == absl::StatusCode::kFailedPrecondition ? "stale_lease"
                                                                              : "refused"},
           {"code", CodeName(status)}, {"message", std::string(status.message())}});
      return;
    }
    NoteControllerAway();
    std::chrono::milliseconds delay = backoff.Next();
    Log(kWarn, "result_pending",
        {{"study", a.study_name()}, {"trial", a.number()}, {"rpc", rpc},
         {"code", CodeName(status)}, {"retry_in_ms", static_cast<int64_t>(delay.count())}});
    if (!SleepWithinGrace(delay)) {
      Log(kError, "result_lost",
          {{"study", a.study_name()}, {"trial", a.number()}, {"rpc", rpc},
           {"reason", "shutdown grace ended before the controller came back"}});
      return;
    }
  }
}

}  // namespace peftsearch::daemon
