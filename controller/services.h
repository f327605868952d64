// The gRPC services. Each handler maps its request to one StudyEngine call and
// the result back to a reply; no SQL, sampling or locking lives here.
//
// The sync API is used on purpose: AcquireTrial and WatchStudy block a server
// thread while they wait, and gRPC's sync server grows its thread pool as
// needed, which keeps the waiting logic in the engine, testable without RPC.
#ifndef PEFTSEARCH_CONTROLLER_SERVICES_H_
#define PEFTSEARCH_CONTROLLER_SERVICES_H_

#include "controller/auth.h"
#include "controller/study_engine.h"
#include "proto/peftsearch.grpc.pb.h"

namespace peftsearch::controller {

class StudyServiceImpl final : public v1::StudyService::Service {
 public:
  // `auth` may be null (no auth); both must outlive the service.
  explicit StudyServiceImpl(StudyEngine* engine, Authorizer* auth = nullptr)
      : engine_(engine), auth_(auth) {}

  grpc::Status CreateStudy(grpc::ServerContext*, const v1::CreateStudyRequest*,
                           v1::Study*) override;
  grpc::Status GetStudy(grpc::ServerContext*, const v1::GetStudyRequest*, v1::Study*) override;
  grpc::Status ListStudies(grpc::ServerContext*, const v1::ListStudiesRequest*,
                           v1::ListStudiesResponse*) override;
  grpc::Status ListTrials(grpc::ServerContext*, const v1::ListTrialsRequest*,
                          v1::ListTrialsResponse*) override;
  grpc::Status GetTrial(grpc::ServerContext*, const v1::GetTrialRequest*, v1::Trial*) override;
  grpc::Status BestTrials(grpc::ServerContext*, const v1::BestTrialsRequest*,
                          v1::BestTrialsResponse*) override;
  grpc::Status WatchStudy(grpc::ServerContext*, const v1::WatchStudyRequest*,
                          grpc::ServerWriter<v1::StudyEvent>*) override;
  grpc::Status CancelStudy(grpc::ServerContext*, const v1::CancelStudyRequest*,
                           v1::Study*) override;
  grpc::Status AskTrial(grpc::ServerContext*, const v1::AskTrialRequest*, v1::Trial*) override;
  grpc::Status TellTrial(grpc::ServerContext*, const v1::TellTrialRequest*, v1::Trial*) override;
  grpc::Status ListWorkers(grpc::ServerContext*, const v1::ListWorkersRequest*,
                           v1::ListWorkersResponse*) override;

 private:
  StudyEngine* engine_;
  Authorizer* auth_;
};

class WorkerServiceImpl final : public v1::WorkerService::Service {
 public:
  explicit WorkerServiceImpl(StudyEngine* engine, Authorizer* auth = nullptr)
      : engine_(engine), auth_(auth) {}

  grpc::Status RegisterWorker(grpc::ServerContext*, const v1::RegisterWorkerRequest*,
                              v1::RegisterWorkerResponse*) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest*,
                         v1::HeartbeatResponse*) override;
  grpc::Status AcquireTrial(grpc::ServerContext*, const v1::AcquireTrialRequest*,
                            v1::AcquireTrialResponse*) override;
  grpc::Status ReportProgress(grpc::ServerContext*, const v1::ReportProgressRequest*,
                              v1::ReportProgressResponse*) override;
  grpc::Status CompleteTrial(grpc::ServerContext*, const v1::CompleteTrialRequest*,
                             v1::CompleteTrialResponse*) override;
  grpc::Status FailTrial(grpc::ServerContext*, const v1::FailTrialRequest*,
                         v1::FailTrialResponse*) override;

 private:
  StudyEngine* engine_;
  Authorizer* auth_;
};

}  // namespace peftsearch::controller

#endif  // PEFTSEARCH_CONTROLLER_SERVICES_H_
