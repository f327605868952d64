#include <algorithm>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "controller/grpc_status.h"
#include "controller/metrics.h"
#include "controller/proto_convert.h"
#include "controller/services.h"
#include "controller/unary_call.h"

namespace peftsearch::controller {
namespace {

// A stream refused before it started.
class RefusedWatch final : public grpc::ServerWriteReactor<v1::StudyEvent> {
 public:
  explicit RefusedWatch(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

// Streams a study's events from `after_seq` on, then each new one as it is
// stored, until the study has ended and every event is sent, the client goes
// away, or the engine stops (UNAVAILABLE: clients resume after the last event
// they saw). Between events it is parked in the engine
// (WaitForChangeAsync), not on a thread. Deletes itself when done.
class WatchReactor final : public grpc::ServerWriteReactor<v1::StudyEvent> {
 public:
  WatchReactor(StudyEngine* engine, std::string study_ref, int64_t study_id, int64_t after_seq)
      : engine_(engine),
        timer_("StudyService/WatchStudy"),
        study_ref_(std::move(study_ref)),
        study_id_(study_id),
        seq_(after_seq) {
    Next();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      End(grpc::Status::OK);  // the client went away
      return;
    }
    Next();
  }

  void OnCancel() override {
    uint64_t handle = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
      std::swap(handle, wait_handle_);
    }
    // Answers the parked wait now: its Next() sees the cancellation and ends.
    if (handle != 0) engine_->CancelWaitForChange(handle);
  }

  void OnDone() override { delete this; }

 private:
  static constexpr int kBatch = 500;

  // Writes the next buffered event, else reads more, else parks until the
  // engine changes. Runs on one thread at a time: the constructor starts it,
  // and only the write or the wait it started runs it again.
  void Next() {
    std::unique_lock<std::mutex> lock(mu_);
    wait_handle_ = 0;
    if (cancelled_) {
      lock.unlock();
      End(grpc::Status::CANCELLED);
      return;
    }
    lock.unlock();
    for (;;) {
      if (!pending_.empty()) {
        current_ = std::move(pending_.front());
        pending_.pop_front();
        StartWrite(&current_);
        return;
      }
      if (study_over_) {
        End(grpc::Status::OK);  // every event replayed and the study has ended
        return;
      }
      const uint64_t version = engine_->ChangeVersion();
      auto events = engine_->EventsAfter(study_id_, seq_, kBatch);
      if (!events.ok()) {
        End(ToGrpcStatus(events.status()));
        return;
      }
      auto view = engine_->GetStudy(study_ref_);
      if (!view.ok()) {
        End(ToGrpcStatus(view.status()));
        return;
      }
      // The store's events run ahead of the engine's memory by the time
      // between a commit and its application. Sent now, the event that ends
      // the study would carry a view still RUNNING and be the stream's last;
      // it waits for the memory instead (its update moves the version).
      const bool view_behind =
          view->record.state == storage::StudyState::kRunning &&
          std::any_of(events->begin(), events->end(), [](const storage::EventRecord& e) {
            return e.trial_number < 0 && (e.kind == "study_complete" || e.kind == "cancelled");
          });
      if (view_behind) events->clear();
      for (const auto& e : *events) {
        v1::StudyEvent event;
        ToProto(e, &event);
        ToProto(*view, event.mutable_study());
        pending_.push_back(std::move(event));
        seq_ = e.seq;
      }
      study_over_ = !view_behind && events->size() < kBatch &&
                    view->record.state != storage::StudyState::kRunning;
      if (!pending_.empty() || study_over_) continue;
      // Nothing new: park until the engine changes (at most a second, so a
      // missed notification costs a second, not the stream).
      lock.lock();
      if (cancelled_) {
        lock.unlock();
        End(grpc::Status::CANCELLED);
        return;
      }
      uint64_t handle = 0;
      if (engine_->WaitForChangeAsync(
              version, 1000, [this] { Next(); }, &handle)) {
        wait_handle_ = handle;  // under mu_: the wait's Next() waits for it
        return;
      }
      lock.unlock();
      if (engine_->stopping()) {
        End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the controller is shutting down"));
        return;
      }
      // The version moved while reading: read again.
    }
  }

  void End(const grpc::Status& status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(status);
  }

  StudyEngine* const engine_;
  RpcTimer timer_;
  const std::string study_ref_;
  const int64_t study_id_;
  // Touched only by Next(), which never runs twice at once.
  int64_t seq_;
  std::deque<v1::StudyEvent> pending_;
  v1::StudyEvent current_;  // the event being written
  bool study_over_ = false;

  std::mutex mu_;
  bool cancelled_ = false;    // guarded by mu_
  bool finished_ = false;     // guarded by mu_
  uint64_t wait_handle_ = 0;  // the engine wait this call is parked in; mu_
};

}  // namespace

grpc::Status DoCreateStudy(StudyEngine* engine, const v1::CreateStudyRequest& request,
                           v1::Study* reply) {
  auto view = engine->CreateStudy(request.spec_json());
  if (!view.ok()) return ToGrpcStatus(view.status());
  ToProto(*view, reply);
  return grpc::Status::OK;
}

grpc::Status DoGetStudy(StudyEngine* engine, const v1::GetStudyRequest& request, v1::Study* reply) {
  auto view = engine->GetStudy(request.study());
  if (!view.ok()) return ToGrpcStatus(view.status());
  ToProto(*view, reply);
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* StudyServiceImpl::CreateStudy(grpc::CallbackServerContext* context,
                                                        const v1::CreateStudyRequest* request,
                                                        v1::Study* reply) {
  return UnaryCall(context, pool_, "StudyService/CreateStudy", auth_, "CreateStudy",
                   [=](const Principal&) { return DoCreateStudy(engine_, *request, reply); });
}

grpc::ServerUnaryReactor* StudyServiceImpl::GetStudy(grpc::CallbackServerContext* context,
                                                     const v1::GetStudyRequest* request,
                                                     v1::Study* reply) {
  return UnaryCall(context, pool_, "StudyService/GetStudy", auth_, "GetStudy",
                   [=](const Principal&) { return DoGetStudy(engine_, *request, reply); });
}

grpc::ServerUnaryReactor* StudyServiceImpl::ListStudies(grpc::CallbackServerContext* context,
                                                        const v1::ListStudiesRequest*,
                                                        v1::ListStudiesResponse* reply) {
  return UnaryCall(context, pool_, "StudyService/ListStudies", auth_, "ListStudies",
                   [=](const Principal&) {
                     auto views = engine_->ListStudies();
                     if (!views.ok()) return ToGrpcStatus(views.status());
                     for (const StudyView& v : *views) ToProto(v, reply->add_studies());
                     return grpc::Status::OK;
                   });
}

grpc::ServerUnaryReactor* StudyServiceImpl::ListTrials(grpc::CallbackServerContext* context,
                                                       const v1::ListTrialsRequest* request,
                                                       v1::ListTrialsResponse* reply) {
  return UnaryCall(
      context, pool_, "StudyService/ListTrials", auth_, "ListTrials", [=](const Principal&) {
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
      });
}

grpc::ServerUnaryReactor* StudyServiceImpl::GetTrial(grpc::CallbackServerContext* context,
                                                     const v1::GetTrialRequest* request,
                                                     v1::Trial* reply) {
  return UnaryCall(context, pool_, "StudyService/GetTrial", auth_, "GetTrial",
                   [=](const Principal&) {
                     auto trial = engine_->GetTrial(request->study(), request->number());
                     if (!trial.ok()) return ToGrpcStatus(trial.status());
                     ToProto(*trial, reply);
                     return grpc::Status::OK;
                   });
}

grpc::ServerUnaryReactor* StudyServiceImpl::BestTrials(grpc::CallbackServerContext* context,
                                                       const v1::BestTrialsRequest* request,
                                                       v1::BestTrialsResponse* reply) {
  return UnaryCall(context, pool_, "StudyService/BestTrials", auth_, "BestTrials",
                   [=](const Principal&) {
                     auto trials = engine_->BestTrials(request->study(), request->count());
                     if (!trials.ok()) return ToGrpcStatus(trials.status());
                     for (const auto& t : *trials) ToProto(t, reply->add_trials());
                     return grpc::Status::OK;
                   });
}

grpc::ServerWriteReactor<v1::StudyEvent>* StudyServiceImpl::WatchStudy(
    grpc::CallbackServerContext* context, const v1::WatchStudyRequest* request) {
  grpc::Status refused;
  auto caller = AuthorizeCall(auth_, context, "WatchStudy");
  if (caller.ok()) {
    auto study = engine_->GetStudy(request->study());
    if (study.ok()) {
      return new WatchReactor(engine_, request->study(), study->record.id, request->after_seq());
    }
    refused = ToGrpcStatus(study.status());
  } else {
    refused = ToGrpcStatus(caller.status());
  }
  RpcTimer timer("StudyService/WatchStudy");  // a stream's own timer covers it otherwise
  return new RefusedWatch(refused);
}

grpc::ServerUnaryReactor* StudyServiceImpl::CancelStudy(grpc::CallbackServerContext* context,
                                                        const v1::CancelStudyRequest* request,
                                                        v1::Study* reply) {
  return UnaryCall(context, pool_, "StudyService/CancelStudy", auth_, "CancelStudy",
                   [=](const Principal&) {
                     auto view = engine_->CancelStudy(request->study());
                     if (!view.ok()) return ToGrpcStatus(view.status());
                     ToProto(*view, reply);
                     return grpc::Status::OK;
                   });
}

grpc::ServerUnaryReactor* StudyServiceImpl::AskTrial(grpc::CallbackServerContext* context,
                                                     const v1::AskTrialRequest* request,
                                                     v1::Trial* reply) {
  return UnaryCall(context, pool_, "StudyService/AskTrial", auth_, "AskTrial",
                   [=](const Principal&) {
                     auto trial = engine_->AskTrial(request->study());
                     if (!trial.ok()) return ToGrpcStatus(trial.status());
                     ToProto(*trial, reply);
                     return grpc::Status::OK;
                   });
}

grpc::ServerUnaryReactor* StudyServiceImpl::TellTrial(grpc::CallbackServerContext* context,
                                                      const v1::TellTrialRequest* request,
                                                      v1::Trial* reply) {
  return UnaryCall(context, pool_, "StudyService/TellTrial", auth_, "TellTrial",
                   [=](const Principal&) {
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
                   });
}

grpc::ServerUnaryReactor* StudyServiceImpl::ListWorkers(grpc::CallbackServerContext* context,
                                                        const v1::ListWorkersRequest*,
                                                        v1::ListWorkersResponse* reply) {
  return UnaryCall(context, pool_, "StudyService/ListWorkers", auth_, "ListWorkers",
                   [=](const Principal&) {
                     auto workers = engine_->ListWorkers();
                     if (!workers.ok()) return ToGrpcStatus(workers.status());
                     for (const auto& w : *workers) ToProto(w, reply->add_workers());
                     return grpc::Status::OK;
                   });
}

}  // namespace peftsearch::controller
