// Auth over real gRPC: a controller's services on 127.0.0.1:0 in this process
// (real StudyEngine, SQLite file, Authorizer), clients built the way the CLI
// builds them. Each refusal must carry its specific status code.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <string>

#include "controller/auth.h"
#include "controller/cli/channel.h"
#include "controller/services.h"
#include "proto/peftsearch.grpc.pb.h"

namespace peftsearch {
namespace {

using controller::Authorizer;
using controller::AuthOptions;

constexpr char kSpec[] = R"({"name": "auth", "direction": "minimize",
  "space": {"x": {"type": "float", "low": 0, "high": 1}},
  "objective": {"type": "builtin", "function": "sphere"},
  "max_trials": 4, "parallelism": 2})";

class AuthRpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dir = std::getenv("TEST_TMPDIR");
    const std::string db = std::string(dir != nullptr ? dir : "/tmp") + "/auth_rpc.db";
    std::remove(db.c_str());
    auto store = storage::TrialStore::Open(db);
    ASSERT_TRUE(store.ok()) << store.status();
    auto engine = controller::StudyEngine::Open(std::move(*store), controller::EngineOptions{});
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    for (const char* role : {"admin", "submit", "read", "worker"}) {
      tokens_[role] = Token(role, role);
    }
    tokens_["worker2"] = Token("worker2", "worker");
    auth_ = std::make_unique<Authorizer>(engine_->store(), AuthOptions{});
    study_service_ = std::make_unique<controller::StudyServiceImpl>(engine_.get(), auth_.get());
    worker_service_ = std::make_unique<controller::WorkerServiceImpl>(engine_.get(), auth_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(study_service_.get());
    builder.RegisterService(worker_service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    address_ = "127.0.0.1:" + std::to_string(port);
    engine_->Start();
  }

  void TearDown() override {
    engine_->Stop();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
  }

  std::string Token(const std::string& name, const std::string& role) {
    const std::string token = controller::NewBearerToken();
    EXPECT_TRUE(engine_->store()->CreateToken(name, role, controller::TokenSha256(token), 1).ok());
    return token;
  }

  std::shared_ptr<grpc::Channel> Channel(const std::string& token) {
    cli::ChannelOptions options;
    options.token = token;
    auto channel = cli::MakeChannel(address_, options);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return *channel;
  }
  std::unique_ptr<v1::StudyService::Stub> Study(const std::string& token) {
    return v1::StudyService::NewStub(Channel(token));
  }
  std::unique_ptr<v1::WorkerService::Stub> Worker(const std::string& token) {
    return v1::WorkerService::NewStub(Channel(token));
  }

  grpc::Status CreateStudy(const std::string& token) {
    grpc::ClientContext ctx;
    v1::CreateStudyRequest req;
    req.set_spec_json(kSpec);
    v1::Study study;
    return Study(token)->CreateStudy(&ctx, req, &study);
  }

  std::string Register(v1::WorkerService::Stub* stub, const std::string& name) {
    grpc::ClientContext ctx;
    v1::RegisterWorkerRequest req;
    req.set_name(name);
    req.set_slots(1);
    v1::RegisterWorkerResponse resp;
    grpc::Status s = stub->RegisterWorker(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.worker_id();
  }

  std::unique_ptr<controller::StudyEngine> engine_;
  std::map<std::string, std::string> tokens_;
  std::unique_ptr<Authorizer> auth_;
  std::unique_ptr<controller::StudyServiceImpl> study_service_;
  std::unique_ptr<controller::WorkerServiceImpl> worker_service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

TEST_F(AuthRpcTest, NoTokenIsUnauthenticated) {
  EXPECT_EQ(CreateStudy("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::ClientContext ctx;
  v1::ListStudiesResponse resp;
  EXPECT_EQ(Study("")->ListStudies(&ctx, {}, &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::ClientContext wctx;
  v1::RegisterWorkerResponse wresp;
  EXPECT_EQ(Worker("")->RegisterWorker(&wctx, {}, &wresp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AuthRpcTest, WrongTokenIsUnauthenticatedAndNotEchoed) {
  const std::string wrong = controller::NewBearerToken();
  grpc::Status s = CreateStudy(wrong);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message().find(wrong), std::string::npos);
}

TEST_F(AuthRpcTest, ReadTokenCannotCreateStudyButCanRead) {
  grpc::Status s = CreateStudy(tokens_["read"]);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_EQ(engine_->ListStudies()->size(), 0u) << "a refused call must store nothing";
  grpc::ClientContext ctx;
  v1::ListStudiesResponse resp;
  EXPECT_TRUE(Study(tokens_["read"])->ListStudies(&ctx, {}, &resp).ok());
  // A worker token may not use StudyService at all; a submit token may create.
  EXPECT_EQ(CreateStudy(tokens_["worker"]).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(CreateStudy(tokens_["submit"]).ok());
  // And a submit token is no worker.
  grpc::ClientContext wctx;
  v1::RegisterWorkerResponse wresp;
  EXPECT_EQ(Worker(tokens_["submit"])->RegisterWorker(&wctx, {}, &wresp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AuthRpcTest, WorkerTokenCannotCompleteAnotherWorkersTrial) {
  ASSERT_TRUE(CreateStudy(tokens_["admin"]).ok());
  auto w1 = Worker(tokens_["worker"]);
  auto w2 = Worker(tokens_["worker2"]);
  const std::string id1 = Register(w1.get(), "w1");
  const std::string id2 = Register(w2.get(), "w2");

  v1::AcquireTrialResponse acquired;
  {
    grpc::ClientContext ctx;
    v1::AcquireTrialRequest req;
    req.set_worker_id(id1);
    req.set_wait_ms(5000);
    ASSERT_TRUE(w1->AcquireTrial(&ctx, req, &acquired).ok());
    ASSERT_TRUE(acquired.has_trial());
  }
  const std::string lease = acquired.assignment().lease().token();

  // Worker 2 presents worker 1's lease: refused, and the trial stays running.
  {
    grpc::ClientContext ctx;
    v1::CompleteTrialRequest req;
    req.set_lease_token(lease);
    req.set_value(0.5);
    v1::CompleteTrialResponse resp;
    grpc::Status s = w2->CompleteTrial(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  }
  for (const char* rpc : {"fail", "progress"}) {
    grpc::ClientContext ctx;
    grpc::Status s;
    if (std::string(rpc) == "fail") {
      v1::FailTrialRequest req;
      req.set_lease_token(lease);
      v1::FailTrialResponse resp;
      s = w2->FailTrial(&ctx, req, &resp);
    } else {
      v1::ReportProgressRequest req;
      req.set_lease_token(lease);
      v1::ReportProgressResponse resp;
      s = w2->ReportProgress(&ctx, req, &resp);
    }
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << rpc;
  }
  // Nor may it heartbeat, acquire or re-register as worker 1.
  {
    grpc::ClientContext ctx;
    v1::HeartbeatRequest req;
    req.set_worker_id(id1);
    req.add_lease_tokens(lease);
    v1::HeartbeatResponse resp;
    EXPECT_EQ(w2->Heartbeat(&ctx, req, &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    v1::AcquireTrialRequest req;
    req.set_worker_id(id1);
    v1::AcquireTrialResponse resp;
    EXPECT_EQ(w2->AcquireTrial(&ctx, req, &resp).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    v1::RegisterWorkerRequest req;
    req.set_worker_id(id1);
    v1::RegisterWorkerResponse resp;
    EXPECT_EQ(w2->RegisterWorker(&ctx, req, &resp).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  auto trial = engine_->store()->GetTrialByToken(lease);
  ASSERT_TRUE(trial.ok());
  EXPECT_EQ(trial->state, storage::TrialState::kRunning);

  // The lease holder completes it.
  grpc::ClientContext ctx;
  v1::CompleteTrialRequest req;
  req.set_lease_token(lease);
  req.set_value(0.5);
  v1::CompleteTrialResponse resp;
  grpc::Status s = w1->CompleteTrial(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.state(), v1::COMPLETE);
  (void)id2;
}

}  // namespace
}  // namespace peftsearch
