#include "controller/dashboard/pages.h"

#include <gtest/gtest.h>

#include "controller/dashboard/charts.h"
#include "controller/dashboard/prometheus.h"

namespace peftsearch::controller::dashboard {
namespace {

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

std::vector<TrialInfo> SomeTrials() {
  std::vector<TrialInfo> trials;
  const char* states[] = {"COMPLETE", "COMPLETE", "PRUNED", "COMPLETE", "RUNNING", "COMPLETE"};
  for (int i = 0; i < 6; ++i) {
    TrialInfo t;
    t.number = i;
    t.state = states[i];
    t.params = {{"x", i * 1.5}, {"opt", i % 2 ? "sgd" : "adam"}};
    if (t.state != "RUNNING") t.value = 10.0 - i;
    t.intermediate = {{1, 20.0 - i}, {2, 15.0 - i}};
    trials.push_back(t);
  }
  return trials;
}

StudyInfo SomeStudy() {
  StudyInfo s;
  s.name = "branin <1>";
  s.state = "RUNNING";
  s.strategy = "single";
  s.complete = 4;
  s.pruned = 1;
  s.running = 1;
  s.best_value = 5;
  s.best_trial_number = 5;
  return s;
}

TEST(ChartsTest, HistoryDrawsFinishedTrialsAndBestSoFar) {
  const std::string svg = HistorySvg(SomeTrials(), /*maximize=*/false);
  EXPECT_NE(svg.find("id=\"history\""), std::string::npos);
  EXPECT_NE(svg.find("data-points=\"5\""), std::string::npos);  // RUNNING has no value
  EXPECT_EQ(Count(svg, "class=\"point\""), 5);
  EXPECT_EQ(Count(svg, "class=\"best\""), 1);
}

TEST(ChartsTest, HistoryUsesALogAxisForValuesSpanningDecades) {
  std::vector<TrialInfo> trials = SomeTrials();
  EXPECT_NE(HistorySvg(trials, false).find("data-log-y=\"0\""), std::string::npos);
  trials[0].value = 300.0;
  trials[1].value = 0.4;
  const std::string svg = HistorySvg(trials, false);
  EXPECT_NE(svg.find("data-log-y=\"1\""), std::string::npos);
  EXPECT_NE(svg.find("objective value (log)"), std::string::npos);
  EXPECT_NE(svg.find(">100</text>"), std::string::npos);  // a decade tick
}

TEST(ChartsTest, EmptyChartsStillRenderWithTheirId) {
  for (const std::string& svg :
       {HistorySvg({}, false), IntermediateSvg({}), ParallelCoordinatesSvg({}, {}, false),
        ImportanceSvg({}), MethodEffectsSvg({})}) {
    EXPECT_EQ(svg.rfind("<svg", 0), 0u);
    EXPECT_NE(svg.find("</svg>"), std::string::npos);
  }
  EXPECT_NE(IntermediateSvg({}).find("no intermediate values"), std::string::npos);
}

TEST(ChartsTest, ParallelCoordinatesOneLinePerTrialOneAxisPerColumnAndValue) {
  auto done = CompletedTrials(SomeTrials());
  auto columns = ParamColumns(done, StudyInfo{});
  const std::string svg = ParallelCoordinatesSvg(done, columns, false);
  EXPECT_EQ(Count(svg, "class=\"line\""), 4);
  EXPECT_EQ(Count(svg, "class=\"axis\""), 3);
  EXPECT_NE(svg.find("data-axes=\"3\""), std::string::npos);
}

TEST(ChartsTest, TextIsEscaped) {
  const std::string svg = ImportanceSvg({{"<script>", 1.0}});
  EXPECT_EQ(svg.find("<script>"), std::string::npos);
  EXPECT_NE(svg.find("&lt;script&gt;"), std::string::npos);
}

TEST(PagesTest, StudyPageHasEveryChartTableRowsAndFilters) {
  const std::string html = StudyPage(SomeStudy(), SomeTrials());
  for (const char* id : {"id=\"history\"", "id=\"intermediate\"", "id=\"parallel\"",
                         "id=\"importance\"", "id=\"trials\"", "id=\"filter-state\"",
                         "id=\"filter-phase\"", "<span id=\"trial-count\">6</span>"}) {
    EXPECT_NE(html.find(id), std::string::npos) << id;
  }
  EXPECT_EQ(Count(html, "<tr class=\"trial\""), 6);
  EXPECT_NE(html.find("<option>PRUNED</option>"), std::string::npos);
  EXPECT_NE(html.find("branin &lt;1&gt;"), std::string::npos);
  EXPECT_EQ(html.find("branin <1>"), std::string::npos);
  EXPECT_NE(html.find("data-api=\"/api/studies/branin%20%3C1%3E?fields=study\""), std::string::npos);
  EXPECT_NE(html.find("live: refreshes"), std::string::npos);  // running study polls
  EXPECT_EQ(html.find("id=\"methods\""), std::string::npos);   // not a hybrid study
}

TEST(PagesTest, HybridStudyShowsWinnerAndMethodEffects) {
  StudyInfo study = SomeStudy();
  study.strategy = "hybrid_peft";
  study.maximize = true;
  study.summary = Json::parse(R"({"phase": 2,
    "step1": {"best_trial": 1, "best_value": 0.9, "combination": ["lora_x", "bias"],
              "trainable_params": 1234567}})");
  std::vector<TrialInfo> trials;
  for (int i = 0; i < 6; ++i) {
    TrialInfo t;
    t.number = i;
    t.state = "COMPLETE";
    t.phase = 1;
    t.params = {{"lora_x", i % 2 == 0}, {"bias", i % 3 == 0}, {"peft", Json::object()}};
    t.value = 0.5 + 0.05 * i;
    trials.push_back(t);
  }
  const std::string html = StudyPage(study, trials);
  EXPECT_NE(html.find("id=\"methods\""), std::string::npos);
  EXPECT_NE(html.find("data-methods=\"2\""), std::string::npos);
  EXPECT_NE(html.find("<span id=\"winner-combination\">lora_x + bias</span>"), std::string::npos);
  EXPECT_NE(html.find("<span id=\"winner-params\">1,234,567</span>"), std::string::npos);
  Json detail = StudyDetailJson(study, trials);
  EXPECT_EQ(detail["winner"]["combination"], Json::parse(R"(["lora_x", "bias"])"));
  EXPECT_EQ(detail["method_effects"].size(), 2u);
  EXPECT_EQ(detail["importance_method"], "ped-anova");
  EXPECT_TRUE(detail["importance"].contains("1"));
}

TEST(PagesTest, JsonCarriesCountsAndTrials) {
  Json s = StudyToJson(SomeStudy());
  EXPECT_EQ(s["total"], 6);
  EXPECT_EQ(s["counts"]["pruned"], 1);
  EXPECT_EQ(s["best_value"], 5.0);
  Json t = TrialsJson(SomeTrials());
  ASSERT_EQ(t.size(), 6u);
  EXPECT_EQ(t[4]["value"], nullptr);
  EXPECT_EQ(t[0]["intermediate_values"], Json::parse("[[1, 20.0], [2, 15.0]]"));
}

TEST(PagesTest, StudiesPageLinksEveryStudy) {
  StudyInfo a = SomeStudy(), b = SomeStudy();
  b.name = "other";
  const std::string html = StudiesPage({a, b});
  EXPECT_EQ(Count(html, "<tr class=\"study\""), 2);
  EXPECT_NE(html.find("href=\"/studies/other\""), std::string::npos);
}

TEST(PrometheusTest, RendersGaugesCountersAndExtra) {
  MetricsSnapshot snap;
  snap.studies = {SomeStudy()};
  snap.studies[0].waiting = 3;
  snap.workers_alive = 2;
  snap.workers_registered = 3;
  snap.leases_expired_total = 4;
  snap.trials_per_second = 0.5;
  const std::string text = RenderPrometheus(snap, "extra_metric 1\n");
  EXPECT_NE(text.find("peftsearch_trials{study=\"branin <1>\",state=\"waiting\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("peftsearch_trials{study=\"branin <1>\",state=\"complete\"} 4\n"),
            std::string::npos);
  EXPECT_NE(text.find("peftsearch_queue_depth 3\n"), std::string::npos);
  EXPECT_NE(text.find("peftsearch_workers_alive 2\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE peftsearch_leases_expired_total counter\n"
                      "peftsearch_leases_expired_total 4\n"),
            std::string::npos);
  EXPECT_NE(text.find("peftsearch_trials_per_second 0.5\n"), std::string::npos);
  EXPECT_NE(text.find("peftsearch_studies{state=\"running\"} 1\n"), std::string::npos);
  EXPECT_EQ(text.substr(text.size() - 15), "extra_metric 1\n");
}

TEST(EventTallyTest, CountsExpiriesAndFinishesOnceWithAWindowedRate) {
  EventTally tally(10000);
  auto event = [](int64_t seq, const char* kind, storage::TrialState state, int64_t ms) {
    storage::EventRecord e;
    e.seq = seq;
    e.trial_number = 0;
    e.kind = kind;
    e.state = state;
    e.unix_ms = ms;
    return e;
  };
  using S = storage::TrialState;
  tally.Add({event(1, "leased", S::kRunning, 1000), event(2, "expired", S::kWaiting, 2000),
             event(3, "complete", S::kComplete, 3000), event(4, "pruned", S::kPruned, 20000)});
  tally.Add({event(4, "pruned", S::kPruned, 20000), event(5, "failed", S::kFailed, 21000)});
  EXPECT_EQ(tally.last_seq(), 5);
  MetricsSnapshot snap;
  tally.Fill(22000, &snap);
  EXPECT_EQ(snap.leases_expired_total, 1);
  EXPECT_EQ(snap.trials_finished_total, 3);
  EXPECT_DOUBLE_EQ(snap.trials_per_second, 0.2);  // 2 in the last 10 s
}

}  // namespace
}  // namespace peftsearch::controller::dashboard
