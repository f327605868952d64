#include "controller/cli/commands.h"

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <vector>

#include "controller/cli/format.h"

namespace peftsearch::cli {
namespace {

constexpr int kPageSize = 500;

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Commands::Commands(v1::StudyService::StubInterface* stub, const CommandOptions& options,
                   std::ostream* out, std::ostream* err)
    : stub_(stub), options_(options), out_(*out), err_(*err) {}

void Commands::SetDeadline(grpc::ClientContext* context) const {
  context->set_deadline(std::chrono::system_clock::now() + options_.rpc_timeout);
}

int Commands::RpcError(const grpc::Status& status) {
  std::string line = FormatRpcError(status);
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE && !options_.controller.empty()) {
    line += " (controller " + options_.controller + ")";
  }
  err_ << line << "\n";
  return kExitRpcError;
}

int Commands::UsageError(const std::string& message) {
  err_ << "error: " << message << "\n";
  return kExitUsage;
}

int Commands::Submit(const std::string& spec_path) {
  std::ifstream in(spec_path);
  if (!in) return UsageError("cannot read study spec " + spec_path);
  std::stringstream text;
  text << in.rdbuf();
  v1::CreateStudyRequest req;
  req.set_spec_json(text.str());
  v1::Study study;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::Status s = stub_->CreateStudy(&ctx, req, &study);
  if (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    err_ << FormatRpcError(s) << "\n";
    return kExitUsage;
  }
  if (!s.ok()) return RpcError(s);
  out_ << FormatCreated(study);
  return kExitOk;
}

int Commands::Studies() {
  v1::ListStudiesResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::Status s = stub_->ListStudies(&ctx, v1::ListStudiesRequest(), &resp);
  if (!s.ok()) return RpcError(s);
  out_ << FormatStudies({resp.studies().begin(), resp.studies().end()});
  return kExitOk;
}

int Commands::Status(const std::string& study) {
  v1::GetStudyRequest req;
  req.set_study(study);
  v1::Study resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::Status s = stub_->GetStudy(&ctx, req, &resp);
  if (!s.ok()) return RpcError(s);
  out_ << FormatStudyStatus(resp);
  return kExitOk;
}

int Commands::Trials(const std::string& study, const std::string& state,
                     const std::string& format) {
  absl::StatusOr<TrialFormat> fmt = ParseTrialFormat(format);
  if (!fmt.ok()) return UsageError(std::string(fmt.status().message()));
  v1::TrialState filter = v1::TRIAL_STATE_UNSPECIFIED;
  if (!state.empty()) {
    absl::StatusOr<v1::TrialState> parsed = ParseTrialState(state);
    if (!parsed.ok()) return UsageError(std::string(parsed.status().message()));
    filter = *parsed;
  }
  std::vector<v1::Trial> trials;
  std::string token;
  for (;;) {
    v1::ListTrialsRequest req;
    req.set_study(study);
    req.set_state(filter);
    req.set_page_size(kPageSize);
    req.set_page_token(token);
    req.set_include_intermediate(*fmt == TrialFormat::kJson);
    v1::ListTrialsResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = stub_->ListTrials(&ctx, req, &resp);
    if (!s.ok()) return RpcError(s);
    trials.insert(trials.end(), resp.trials().begin(), resp.trials().end());
    // A server that hands back the same token would loop forever.
    if (resp.next_page_token().empty() || resp.next_page_token() == token) break;
    token = resp.next_page_token();
  }
  out_ << FormatTrials(trials, *fmt);
  return kExitOk;
}

int Commands::Best(const std::string& study, int count) {
  if (count < 1) return UsageError("--count must be at least 1");
  v1::GetStudyRequest get;
  get.set_study(study);
  v1::Study st;
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = stub_->GetStudy(&ctx, get, &st);
    if (!s.ok()) return RpcError(s);
  }
  v1::BestTrialsRequest req;
  req.set_study(study);
  req.set_count(count);
  v1::BestTrialsResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::Status s = stub_->BestTrials(&ctx, req, &resp);
  if (!s.ok()) return RpcError(s);
  out_ << FormatBest(st, {resp.trials().begin(), resp.trials().end()});
  return kExitOk;
}

int Commands::Watch(const std::string& study) {
  v1::Study current;
  {
    v1::GetStudyRequest get;
    get.set_study(study);
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = stub_->GetStudy(&ctx, get, &current);
    if (!s.ok()) return RpcError(s);
  }
  std::string last_bar;
  auto draw = [&] {
    std::string bar = FormatProgressBar(current, options_.bar_width);
    if (bar == last_bar) return;
    last_bar = bar;
    if (options_.interactive) {
      out_ << "\r" << bar << "\033[K" << std::flush;
    } else {
      out_ << bar << "\n" << std::flush;
    }
  };
  auto finish = [&] {
    if (options_.interactive) out_ << "\n";
    out_ << FormatWatchEnd(current) << "\n";
    return kExitOk;
  };
  draw();
  if (current.state() != v1::STUDY_RUNNING) return finish();

  int64_t after_seq = 0;
  auto away_since = std::chrono::steady_clock::now();
  bool away = false;
  for (;;) {
    v1::WatchStudyRequest req;
    req.set_study(study);
    req.set_after_seq(after_seq);
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReaderInterface<v1::StudyEvent>> reader =
        stub_->WatchStudy(&ctx, req);
    v1::StudyEvent event;
    bool ended = false;
    while (reader->Read(&event)) {
      away = false;
      after_seq = event.seq();
      if (event.has_study()) current = event.study();
      draw();
      if (current.state() != v1::STUDY_RUNNING) {
        ended = true;
        ctx.TryCancel();  // the server may keep the stream open; we are done
        break;
      }
    }
    grpc::Status s = reader->Finish();
    if (ended) return finish();
    bool retryable = s.ok() || s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                     s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
                     s.error_code() == grpc::StatusCode::CANCELLED;
    if (!retryable) {
      if (options_.interactive) out_ << "\n";
      return RpcError(s);
    }
    // The stream closed while the study runs (controller restart or drain):
    // look again, then resume after the last event seen.
    v1::GetStudyRequest get;
    get.set_study(study);
    grpc::ClientContext get_ctx;
    SetDeadline(&get_ctx);
    v1::Study fresh;
    grpc::Status gs = stub_->GetStudy(&get_ctx, get, &fresh);
    if (gs.ok()) {
      away = false;
      current = fresh;
      draw();
      if (current.state() != v1::STUDY_RUNNING) return finish();
    } else if (gs.error_code() != grpc::StatusCode::UNAVAILABLE &&
               gs.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      if (options_.interactive) out_ << "\n";
      return RpcError(gs);
    } else {
      if (!away) {
        away = true;
        away_since = std::chrono::steady_clock::now();
        err_ << (options_.interactive ? "\n" : "")
             << "controller unavailable; reconnecting..." << std::endl;
      } else if (std::chrono::steady_clock::now() - away_since > options_.watch_give_up) {
        return RpcError(gs);
      }
    }
    std::this_thread::sleep_for(options_.watch_retry);
  }
}

int Commands::Cancel(const std::string& study) {
  v1::CancelStudyRequest req;
  req.set_study(study);
  v1::Study resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::Status s = stub_->CancelStudy(&ctx, req, &resp);
  if (!s.ok()) return RpcError(s);
  out_ << FormatCancelled(resp);
  return kExitOk;
}

int Commands::Ask(const std::string& study) {
  v1::AskTrialRequest req;
  req.set_study(study);
  v1::Trial trial;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::Status s = stub_->AskTrial(&ctx, req, &trial);
  if (!s.ok()) return RpcError(s);
  out_ << FormatAsked(trial);
  return kExitOk;
}

int Commands::Tell(const std::string& study, int64_t number, std::optional<double> value,
                   const std::string& state) {
  absl::StatusOr<v1::TrialState> parsed = ParseTrialState(state.empty() ? "complete" : state);
  if (!parsed.ok()) return UsageError(std::string(parsed.status().message()));
  if (*parsed != v1::COMPLETE && *parsed != v1::PRUNED && *parsed != v1::FAILED) {
    return UsageError("tell --state must be complete, pruned or failed");
  }
  if (*parsed == v1::COMPLETE && !value.has_value()) {
    return UsageError("tell needs a VALUE for a complete trial");
  }
  v1::TellTrialRequest req;
  req.set_study(study);
  req.set_number(number);
  req.set_state(*parsed);
  if (value.has_value()) {
    req.set_has_value(true);
    req.set_value(*value);
  }
  v1::Trial trial;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::Status s = stub_->TellTrial(&ctx, req, &trial);
  if (!s.ok()) return RpcError(s);
  out_ << FormatTold(trial);
  return kExitOk;
}

int Commands::Workers() {
  v1::ListWorkersResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::Status s = stub_->ListWorkers(&ctx, v1::ListWorkersRequest(), &resp);
  if (!s.ok()) return RpcError(s);
  out_ << FormatWorkers({resp.workers().begin(), resp.workers().end()}, NowUnixMs());
  return kExitOk;
}

}  // namespace peftsearch::cli
