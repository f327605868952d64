#include "absl/strings/str_cat.h"
#include "controller/grpc_status.h"
#include "controller/metrics.h"
#include "controller/proto_convert.h"
#include "controller/services.h"

namespace peftsearch::controller {

grpc::Status StudyServiceImpl::CreateStudy(grpc::ServerContext* context,
                                           const v1::CreateStudyRequest* request,
                                           v1::Study* reply) {
  RpcTimer timer("StudyService/CreateStudy");
  auto caller = AuthorizeCall(auth_, context, "CreateStudy");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto view = engine_->CreateStudy(request->spec_json());
  if (!view.ok()) return ToGrpcStatus(view.status());
  ToProto(*view, reply);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::GetStudy(grpc::ServerContext* context,
                                        const v1::GetStudyRequest* request,
                                        v1::Study* reply) {
  RpcTimer timer("StudyService/GetStudy");
  auto caller = AuthorizeCall(auth_, context, "GetStudy");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto view = engine_->GetStudy(request->study());
  if (!view.ok()) return ToGrpcStatus(view.status());
  ToProto(*view, reply);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::ListStudies(grpc::ServerContext* context,
                                           const v1::ListStudiesRequest*,
                                           v1::ListStudiesResponse* reply) {
  RpcTimer timer("StudyService/ListStudies");
  auto caller = AuthorizeCall(auth_, context, "ListStudies");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto views = engine_->ListStudies();
  if (!views.ok()) return ToGrpcStatus(views.status());
  for (const StudyView& v : *views) ToProto(v, reply->add_studies());
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::ListTrials(grpc::ServerContext* context,
                                          const v1::ListTrialsRequest* request,
                                          v1::ListTrialsResponse* reply) {
  RpcTimer timer("StudyService/ListTrials");
  auto caller = AuthorizeCall(auth_, context, "ListTrials");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  std::optional<storage::TrialState> state;
  if (request->state() != v1::TRIAL_STATE_UNSPECIFIED) {
    state = static_cast<storage::TrialState>(request->state());
  }
  auto page = engine_->ListTrials(request->study(), state, request->page_size(),
                                  request->page_token(), request->include_intermediate());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const auto& t : page->trials) ToProto(t, reply->add_trials());
  reply->set_next_page_token(page->next_page_token);
  reply->set_total_size(page->total_size);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::GetTrial(grpc::ServerContext* context,
                                        const v1::GetTrialRequest* request,
                                        v1::Trial* reply) {
  RpcTimer timer("StudyService/GetTrial");
  auto caller = AuthorizeCall(auth_, context, "GetTrial");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto trial = engine_->GetTrial(request->study(), request->number());
  if (!trial.ok()) return ToGrpcStatus(trial.status());
  ToProto(*trial, reply);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::BestTrials(grpc::ServerContext* context,
                                          const v1::BestTrialsRequest* request,
                                          v1::BestTrialsResponse* reply) {
  RpcTimer timer("StudyService/BestTrials");
  auto caller = AuthorizeCall(auth_, context, "BestTrials");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto trials = engine_->BestTrials(request->study(), request->count());
  if (!trials.ok()) return ToGrpcStatus(trials.status());
  for (const auto& t : *trials) ToProto(t, reply->add_trials());
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::WatchStudy(grpc::ServerContext* context,
                                          const v1::WatchStudyRequest* request,
                                          grpc::ServerWriter<v1::StudyEvent>* writer) {
  RpcTimer timer("StudyService/WatchStudy");
  auto caller = AuthorizeCall(auth_, context, "WatchStudy");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto study = engine_->GetStudy(request->study());
  if (!study.ok()) return ToGrpcStatus(study.status());
  const int64_t study_id = study->record.id;
  int64_t seq = request->after_seq();
  while (!context->IsCancelled()) {
    const uint64_t version = engine_->ChangeVersion();
    auto events = engine_->EventsAfter(study_id, seq, 500);
    if (!events.ok()) return ToGrpcStatus(events.status());
    auto view = engine_->GetStudy(request->study());
    if (!view.ok()) return ToGrpcStatus(view.status());
    for (const auto& e : *events) {
      v1::StudyEvent event;
      ToProto(e, &event);
      ToProto(*view, event.mutable_study());
      if (!writer->Write(event)) return grpc::Status::OK;  // client went away
      seq = e.seq;
    }
    if (events->size() < 500 && view->record.state != storage::StudyState::kRunning) {
      return grpc::Status::OK;  // every event replayed and the study has ended
    }
    if (events->empty()) engine_->WaitForChange(version, 1000);
  }
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::CancelStudy(grpc::ServerContext* context,
                                           const v1::CancelStudyRequest* request,
                                           v1::Study* reply) {
  RpcTimer timer("StudyService/CancelStudy");
  auto caller = AuthorizeCall(auth_, context, "CancelStudy");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto view = engine_->CancelStudy(request->study());
  if (!view.ok()) return ToGrpcStatus(view.status());
  ToProto(*view, reply);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::AskTrial(grpc::ServerContext* context,
                                        const v1::AskTrialRequest* request,
                                        v1::Trial* reply) {
  RpcTimer timer("StudyService/AskTrial");
  auto caller = AuthorizeCall(auth_, context, "AskTrial");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto trial = engine_->AskTrial(request->study());
  if (!trial.ok()) return ToGrpcStatus(trial.status());
  ToProto(*trial, reply);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::TellTrial(grpc::ServerContext* context,
                                         const v1::TellTrialRequest* request,
                                         v1::Trial* reply) {
  RpcTimer timer("StudyService/TellTrial");
  auto caller = AuthorizeCall(auth_, context, "TellTrial");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  storage::TrialOutcome outcome;
  switch (request->state()) {
    case v1::TRIAL_STATE_UNSPECIFIED:
    case v1::COMPLETE:
      outcome.state = storage::TrialState::kComplete;
      break;
    case v1::PRUNED:
      outcome.state = storage::TrialState::kPruned;
      break;
    case v1::FAILED:
      outcome.state = storage::TrialState::kFailed;
      break;
    default:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "state: a trial is told COMPLETE, PRUNED or FAILED");
  }
  if (request->has_value()) outcome.value = request->value();
  outcome.result_json = request->result_json();
  auto trial = engine_->TellTrial(request->study(), request->number(), outcome);
  if (!trial.ok()) return ToGrpcStatus(trial.status());
  ToProto(*trial, reply);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::ListWorkers(grpc::ServerContext* context,
                                           const v1::ListWorkersRequest*,
                                           v1::ListWorkersResponse* reply) {
  RpcTimer timer("StudyService/ListWorkers");
  auto caller = AuthorizeCall(auth_, context, "ListWorkers");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto workers = engine_->ListWorkers();
  if (!workers.ok()) return ToGrpcStatus(workers.status());
  for (const auto& w : *workers) ToProto(w, reply->add_workers());
  return grpc::Status::OK;
}

}  // namespace peftsearch::controller
