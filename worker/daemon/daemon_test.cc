// The daemon against an in-process fake controller on loopback: real gRPC,
// real child processes, no SQLite. The multi-process tests against the real
// controller live in tests/.
#include "worker/daemon/daemon.h"

#include <grpcpp/grpcpp.h>
#include <stdlib.h>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/peftsearch.grpc.pb.h"

namespace peftsearch::daemon {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Just enough of the controller's WorkerService for the worker's side of the
// protocol; every reply can be steered by the test.
class FakeController final : public v1::WorkerService::Service {
 public:
  grpc::Status RegisterWorker(grpc::ServerContext*, const v1::RegisterWorkerRequest* req,
                              v1::RegisterWorkerResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu);
    registrations.push_back(*req);
    resp->set_worker_id(req->worker_id().empty() ? "w-1" : req->worker_id());
    resp->set_heartbeat_interval_ms(100);
    return grpc::Status::OK;
  }
  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* req,
                         v1::HeartbeatResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu);
    if (forget_worker_once) {
      forget_worker_once = false;
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown worker; register again");
    }
    for (const std::string& t : req->lease_tokens()) {
      heartbeat_tokens.insert(t);
      v1::LeaseStatus* s = resp->add_leases();
      s->set_lease_token(t);
      s->set_valid(invalid_tokens.count(t) == 0);
      s->set_cancel(cancelled_tokens.count(t) > 0);
    }
    return grpc::Status::OK;
  }
  grpc::Status AcquireTrial(grpc::ServerContext* ctx, const v1::AcquireTrialRequest* req,
                            v1::AcquireTrialResponse* resp) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      acquire_types.assign(req->objective_types().begin(), req->objective_types().end());
      if (!queue.empty()) {
        resp->set_has_trial(true);
        *resp->mutable_assignment() = queue.front();
        queue.pop_front();
        return grpc::Status::OK;
      }
    }
    if (!full_long_poll) {
      std::this_thread::sleep_for(std::min(std::chrono::milliseconds(req->wait_ms()), 50ms));
      return grpc::Status::OK;
    }
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(req->wait_ms());
    while (std::chrono::steady_clock::now() < until && !ctx->IsCancelled()) {
      std::this_thread::sleep_for(10ms);
    }
    return grpc::Status::OK;
  }
  grpc::Status ReportProgress(grpc::ServerContext*, const v1::ReportProgressRequest* req,
                              v1::ReportProgressResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu);
    progress[req->lease_token()].push_back(req->step());
    if (prune_at_step.count(req->lease_token()) &&
        req->step() >= prune_at_step[req->lease_token()]) {
      resp->set_action(v1::ReportProgressResponse::PRUNE);
    }
    return grpc::Status::OK;
  }
  grpc::Status CompleteTrial(grpc::ServerContext*, const v1::CompleteTrialRequest* req,
                             v1::CompleteTrialResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu);
    ++complete_calls;
    if (stale_tokens.count(req->lease_token())) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "stale lease");
    }
    completed[req->lease_token()] = *req;
    resp->set_state(v1::COMPLETE);
    return grpc::Status::OK;
  }
  grpc::Status FailTrial(grpc::ServerContext*, const v1::FailTrialRequest* req,
                         v1::FailTrialResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu);
    failed[req->lease_token()] = req->message();
    resp->set_state(v1::FAILED);
    return grpc::Status::OK;
  }

  void Enqueue(const std::string& token, int64_t number, const std::string& objective,
               const std::string& params) {
    v1::TrialAssignment a;
    a.mutable_lease()->set_token(token);
    a.set_study_id(1);
    a.set_study_name("demo");
    a.set_number(number);
    a.set_params_json(params);
    a.set_objective_json(objective);
    std::lock_guard<std::mutex> lock(mu);
    queue.push_back(a);
  }

  std::mutex mu;
  std::deque<v1::TrialAssignment> queue;
  std::vector<v1::RegisterWorkerRequest> registrations;
  std::vector<std::string> acquire_types;
  std::set<std::string> heartbeat_tokens, invalid_tokens, cancelled_tokens, stale_tokens;
  std::map<std::string, int64_t> prune_at_step;
  std::map<std::string, std::vector<int64_t>> progress;
  std::map<std::string, v1::CompleteTrialRequest> completed;
  std::map<std::string, std::string> failed;
  int complete_calls = 0;
  bool forget_worker_once = false;
  bool full_long_poll = false;
};

// A fake controller on a fixed loopback port, so that it can be "restarted".
class Server {
 public:
  explicit Server(FakeController* service, int port = 0) {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(),
                       &port_);
    b.RegisterService(service);
    server_ = b.BuildAndStart();
  }
  ~Server() { Stop(); }
  void Stop() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 100ms);
    server_.reset();
  }
  int port() const { return port_; }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit = 15s) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return cond();
}

std::string Sh(const std::string& script) {
  return json{{"type", "command"}, {"argv", {"/bin/sh", "-c", script}}}.dump();
}

class DaemonTest : public ::testing::Test {
 protected:
  DaemonOptions Options(int port) {
    DaemonOptions o;
    o.controller = "127.0.0.1:" + std::to_string(port);
    o.slots = 2;
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string dir = std::string(tmp != nullptr ? tmp : "/tmp") + "/daemonXXXXXX";
    EXPECT_NE(mkdtemp(dir.data()), nullptr);
    o.workdir = dir + "/work";
    o.name = "test-worker";
    o.self_exe = std::string(std::getenv("TEST_SRCDIR")) + "/peftsearch/worker/daemon/peftsearch-worker";
    o.acquire_wait = 200ms;
    o.kill_grace = 200ms;
    o.shutdown_grace = 5s;
    o.backoff.initial_delay = 50ms;
    o.backoff.max_delay = 300ms;
    return o;
  }

  void Start(DaemonOptions o) {
    absl::StatusOr<std::unique_ptr<Daemon>> d = Daemon::Create(std::move(o));
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = *std::move(d);
    runner_ = std::thread([this] { run_status_ = daemon_->Run(); });
  }

  void Stop() {
    if (!daemon_) return;
    daemon_->Shutdown();
    runner_.join();
    EXPECT_TRUE(run_status_.ok()) << run_status_;
    daemon_.reset();
  }

  void TearDown() override { Stop(); }

  std::unique_ptr<Daemon> daemon_;
  std::thread runner_;
  absl::Status run_status_;
};

TEST_F(DaemonTest, RunsTrialsAndReportsResults) {
  FakeController fake;
  Server server(&fake);
  fake.Enqueue("lease-a", 0,
               R"({"type": "builtin", "function": "sphere", "steps": 3, "sleep_ms": 30})",
               R"({"x0": 3, "x1": 4})");
  fake.Enqueue("lease-b", 1, Sh("echo boom >&2; exit 5"), "{}");
  fake.Enqueue("lease-c", 2, R"({"type": "command", "argv": ["echo", "{nope}"]})", "{}");
  Start(Options(server.port()));
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(fake.mu);
    return fake.completed.size() == 1 && fake.failed.size() == 2;
  }));
  std::string worker_id = daemon_->worker_id();
  Stop();  // while the fake still answers, so that shutdown is quick
  EXPECT_EQ(worker_id, "w-1");
  std::lock_guard<std::mutex> lock(fake.mu);
  EXPECT_DOUBLE_EQ(fake.completed["lease-a"].value(), 25.0);
  EXPECT_EQ(fake.completed["lease-a"].result_json(), R"({"value":25.0})");
  EXPECT_THAT(fake.progress["lease-a"], ElementsAre(1, 2, 3));
  EXPECT_THAT(fake.failed["lease-b"], HasSubstr("exit code 5"));
  EXPECT_THAT(fake.failed["lease-b"], HasSubstr("boom"));
  EXPECT_THAT(fake.failed["lease-c"], HasSubstr("{nope}"));
  ASSERT_FALSE(fake.registrations.empty());
  EXPECT_EQ(fake.registrations[0].slots(), 2);
  EXPECT_THAT(fake.registrations[0].objective_types(), ElementsAre("builtin", "command"));
  EXPECT_THAT(fake.acquire_types, ElementsAre("builtin", "command"));
}

TEST_F(DaemonTest, PruneKillsChildAndReportsNothingMore) {
  FakeController fake;
  Server server(&fake);
  fake.prune_at_step["lease-p"] = 2;
  fake.Enqueue("lease-p", 0,
               Sh("for i in 1 2 3 4; do echo \"{\\\"step\\\": $i, \\\"value\\\": 1}\"; "
                  "sleep 0.05; done; sleep 30; echo '{\"value\": 1}'"),
               "{}");
  Start(Options(server.port()));
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(fake.mu);
    return fake.progress["lease-p"].size() >= 2;
  }));
  auto start = std::chrono::steady_clock::now();
  Stop();  // returns only once the slot is free again, i.e. the child is gone
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  std::lock_guard<std::mutex> lock(fake.mu);
  EXPECT_THAT(fake.progress["lease-p"], ElementsAre(1, 2));
  EXPECT_TRUE(fake.completed.empty());
  EXPECT_TRUE(fake.failed.empty());
}

TEST_F(DaemonTest, HeartbeatCancelKillsChild) {
  FakeController fake;
  Server server(&fake);
  fake.cancelled_tokens.insert("lease-x");
  fake.Enqueue("lease-x", 0, Sh("sleep 30; echo '{\"value\": 1}'"), "{}");
  auto start = std::chrono::steady_clock::now();
  Start(Options(server.port()));
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(fake.mu);
    return fake.heartbeat_tokens.count("lease-x") > 0;
  }));
  // Shutdown waits for the slot; the cancel must already have freed it.
  Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
  std::lock_guard<std::mutex> lock(fake.mu);
  EXPECT_TRUE(fake.completed.empty());
  EXPECT_TRUE(fake.failed.empty());
}

TEST_F(DaemonTest, StaleLeaseResultIsDroppedNotRetried) {
  FakeController fake;
  Server server(&fake);
  fake.stale_tokens.insert("lease-s");
  fake.Enqueue("lease-s", 0, Sh("echo '{\"value\": 1}'"), "{}");
  fake.Enqueue("lease-t", 1, Sh("echo '{\"value\": 2}'"), "{}");
  Start(Options(server.port()));
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(fake.mu);
    return fake.completed.count("lease-t") > 0;
  }));
  std::this_thread::sleep_for(300ms);
  Stop();
  std::lock_guard<std::mutex> lock(fake.mu);
  EXPECT_EQ(fake.complete_calls, 2);
}

TEST_F(DaemonTest, ResultWaitsForControllerRestartAndWorkerReregisters) {
  auto fake = std::make_unique<FakeController>();
  auto server = std::make_unique<Server>(fake.get());
  const int port = server->port();
  fake->Enqueue("lease-r", 0, Sh("sleep 0.5; echo '{\"value\": 7}'"), "{}");
  Start(Options(port));
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(fake->mu);
    return fake->heartbeat_tokens.count("lease-r") > 0;
  }));
  // The controller dies while the trial runs, and comes back after it ended.
  server.reset();
  std::this_thread::sleep_for(1500ms);
  FakeController restarted;
  Server server2(&restarted, port);
  ASSERT_EQ(server2.port(), port);
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(restarted.mu);
    return restarted.completed.count("lease-r") > 0 && !restarted.registrations.empty();
  }));
  Stop();
  std::lock_guard<std::mutex> lock(restarted.mu);
  EXPECT_DOUBLE_EQ(restarted.completed["lease-r"].value(), 7.0);
  ASSERT_FALSE(restarted.registrations.empty());
  EXPECT_EQ(restarted.registrations[0].worker_id(), "w-1");
}

TEST_F(DaemonTest, ShutdownGraceKillsLongTrialWithoutReporting) {
  FakeController fake;
  Server server(&fake);
  fake.Enqueue("lease-l", 0, Sh("sleep 30; echo '{\"value\": 1}'"), "{}");
  DaemonOptions o = Options(server.port());
  o.shutdown_grace = 300ms;
  Start(o);
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(fake.mu);
    return fake.heartbeat_tokens.count("lease-l") > 0;
  }));
  auto start = std::chrono::steady_clock::now();
  Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  std::lock_guard<std::mutex> lock(fake.mu);
  EXPECT_TRUE(fake.completed.empty());
  EXPECT_TRUE(fake.failed.empty());
}

TEST_F(DaemonTest, ShutdownLetsShortTrialFinish) {
  FakeController fake;
  Server server(&fake);
  fake.Enqueue("lease-f", 0, Sh("sleep 0.5; echo '{\"value\": 3}'"), "{}");
  Start(Options(server.port()));
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(fake.mu);
    return fake.heartbeat_tokens.count("lease-f") > 0;
  }));
  Stop();
  std::lock_guard<std::mutex> lock(fake.mu);
  EXPECT_EQ(fake.completed.count("lease-f"), 1u);
}

TEST_F(DaemonTest, IdleWorkerStopsWithoutWaitingOutTheLongPoll) {
  FakeController fake;
  fake.full_long_poll = true;
  Server server(&fake);
  DaemonOptions o = Options(server.port());
  o.acquire_wait = 20s;
  Start(o);
  ASSERT_TRUE(WaitFor([&] { return !daemon_->worker_id().empty(); }));
  std::this_thread::sleep_for(200ms);  // both slots are now inside AcquireTrial
  auto start = std::chrono::steady_clock::now();
  Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST_F(DaemonTest, UnknownWorkerReregistersUnderSameId) {
  FakeController fake;
  fake.forget_worker_once = true;
  Server server(&fake);
  Start(Options(server.port()));
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(fake.mu);
    return fake.registrations.size() >= 2;
  }));
  Stop();
  std::lock_guard<std::mutex> lock(fake.mu);
  EXPECT_EQ(fake.registrations[0].worker_id(), "");
  EXPECT_EQ(fake.registrations[1].worker_id(), "w-1");
}

TEST(DaemonCreateTest, RejectsBadOptions) {
  DaemonOptions o;
  o.controller = "";
  o.workdir = "/tmp/x";
  o.self_exe = "/bin/true";
  EXPECT_EQ(Daemon::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.controller = "localhost:1";
  o.slots = 0;
  EXPECT_EQ(Daemon::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.slots = 1;
  o.workdir = "/proc/peftsearch-cannot-create";
  EXPECT_EQ(Daemon::Create(o).status().code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace peftsearch::daemon
