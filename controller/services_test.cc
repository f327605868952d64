// The callback services over real gRPC in this process (127.0.0.1:0, a real
// engine on an in-memory store, handlers on a HandlerPool as in the server):
// long polls that park, client cancellation, Stop during a long poll,
// WatchStudy streaming, and metrics for each call.
#include "controller/services.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "controller/engine_test_util.h"
#include "controller/handler_pool.h"
#include "controller/metrics.h"

namespace peftsearch::controller {
namespace {

using Clock = std::chrono::steady_clock;

std::string Spec(const std::string& name, int max_trials, int parallelism) {
  return R"({"name": ")" + name + R"(", "direction": "minimize",
    "space": {"x": {"type": "float", "low": 0, "high": 1}},
    "sampler": {"type": "random", "seed": 5},
    "objective": {"type": "builtin", "function": "sphere"},
    "max_trials": )" +
         std::to_string(max_trials) + R"(, "parallelism": )" + std::to_string(parallelism) + "}";
}

class ServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = NewMemoryEngine();
    ASSERT_NE(engine_, nullptr);
    pool_ = std::make_unique<HandlerPool>(8);
    study_service_ = std::make_unique<StudyServiceImpl>(engine_.get(), nullptr, pool_.get());
    worker_service_ = std::make_unique<WorkerServiceImpl>(engine_.get(), nullptr, pool_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(study_service_.get());
    builder.RegisterService(worker_service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                       grpc::InsecureChannelCredentials());
    study_ = v1::StudyService::NewStub(channel);
    worker_ = v1::WorkerService::NewStub(channel);
    engine_->Start();
  }

  void TearDown() override {
    engine_->Stop();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_.reset();
    pool_.reset();
  }

  void CreateStudy(const std::string& spec) {
    grpc::ClientContext ctx;
    v1::CreateStudyRequest req;
    req.set_spec_json(spec);
    v1::Study study;
    grpc::Status s = study_->CreateStudy(&ctx, req, &study);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  grpc::Status Acquire(const std::string& worker, int wait_ms, v1::AcquireTrialResponse* resp,
                       int deadline_ms = 10000) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
    v1::AcquireTrialRequest req;
    req.set_worker_id(worker);
    req.set_wait_ms(wait_ms);
    return worker_->AcquireTrial(&ctx, req, resp);
  }

  grpc::Status Complete(const std::string& token) {
    grpc::ClientContext ctx;
    v1::CompleteTrialRequest req;
    req.set_lease_token(token);
    req.set_value(0.25);
    v1::CompleteTrialResponse resp;
    return worker_->CompleteTrial(&ctx, req, &resp);
  }

  v1::Study Get(const std::string& name) {
    grpc::ClientContext ctx;
    v1::GetStudyRequest req;
    req.set_study(name);
    v1::Study study;
    EXPECT_TRUE(study_->GetStudy(&ctx, req, &study).ok());
    return study;
  }

  std::unique_ptr<StudyEngine> engine_;
  std::unique_ptr<HandlerPool> pool_;
  std::unique_ptr<StudyServiceImpl> study_service_;
  std::unique_ptr<WorkerServiceImpl> worker_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::StudyService::Stub> study_;
  std::unique_ptr<v1::WorkerService::Stub> worker_;
};

TEST_F(ServicesTest, LongPollGetsATrialCreatedWhileItWaits) {
  CreateStudy(Spec("lp", 2, 1));
  v1::AcquireTrialResponse first;
  ASSERT_TRUE(Acquire("w0", 0, &first).ok());
  ASSERT_TRUE(first.has_trial());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the first call's record
  const uint64_t calls_before = MetricsRegistry::Global().RpcCount("WorkerService/AcquireTrial");
  std::thread completer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_TRUE(Complete(first.assignment().lease().token()).ok());
  });
  v1::AcquireTrialResponse second;
  const auto start = Clock::now();
  grpc::Status s = Acquire("w1", 10000, &second);
  completer.join();
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(second.has_trial());
  EXPECT_EQ(second.assignment().number(), 1);
  EXPECT_EQ(second.assignment().study_name(), "lp");
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(150));
  // Recorded when the call is done on the server, which can be just after
  // the client has its answer.
  const auto give_up = Clock::now() + std::chrono::seconds(5);
  while (MetricsRegistry::Global().RpcCount("WorkerService/AcquireTrial") < calls_before + 1 &&
         Clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(MetricsRegistry::Global().RpcCount("WorkerService/AcquireTrial"), calls_before + 1);
}

TEST_F(ServicesTest, LongPollIsEmptyAtItsWait) {
  CreateStudy(Spec("empty", 2, 1));
  v1::AcquireTrialResponse first, second;
  ASSERT_TRUE(Acquire("w0", 0, &first).ok());
  const auto start = Clock::now();
  ASSERT_TRUE(Acquire("w1", 300, &second).ok());
  EXPECT_FALSE(second.has_trial());
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(290));
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
}

TEST_F(ServicesTest, CancelledLongPollEndsAndTakesNoTrial) {
  CreateStudy(Spec("cancel", 2, 1));
  v1::AcquireTrialResponse first, second;
  ASSERT_TRUE(Acquire("w0", 0, &first).ok());
  // The client gives up after 300 ms of a 30 s long poll: the server's
  // OnCancel ends the parked acquire, so the next trial is not leased to a
  // call nobody is waiting for.
  EXPECT_EQ(Acquire("w1", 30000, &second, 300).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_TRUE(Complete(first.assignment().lease().token()).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  v1::Study study = Get("cancel");
  EXPECT_EQ(study.counts().waiting(), 1);
  EXPECT_EQ(study.counts().running(), 0);
}

TEST_F(ServicesTest, StopAnswersLongPollsEmpty) {
  CreateStudy(Spec("stop", 2, 1));
  v1::AcquireTrialResponse first;
  ASSERT_TRUE(Acquire("w0", 0, &first).ok());
  std::vector<std::thread> pollers;
  std::atomic<int> empty{0};
  for (int i = 0; i < 4; ++i) {
    pollers.emplace_back([&, i] {
      v1::AcquireTrialResponse resp;
      grpc::Status s = Acquire("p" + std::to_string(i), 30000, &resp, 30000);
      if (s.ok() && !resp.has_trial()) empty++;
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = Clock::now();
  engine_->Stop();
  for (auto& t : pollers) t.join();
  EXPECT_EQ(empty.load(), 4);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
  // Shutdown does not wait for anything parked.
  const auto shutdown = Clock::now();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
  EXPECT_LT(Clock::now() - shutdown, std::chrono::seconds(3));
}

TEST_F(ServicesTest, WatchStreamsEventsUntilTheStudyEnds) {
  CreateStudy(Spec("watch", 3, 1));
  std::thread runner([&] {
    for (int i = 0; i < 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      v1::AcquireTrialResponse got;
      ASSERT_TRUE(Acquire("w", 1000, &got).ok());
      ASSERT_TRUE(got.has_trial());
      ASSERT_TRUE(Complete(got.assignment().lease().token()).ok());
    }
  });
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::WatchStudyRequest req;
  req.set_study("watch");
  auto reader = study_->WatchStudy(&ctx, req);
  v1::StudyEvent event;
  int64_t last_seq = 0;
  int events = 0;
  v1::Study last;
  while (reader->Read(&event)) {
    EXPECT_GT(event.seq(), last_seq);
    last_seq = event.seq();
    last = event.study();
    ++events;
  }
  grpc::Status s = reader->Finish();
  runner.join();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GE(events, 6);  // at least a lease and a completion per trial
  EXPECT_EQ(last.state(), v1::STUDY_COMPLETE);
  EXPECT_EQ(last.counts().complete(), 3);
}

TEST_F(ServicesTest, WatchEndsWhenTheClientCancels) {
  CreateStudy(Spec("idle", 3, 1));
  grpc::ClientContext ctx;
  v1::WatchStudyRequest req;
  req.set_study("idle");
  auto reader = study_->WatchStudy(&ctx, req);
  v1::StudyEvent event;
  while (reader->Read(&event)) {
    if (event.seq() > 0) break;  // replayed the history; now parked
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto start = Clock::now();
  ctx.TryCancel();
  while (reader->Read(&event)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
}

TEST_F(ServicesTest, WatchOfAnUnknownStudyIsNotFound) {
  grpc::ClientContext ctx;
  v1::WatchStudyRequest req;
  req.set_study("nope");
  auto reader = study_->WatchStudy(&ctx, req);
  v1::StudyEvent event;
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace peftsearch::controller
