#include <algorithm>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controller/grpc_status.h"
#include "controller/metrics.h"
#include "controller/proto_convert.h"
#include "controller/services.h"
#include "controller/unary_call.h"

namespace peftsearch::controller {
namespace {

void ToProto(const Assignment& a, v1::AcquireTrialResponse* reply) {
  reply->set_has_trial(true);
  auto* out = reply->mutable_assignment();
  out->mutable_lease()->set_token(a.trial.lease_token);
  out->mutable_lease()->set_deadline_unix_ms(a.trial.lease_deadline_ms);
  out->set_study_id(a.trial.study_id);
  out->set_study_name(a.study_name);
  out->set_number(a.trial.number);
  out->set_attempt(a.trial.attempt);
  out->set_phase(a.trial.phase);
  out->set_params_json(a.trial.params_json);
  out->set_objective_json(a.objective_json);
}

// One AcquireTrial long poll: answered at once when a trial is WAITING,
// otherwise parked in the engine (no thread waits) until a trial comes, the
// wait ends, the client cancels (OnCancel) or the engine stops. Deletes
// itself when done.
//
// Lifetime: the answer may come on another thread (the store's commit
// thread, the engine's waiter) before Start has stored the handle, and once
// Finish is called gRPC may run OnDone (and delete this) at any moment. Hence
// Finish is the last thing that touches `this`, and an answer that comes
// before Start is done is finished by Start itself. (A Finish before the
// handler has returned the reactor is held by gRPC until it is bound.)
class AcquireReactor final : public grpc::ServerUnaryReactor {
 public:
  AcquireReactor(StudyEngine* engine, v1::AcquireTrialResponse* reply)
      : engine_(engine), reply_(reply), timer_("WorkerService/AcquireTrial") {}

  void Start(const std::string& worker_id, const std::vector<std::string>& types, int64_t wait_ms) {
    StudyEngine* const engine = engine_;
    const uint64_t handle = engine->AcquireTrialAsync(
        worker_id, types, wait_ms,
        [this](absl::StatusOr<std::optional<Assignment>> result) { Answer(result); });
    std::unique_lock<std::mutex> lock(mu_);
    started_ = true;
    handle_ = handle;
    if (answered_) {  // answered inline, or by another thread already
      lock.unlock();
      Finish(status_);
      return;
    }
    const bool cancel_now = cancelled_ && handle != 0;  // cancelled before the handle was known
    lock.unlock();
    // From here on the answer may come (and finish the call) on another thread.
    if (cancel_now) engine->CancelAcquire(handle);
  }

  void OnCancel() override {
    uint64_t handle = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
      handle = handle_;
    }
    // Ends the parked acquire with nullopt (no-op once answered), so that the
    // call finishes now rather than at its deadline. gRPC runs OnDone only
    // after OnCancel has returned.
    if (handle != 0) engine_->CancelAcquire(handle);
  }

  void OnDone() override { delete this; }

 private:
  // The engine calls this exactly once.
  void Answer(const absl::StatusOr<std::optional<Assignment>>& result) {
    grpc::Status status;
    if (!result.ok()) {
      status = ToGrpcStatus(result.status());
    } else if (result->has_value()) {
      ToProto(**result, reply_);
    } else {
      reply_->set_has_trial(false);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      answered_ = true;
      if (!started_) {
        status_ = status;  // Start finishes the call
        return;
      }
    }
    Finish(status);
  }

  StudyEngine* const engine_;
  v1::AcquireTrialResponse* const reply_;
  RpcTimer timer_;
  std::mutex mu_;
  bool started_ = false;    // Start has stored the handle; guarded by mu_
  bool answered_ = false;   // mu_
  grpc::Status status_;     // the answer's status while !started_; mu_
  bool cancelled_ = false;  // mu_
  uint64_t handle_ = 0;     // the engine's handle while parked; mu_
};

}  // namespace

grpc::ServerUnaryReactor* WorkerServiceImpl::RegisterWorker(
    grpc::CallbackServerContext* context, const v1::RegisterWorkerRequest* request,
    v1::RegisterWorkerResponse* reply) {
  return UnaryCall(context, pool_, "WorkerService/RegisterWorker", auth_, "RegisterWorker",
                   [=](const Principal& caller) {
                     if (auth_ != nullptr) {
                       absl::Status s = auth_->CheckReregister(caller, request->worker_id());
                       if (!s.ok()) return ToGrpcStatus(s);
                     }
                     storage::WorkerRecord w;
                     w.id = request->worker_id();
                     w.name = request->name();
                     w.hostname = request->hostname();
                     w.slots = request->slots();
                     for (const auto& t : request->objective_types()) {
                       w.objective_types += (w.objective_types.empty() ? "" : ",") + t;
                     }
                     auto id = engine_->RegisterWorker(w);
                     if (!id.ok()) return ToGrpcStatus(id.status());
                     if (auth_ != nullptr) {
                       absl::Status s = auth_->BindWorker(caller, *id);
                       if (!s.ok()) return ToGrpcStatus(s);
                     }
                     reply->set_worker_id(*id);
                     reply->set_heartbeat_interval_ms(engine_->heartbeat_interval_ms());
                     return grpc::Status::OK;
                   });
}

grpc::ServerUnaryReactor* WorkerServiceImpl::Heartbeat(grpc::CallbackServerContext* context,
                                                       const v1::HeartbeatRequest* request,
                                                       v1::HeartbeatResponse* reply) {
  return UnaryCall(context, pool_, "WorkerService/Heartbeat", auth_, "Heartbeat",
                   [=](const Principal& caller) {
                     if (auth_ != nullptr) {
                       absl::Status s = auth_->CheckWorker(caller, request->worker_id());
                       if (!s.ok()) return ToGrpcStatus(s);
                     }
                     std::vector<std::string> tokens(request->lease_tokens().begin(),
                                                     request->lease_tokens().end());
                     auto leases = engine_->Heartbeat(request->worker_id(), tokens);
                     if (!leases.ok()) return ToGrpcStatus(leases.status());
                     for (const LeaseState& l : *leases) {
                       auto* s = reply->add_leases();
                       s->set_lease_token(l.lease_token);
                       s->set_valid(l.valid);
                       s->set_cancel(l.cancel);
                       s->set_deadline_unix_ms(l.deadline_ms);
                     }
                     return grpc::Status::OK;
                   });
}

grpc::ServerUnaryReactor* WorkerServiceImpl::AcquireTrial(grpc::CallbackServerContext* context,
                                                          const v1::AcquireTrialRequest* request,
                                                          v1::AcquireTrialResponse* reply) {
  // On gRPC's thread: nothing here waits for a commit (see services.h).
  auto* reactor = new AcquireReactor(engine_, reply);
  auto caller = AuthorizeCall(auth_, context, "AcquireTrial");
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status()));
  } else if (request->worker_id().empty()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "worker_id: register first"));
  } else if (absl::Status s = auth_ != nullptr ? auth_->CheckWorker(*caller, request->worker_id())
                                               : absl::OkStatus();
             !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
  } else {
    std::vector<std::string> types(request->objective_types().begin(),
                                   request->objective_types().end());
    reactor->Start(request->worker_id(), types, std::clamp<int64_t>(request->wait_ms(), 0, 30000));
  }
  return reactor;
}

grpc::ServerUnaryReactor* WorkerServiceImpl::ReportProgress(
    grpc::CallbackServerContext* context, const v1::ReportProgressRequest* request,
    v1::ReportProgressResponse* reply) {
  return UnaryCall(context, pool_, "WorkerService/ReportProgress", auth_, "ReportProgress",
                   [=](const Principal& caller) {
                     if (auth_ != nullptr) {
                       absl::Status s = auth_->CheckLease(caller, request->lease_token());
                       if (!s.ok()) return ToGrpcStatus(s);
                     }
                     int64_t deadline = 0;
                     auto action = engine_->ReportProgress(request->lease_token(), request->step(),
                                                           request->value(), &deadline);
                     if (!action.ok()) return ToGrpcStatus(action.status());
                     switch (*action) {
                       case ProgressAction::kContinue:
                         reply->set_action(v1::ReportProgressResponse::CONTINUE);
                         break;
                       case ProgressAction::kPrune:
                         reply->set_action(v1::ReportProgressResponse::PRUNE);
                         break;
                       case ProgressAction::kCancel:
                         reply->set_action(v1::ReportProgressResponse::CANCEL);
                         break;
                     }
                     reply->set_lease_deadline_unix_ms(deadline);
                     return grpc::Status::OK;
                   });
}

grpc::ServerUnaryReactor* WorkerServiceImpl::CompleteTrial(grpc::CallbackServerContext* context,
                                                           const v1::CompleteTrialRequest* request,
                                                           v1::CompleteTrialResponse* reply) {
  return UnaryCallAsync(
      context, "WorkerService/CompleteTrial", auth_, "CompleteTrial",
      [=](const Principal& caller, std::function<void(const grpc::Status&)> finish) {
        if (auth_ != nullptr) {
          absl::Status s = auth_->CheckLease(caller, request->lease_token());
          if (!s.ok()) return finish(ToGrpcStatus(s));
        }
        engine_->CompleteTrialAsync(
            request->lease_token(), request->value(), request->result_json(),
            [reply, finish](absl::StatusOr<storage::TrialState> state) {
              if (!state.ok()) return finish(ToGrpcStatus(state.status()));
              reply->set_state(static_cast<v1::TrialState>(*state));
              finish(grpc::Status::OK);
            });
      });
}

grpc::ServerUnaryReactor* WorkerServiceImpl::FailTrial(grpc::CallbackServerContext* context,
                                                       const v1::FailTrialRequest* request,
                                                       v1::FailTrialResponse* reply) {
  return UnaryCall(context, pool_, "WorkerService/FailTrial", auth_, "FailTrial",
                   [=](const Principal& caller) {
                     if (auth_ != nullptr) {
                       absl::Status s = auth_->CheckLease(caller, request->lease_token());
                       if (!s.ok()) return ToGrpcStatus(s);
                     }
                     auto state = engine_->FailTrial(request->lease_token(), request->message());
                     if (!state.ok()) return ToGrpcStatus(state.status());
                     reply->set_state(static_cast<v1::TrialState>(*state));
                     return grpc::Status::OK;
                   });
}

}  // namespace peftsearch::controller
