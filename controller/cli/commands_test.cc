// The commands against an in-process fake StudyService on loopback.
#include "controller/cli/commands.h"

#include <grpcpp/grpcpp.h>
#include <stdlib.h>

#include <fstream>
#include <mutex>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peftsearch::cli {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace v1 = ::peftsearch::v1;

class FakeStudyService final : public v1::StudyService::Service {
 public:
  grpc::Status CreateStudy(grpc::ServerContext*, const v1::CreateStudyRequest* req,
                           v1::Study* resp) override {
    if (req->spec_json().find("\"direction\": \"up\"") != std::string::npos) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "direction: must be minimize or maximize, got \"up\"");
    }
    resp->set_id(9);
    resp->set_name("demo");
    resp->set_state(v1::STUDY_RUNNING);
    return grpc::Status::OK;
  }
  grpc::Status GetStudy(grpc::ServerContext*, const v1::GetStudyRequest* req,
                        v1::Study* resp) override {
    if (req->study() != "demo") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no study named '" + req->study() + "'");
    }
    std::lock_guard<std::mutex> lock(mu);
    *resp = study;
    return grpc::Status::OK;
  }
  grpc::Status ListTrials(grpc::ServerContext*, const v1::ListTrialsRequest* req,
                          v1::ListTrialsResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu);
    list_requests.push_back(*req);
    // Two trials per page, whatever the client asks for.
    int start = req->page_token().empty() ? 0 : std::stoi(req->page_token());
    for (int i = start; i < start + 2 && i < 5; ++i) {
      v1::Trial* t = resp->add_trials();
      t->set_number(i);
      t->set_state(v1::COMPLETE);
      t->set_has_value(true);
      t->set_value(i * 0.5);
      t->set_params_json("{\"x\": " + std::to_string(i) + "}");
    }
    if (start + 2 < 5) resp->set_next_page_token(std::to_string(start + 2));
    resp->set_total_size(5);
    return grpc::Status::OK;
  }
  grpc::Status BestTrials(grpc::ServerContext*, const v1::BestTrialsRequest* req,
                          v1::BestTrialsResponse* resp) override {
    for (int i = 0; i < req->count(); ++i) {
      v1::Trial* t = resp->add_trials();
      t->set_number(i);
      t->set_has_value(true);
      t->set_value(i);
      t->set_params_json("{}");
    }
    return grpc::Status::OK;
  }
  grpc::Status WatchStudy(grpc::ServerContext*, const v1::WatchStudyRequest* req,
                          grpc::ServerWriter<v1::StudyEvent>* writer) override {
    int call;
    {
      std::lock_guard<std::mutex> lock(mu);
      call = watch_calls++;
      watch_after_seq.push_back(req->after_seq());
    }
    v1::StudyEvent e;
    e.set_seq(req->after_seq() + 1);
    *e.mutable_study() = study;
    e.mutable_study()->mutable_counts()->set_complete(1);
    writer->Write(e);
    if (call == 0 && fail_first_watch) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "controller restarting");
    }
    e.set_seq(e.seq() + 1);
    e.mutable_study()->mutable_counts()->set_complete(2);
    e.mutable_study()->set_state(v1::STUDY_COMPLETE);
    writer->Write(e);
    return grpc::Status::OK;
  }
  grpc::Status TellTrial(grpc::ServerContext*, const v1::TellTrialRequest* req,
                         v1::Trial* resp) override {
    std::lock_guard<std::mutex> lock(mu);
    tells.push_back(*req);
    resp->set_number(req->number());
    resp->set_state(req->state());
    resp->set_has_value(req->has_value());
    resp->set_value(req->value());
    return grpc::Status::OK;
  }
  grpc::Status AskTrial(grpc::ServerContext*, const v1::AskTrialRequest*,
                        v1::Trial* resp) override {
    resp->set_number(4);
    resp->set_params_json(R"({"lr": 0.01})");
    return grpc::Status::OK;
  }

  std::mutex mu;
  v1::Study study;
  bool fail_first_watch = false;
  int watch_calls = 0;
  std::vector<int64_t> watch_after_seq;
  std::vector<v1::ListTrialsRequest> list_requests;
  std::vector<v1::TellTrialRequest> tells;
};

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.study.set_id(9);
    fake_.study.set_name("demo");
    fake_.study.set_state(v1::STUDY_RUNNING);
    fake_.study.set_max_trials(2);
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(&fake_);
    server_ = b.BuildAndStart();
    stub_ = v1::StudyService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
    options_.rpc_timeout = 5s;
    options_.watch_retry = 10ms;
  }
  void TearDown() override { server_->Shutdown(std::chrono::system_clock::now() + 100ms); }

  Commands Make() { return Commands(stub_.get(), options_, &out_, &err_); }

  std::string WriteSpec(const std::string& text) {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/spec.json";
    std::ofstream(path) << text;
    return path;
  }

  FakeStudyService fake_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::StudyService::Stub> stub_;
  CommandOptions options_;
  std::ostringstream out_, err_;
};

TEST_F(CommandsTest, SubmitPrintsCreatedStudy) {
  EXPECT_EQ(Make().Submit(WriteSpec(R"({"name": "demo"})")), kExitOk);
  EXPECT_EQ(out_.str(), "created study id=9 name=demo state=running\n");
}

TEST_F(CommandsTest, SubmitRejectedSpecExits2WithServerMessage) {
  EXPECT_EQ(Make().Submit(WriteSpec(R"({"direction": "up"})")), kExitUsage);
  EXPECT_EQ(err_.str(),
            "error: INVALID_ARGUMENT: direction: must be minimize or maximize, got \"up\"\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(CommandsTest, SubmitMissingFileExits2) {
  EXPECT_EQ(Make().Submit("/nonexistent/spec.json"), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("cannot read study spec /nonexistent/spec.json"));
}

TEST_F(CommandsTest, TrialsPagesThroughEverything) {
  EXPECT_EQ(Make().Trials("demo", "complete", "table"), kExitOk);
  std::string out = out_.str();
  EXPECT_THAT(out, StartsWith("NUMBER  STATE     VALUE  PHASE  ATTEMPT  PARAMS\n"));
  EXPECT_THAT(out, HasSubstr("\n4       complete  2      0      0        x=4\n"));
  ASSERT_EQ(fake_.list_requests.size(), 3u);
  EXPECT_EQ(fake_.list_requests[0].state(), v1::COMPLETE);
  EXPECT_EQ(fake_.list_requests[2].page_token(), "4");
}

TEST_F(CommandsTest, TrialsBadStateOrFormatExit2) {
  EXPECT_EQ(Make().Trials("demo", "done", "table"), kExitUsage);
  EXPECT_EQ(Make().Trials("demo", "", "xml"), kExitUsage);
  EXPECT_TRUE(fake_.list_requests.empty());
}

TEST_F(CommandsTest, UnknownStudyIsOneErrorLine) {
  EXPECT_EQ(Make().Status("nope"), kExitRpcError);
  EXPECT_EQ(err_.str(), "error: NOT_FOUND: no study named 'nope'\n");
}

TEST_F(CommandsTest, BestPrintsRequestedCount) {
  EXPECT_EQ(Make().Best("demo", 3), kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr("\n3     2      2      0\n"));
}

TEST_F(CommandsTest, WatchFollowsUntilStudyEnds) {
  EXPECT_EQ(Make().Watch("demo"), kExitOk);
  EXPECT_EQ(out_.str(),
            "[..............................] 0/2 done  running 0  pruned 0  failed 0  best -\n"
            "[###############...............] 1/2 done  running 0  pruned 0  failed 0  best -\n"
            "[##############################] 2/2 done  running 0  pruned 0  failed 0  best -\n"
            "study demo complete: 2 trials done, best -\n");
}

TEST_F(CommandsTest, WatchResumesAfterControllerDrop) {
  fake_.fail_first_watch = true;
  EXPECT_EQ(Make().Watch("demo"), kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr("study demo complete"));
  ASSERT_EQ(fake_.watch_after_seq.size(), 2u);
  EXPECT_EQ(fake_.watch_after_seq[1], 1);  // resumed after the last event seen
}

TEST_F(CommandsTest, WatchOfFinishedStudyReturnsAtOnce) {
  fake_.study.set_state(v1::STUDY_CANCELLED);
  EXPECT_EQ(Make().Watch("demo"), kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr("study demo cancelled"));
  EXPECT_EQ(fake_.watch_calls, 0);
}

TEST_F(CommandsTest, AskAndTell) {
  EXPECT_EQ(Make().Ask("demo"), kExitOk);
  EXPECT_EQ(out_.str(), "trial 4\n{\"lr\":0.01}\n");
  EXPECT_EQ(Make().Tell("demo", 4, 0.75, "complete"), kExitOk);
  EXPECT_EQ(Make().Tell("demo", 5, std::nullopt, "failed"), kExitOk);
  EXPECT_EQ(Make().Tell("demo", 6, std::nullopt, "complete"), kExitUsage);
  ASSERT_EQ(fake_.tells.size(), 2u);
  EXPECT_TRUE(fake_.tells[0].has_value());
  EXPECT_DOUBLE_EQ(fake_.tells[0].value(), 0.75);
  EXPECT_EQ(fake_.tells[1].state(), v1::FAILED);
  EXPECT_FALSE(fake_.tells[1].has_value());
  EXPECT_THAT(out_.str(), HasSubstr("trial 4 complete value=0.75\ntrial 5 failed\n"));
}

TEST_F(CommandsTest, UnimplementedRpcIsReported) {
  EXPECT_EQ(Make().Workers(), kExitRpcError);
  EXPECT_THAT(err_.str(), StartsWith("error: UNIMPLEMENTED: "));
}

TEST(CommandsUnreachableTest, UnavailableNamesTheController) {
  auto stub = v1::StudyService::NewStub(
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()));
  CommandOptions options;
  options.controller = "127.0.0.1:1";
  options.rpc_timeout = 2s;
  std::ostringstream out, err;
  Commands commands(stub.get(), options, &out, &err);
  EXPECT_EQ(commands.Studies(), kExitRpcError);
  EXPECT_THAT(err.str(), StartsWith("error: UNAVAILABLE: "));
  EXPECT_THAT(err.str(), HasSubstr("(controller 127.0.0.1:1)\n"));
}

}  // namespace
}  // namespace peftsearch::cli
