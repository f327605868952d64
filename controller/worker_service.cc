#include <algorithm>

#include "absl/strings/str_cat.h"
#include "controller/grpc_status.h"
#include "controller/metrics.h"
#include "controller/proto_convert.h"
#include "controller/services.h"

namespace peftsearch::controller {

grpc::Status WorkerServiceImpl::RegisterWorker(grpc::ServerContext* context,
                                               const v1::RegisterWorkerRequest* request,
                                               v1::RegisterWorkerResponse* reply) {
  RpcTimer timer("WorkerService/RegisterWorker");
  auto caller = AuthorizeCall(auth_, context, "RegisterWorker");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (absl::Status s = auth_ == nullptr ? absl::OkStatus()
                                        : auth_->CheckReregister(*caller, request->worker_id());
      !s.ok()) {
    return ToGrpcStatus(s);
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
    if (absl::Status s = auth_->BindWorker(*caller, *id); !s.ok()) return ToGrpcStatus(s);
  }
  reply->set_worker_id(*id);
  reply->set_heartbeat_interval_ms(engine_->heartbeat_interval_ms());
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext* context,
                                          const v1::HeartbeatRequest* request,
                                          v1::HeartbeatResponse* reply) {
  RpcTimer timer("WorkerService/Heartbeat");
  auto caller = AuthorizeCall(auth_, context, "Heartbeat");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (auth_ != nullptr) {
    absl::Status s = auth_->CheckWorker(*caller, request->worker_id());
    if (!s.ok()) return ToGrpcStatus(s);
  }
  std::vector<std::string> tokens(request->lease_tokens().begin(), request->lease_tokens().end());
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
}

grpc::Status WorkerServiceImpl::AcquireTrial(grpc::ServerContext* context,
                                             const v1::AcquireTrialRequest* request,
                                             v1::AcquireTrialResponse* reply) {
  RpcTimer timer("WorkerService/AcquireTrial");
  auto caller = AuthorizeCall(auth_, context, "AcquireTrial");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (request->worker_id().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "worker_id: register first");
  }
  if (auth_ != nullptr) {
    absl::Status s = auth_->CheckWorker(*caller, request->worker_id());
    if (!s.ok()) return ToGrpcStatus(s);
  }
  std::vector<std::string> types(request->objective_types().begin(),
                                 request->objective_types().end());
  const int64_t wait_ms = std::clamp<int64_t>(request->wait_ms(), 0, 30000);
  auto assignment = engine_->AcquireTrial(request->worker_id(), types, wait_ms,
                                          [context] { return context->IsCancelled(); });
  if (!assignment.ok()) return ToGrpcStatus(assignment.status());
  if (!assignment->has_value()) {
    reply->set_has_trial(false);
    return grpc::Status::OK;
  }
  const Assignment& a = **assignment;
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
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::ReportProgress(grpc::ServerContext* context,
                                               const v1::ReportProgressRequest* request,
                                               v1::ReportProgressResponse* reply) {
  RpcTimer timer("WorkerService/ReportProgress");
  auto caller = AuthorizeCall(auth_, context, "ReportProgress");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (auth_ != nullptr) {
    absl::Status s = auth_->CheckLease(*caller, request->lease_token());
    if (!s.ok()) return ToGrpcStatus(s);
  }
  int64_t deadline = 0;
  auto action = engine_->ReportProgress(request->lease_token(), request->step(), request->value(),
                                        &deadline);
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
}

grpc::Status WorkerServiceImpl::CompleteTrial(grpc::ServerContext* context,
                                              const v1::CompleteTrialRequest* request,
                                              v1::CompleteTrialResponse* reply) {
  RpcTimer timer("WorkerService/CompleteTrial");
  auto caller = AuthorizeCall(auth_, context, "CompleteTrial");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (auth_ != nullptr) {
    absl::Status s = auth_->CheckLease(*caller, request->lease_token());
    if (!s.ok()) return ToGrpcStatus(s);
  }
  auto state = engine_->CompleteTrial(request->lease_token(), request->value(),
                                      request->result_json());
  if (!state.ok()) return ToGrpcStatus(state.status());
  reply->set_state(static_cast<v1::TrialState>(*state));
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::FailTrial(grpc::ServerContext* context,
                                          const v1::FailTrialRequest* request,
                                          v1::FailTrialResponse* reply) {
  RpcTimer timer("WorkerService/FailTrial");
  auto caller = AuthorizeCall(auth_, context, "FailTrial");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (auth_ != nullptr) {
    absl::Status s = auth_->CheckLease(*caller, request->lease_token());
    if (!s.ok()) return ToGrpcStatus(s);
  }
  auto state = engine_->FailTrial(request->lease_token(), request->message());
  if (!state.ok()) return ToGrpcStatus(state.status());
  reply->set_state(static_cast<v1::TrialState>(*state));
  return grpc::Status::OK;
}

}  // namespace peftsearch::controller
