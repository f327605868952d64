#include "controller/dashboard/http_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include "controller/engine_test_util.h"
#include "controller/metrics.h"

namespace peftsearch::controller::dashboard {
namespace {

class DashboardServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = NewMemoryEngine();
    ASSERT_NE(engine_, nullptr);
    auto study = engine_->CreateStudy(R"({"name": "ext", "direction": "minimize",
      "space": {"x": {"type": "float", "low": -5, "high": 5},
                "opt": {"type": "categorical", "choices": ["a", "b"]}},
      "sampler": {"type": "random", "seed": 1},
      "objective": {"type": "external"}, "max_trials": 10})");
    ASSERT_TRUE(study.ok()) << study.status();
    for (int i = 0; i < 8; ++i) {
      auto t = engine_->AskTrial("ext");
      ASSERT_TRUE(t.ok()) << t.status();
      if (i == 7) break;  // one stays RUNNING
      storage::TrialOutcome outcome;
      outcome.value = 1.0 + i;
      ASSERT_TRUE(engine_->TellTrial("ext", t->number, outcome).ok());
    }
  }

  std::unique_ptr<DashboardServer> StartServer(DashboardOptions options = {}) {
    options.address = "127.0.0.1:0";
    auto server = DashboardServer::Start(engine_.get(), std::move(options));
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? std::move(*server) : nullptr;
  }

  std::unique_ptr<StudyEngine> engine_;
};

TEST_F(DashboardServerTest, ServesPagesJsonAndMetrics) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  EXPECT_GT(server->port(), 0);
  httplib::Client client("127.0.0.1", server->port());

  auto index = client.Get("/");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->status, 200);
  EXPECT_NE(index->body.find("href=\"/studies/ext\""), std::string::npos);

  auto page = client.Get("/studies/ext");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<span id=\"trial-count\">8</span>"), std::string::npos);
  EXPECT_NE(page->body.find("id=\"parallel\""), std::string::npos);

  auto list = client.Get("/api/studies");
  ASSERT_TRUE(list);
  Json studies = Json::parse(list->body);
  ASSERT_EQ(studies.size(), 1u);
  EXPECT_EQ(studies[0]["counts"]["complete"], 7);

  auto detail = client.Get("/api/studies/ext");
  ASSERT_TRUE(detail);
  Json d = Json::parse(detail->body);
  EXPECT_EQ(d["study"]["counts"]["running"], 1);
  EXPECT_TRUE(d["importance"].contains("0"));

  auto light = client.Get("/api/studies/ext?fields=study");
  ASSERT_TRUE(light);
  Json l = Json::parse(light->body);
  EXPECT_EQ(l["study"]["total"], 8);
  EXPECT_FALSE(l.contains("importance"));

  auto complete = client.Get("/api/studies/ext/trials?state=complete");
  ASSERT_TRUE(complete);
  EXPECT_EQ(Json::parse(complete->body).size(), 7u);

  auto bad_state = client.Get("/api/studies/ext/trials?state=sideways");
  ASSERT_TRUE(bad_state);
  EXPECT_EQ(bad_state->status, 400);
  auto missing = client.Get("/api/studies/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  MetricsRegistry::Global().ObserveRpc("StudyService/GetStudy", 0.001);
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("peftsearch_trials{study=\"ext\",state=\"complete\"} 7"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("peftsearch_trials{study=\"ext\",state=\"running\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics->body.find("peftsearch_trials_finished_total 7"), std::string::npos);
  EXPECT_NE(metrics->body.find("peftsearch_rpc_duration_seconds_count{method=\"StudyService/"
                               "GetStudy\"}"),
            std::string::npos);
  // A second scrape reads only new events and counts nothing twice.
  EXPECT_NE(server->MetricsText().find("peftsearch_trials_finished_total 7"), std::string::npos);
  server->Stop();
  server->Stop();  // idempotent
}

TEST_F(DashboardServerTest, AuthorizeHookRefusesWithoutToken) {
  DashboardOptions options;
  options.authorize = [](std::optional<std::string_view> header) {
    if (!header) return absl::UnauthenticatedError("no token");
    if (*header != "Bearer good") return absl::PermissionDeniedError("not a read token");
    return absl::OkStatus();
  };
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  httplib::Client client("127.0.0.1", server->port());
  auto anonymous = client.Get("/api/studies");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  auto wrong = client.Get("/api/studies", {{"Authorization", "Bearer bad"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 403);
  auto good = client.Get("/api/studies", {{"Authorization", "Bearer good"}});
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 200);
}

TEST_F(DashboardServerTest, BadAddressesAreRefused) {
  DashboardOptions options;
  options.address = "no-port";
  EXPECT_EQ(DashboardServer::Start(engine_.get(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto first = StartServer();
  ASSERT_NE(first, nullptr);
  options.address = "127.0.0.1:" + std::to_string(first->port());
  EXPECT_EQ(DashboardServer::Start(engine_.get(), options).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace peftsearch::controller::dashboard
