// The gRPC services, on gRPC's callback API. Each handler authorises the call,
// maps its request to one StudyEngine call and the result back to a reply; no
// SQL, sampling or locking lives here.
//
// Unary handlers Finish on their DefaultReactor(). AcquireTrial is a reactor:
// answered once a WAITING trial's lease is durable, otherwise parked in the
// engine (StudyEngine::AcquireTrialAsync) with no thread waiting, and answered
// from the engine's waiter thread when a trial comes, at its wait, when the
// client cancels (OnCancel) or on Stop. WatchStudy is a write reactor that
// parks between events the same way (WaitForChangeAsync).
//
// The worker hot path, AcquireTrial and CompleteTrial, runs on gRPC's own
// thread up to the point where its change is queued for the store's commit
// thread, and the reply is sent from that thread once the change is durable
// (TrialStore's ...Async calls): no thread waits for the fsync and no call
// crosses to a pool. On the 2-core VM, in six alternating pairs against the
// code before, this took controller CPU from 172-226 to 106-134 us per trial,
// throughput from 3,959-5,011 to 5,407-6,542 trials/s and the controller's
// context switches from 12.0 to 2.5 per trial (docs/BENCHMARKS.md). Those
// handlers block at most on the engine's short locks and on the sampling of a
// completed trial's replacement (microseconds for random and grid, under a
// millisecond for TPE at 1,000 trials).
//
// Every other call still waits for a group-committed write, and gRPC 1.51
// runs callbacks on only max(2, cores / 2) threads: run there, at most two
// calls would wait at once. Those handlers hand their engine call to a
// HandlerPool (handler_pool.h), except one call at a time that runs on gRPC's
// thread.
//
// Thread safety: handlers run concurrently; each reactor guards its own state.
#ifndef PEFTSEARCH_CONTROLLER_SERVICES_H_
#define PEFTSEARCH_CONTROLLER_SERVICES_H_

#include "controller/auth.h"
#include "controller/handler_pool.h"
#include "controller/study_engine.h"
#include "proto/peftsearch.grpc.pb.h"

namespace peftsearch::controller {

// StudyService's unary calls after authorisation, callable without a server
// (fuzzing, tests). Each returns the status the client gets.
grpc::Status DoCreateStudy(StudyEngine* engine, const v1::CreateStudyRequest& request,
                           v1::Study* reply);
grpc::Status DoGetStudy(StudyEngine* engine, const v1::GetStudyRequest& request, v1::Study* reply);

class StudyServiceImpl final : public v1::StudyService::CallbackService {
 public:
  // `auth` may be null (no auth), `pool` too (engine calls then run on
  // gRPC's threads: tests only, see handler_pool.h); all must outlive the
  // service.
  explicit StudyServiceImpl(StudyEngine* engine, Authorizer* auth = nullptr,
                            HandlerPool* pool = nullptr)
      : engine_(engine), auth_(auth), pool_(pool) {}

  grpc::ServerUnaryReactor* CreateStudy(grpc::CallbackServerContext*, const v1::CreateStudyRequest*,
                                        v1::Study*) override;
  grpc::ServerUnaryReactor* GetStudy(grpc::CallbackServerContext*, const v1::GetStudyRequest*,
                                     v1::Study*) override;
  grpc::ServerUnaryReactor* ListStudies(grpc::CallbackServerContext*, const v1::ListStudiesRequest*,
                                        v1::ListStudiesResponse*) override;
  grpc::ServerUnaryReactor* ListTrials(grpc::CallbackServerContext*, const v1::ListTrialsRequest*,
                                       v1::ListTrialsResponse*) override;
  grpc::ServerUnaryReactor* GetTrial(grpc::CallbackServerContext*, const v1::GetTrialRequest*,
                                     v1::Trial*) override;
  grpc::ServerUnaryReactor* BestTrials(grpc::CallbackServerContext*, const v1::BestTrialsRequest*,
                                       v1::BestTrialsResponse*) override;
  grpc::ServerWriteReactor<v1::StudyEvent>* WatchStudy(grpc::CallbackServerContext*,
                                                       const v1::WatchStudyRequest*) override;
  grpc::ServerUnaryReactor* CancelStudy(grpc::CallbackServerContext*, const v1::CancelStudyRequest*,
                                        v1::Study*) override;
  grpc::ServerUnaryReactor* AskTrial(grpc::CallbackServerContext*, const v1::AskTrialRequest*,
                                     v1::Trial*) override;
  grpc::ServerUnaryReactor* TellTrial(grpc::CallbackServerContext*, const v1::TellTrialRequest*,
                                      v1::Trial*) override;
  grpc::ServerUnaryReactor* ListWorkers(grpc::CallbackServerContext*, const v1::ListWorkersRequest*,
                                        v1::ListWorkersResponse*) override;

 private:
  StudyEngine* engine_;
  Authorizer* auth_;
  HandlerPool* pool_;
};

class WorkerServiceImpl final : public v1::WorkerService::CallbackService {
 public:
  explicit WorkerServiceImpl(StudyEngine* engine, Authorizer* auth = nullptr,
                             HandlerPool* pool = nullptr)
      : engine_(engine), auth_(auth), pool_(pool) {}

  grpc::ServerUnaryReactor* RegisterWorker(grpc::CallbackServerContext*,
                                           const v1::RegisterWorkerRequest*,
                                           v1::RegisterWorkerResponse*) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext*, const v1::HeartbeatRequest*,
                                      v1::HeartbeatResponse*) override;
  grpc::ServerUnaryReactor* AcquireTrial(grpc::CallbackServerContext*,
                                         const v1::AcquireTrialRequest*,
                                         v1::AcquireTrialResponse*) override;
  grpc::ServerUnaryReactor* ReportProgress(grpc::CallbackServerContext*,
                                           const v1::ReportProgressRequest*,
                                           v1::ReportProgressResponse*) override;
  grpc::ServerUnaryReactor* CompleteTrial(grpc::CallbackServerContext*,
                                          const v1::CompleteTrialRequest*,
                                          v1::CompleteTrialResponse*) override;
  grpc::ServerUnaryReactor* FailTrial(grpc::CallbackServerContext*, const v1::FailTrialRequest*,
                                      v1::FailTrialResponse*) override;

 private:
  StudyEngine* engine_;
  Authorizer* auth_;
  HandlerPool* pool_;
};

}  // namespace peftsearch::controller

#endif  // PEFTSEARCH_CONTROLLER_SERVICES_H_
