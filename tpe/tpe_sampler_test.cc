#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <thread>
#include <vector>

#include "tpe/random.h"
#include "tpe/sampler.h"
#include "tpe/test_util.h"

namespace peftsearch {
namespace tpe {
namespace {

using testing::Cat;
using testing::Float;
using testing::Int;
using testing::When;

std::unique_ptr<Sampler> Tpe(TpeOptions o = {}) {
  std::unique_ptr<Sampler> s;
  Status st = NewTpeSampler(o, &s);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return s;
}

SearchSpace MixedSpace() {
  return {{Float("x", -5, 5), Float("lr", 1e-5, 1, true), Int("n", 1, 10),
           Int("units", 8, 1024, true), Float("d", 0, 0.5, false, 0.05), Cat("opt", 3),
           When(Float("momentum", 0, 0.99), "opt", {0}), When(Int("beta", 1, 3), "opt", {1}),
           Float("const", 2, 2), Int("one", 4, 4), Cat("only", 1), Int("odd", 0, 10, false, 3)}};
}

double Objective(const ParamValues& v) {
  double f = (v.at("x") - 1) * (v.at("x") - 1) + std::pow(std::log10(v.at("lr")) + 3, 2) +
             0.1 * std::fabs(v.at("n") - 7) + std::pow(std::log2(v.at("units")) - 6, 2) +
             (v.at("opt") == 0 ? (v.at("momentum") - 0.9) * (v.at("momentum") - 0.9) : 0.5);
  return f;
}

// Runs a sequential study; returns its trials.
std::vector<Trial> RunStudy(Sampler* sampler, const SearchSpace& space, int n_trials,
                       Direction dir = Direction::kMinimize) {
  std::vector<Trial> trials;
  for (int t = 0; t < n_trials; ++t) {
    ParamValues v;
    Status s = sampler->Suggest(space, trials, dir, t, &v);
    EXPECT_TRUE(s.ok()) << s.ToString();
    Trial trial;
    trial.number = t;
    trial.state = TrialState::kComplete;
    trial.params = v;
    trial.value = Objective(v) * (dir == Direction::kMinimize ? 1 : -1);
    trials.push_back(trial);
  }
  return trials;
}

void ExpectLegal(const SearchSpace& space, const ParamValues& v) {
  ParamValues seen;
  for (const ParamSpec& p : space.params) {
    if (!IsActive(p, seen)) {
      EXPECT_EQ(v.count(p.name), 0u) << p.name;
      continue;
    }
    ASSERT_EQ(v.count(p.name), 1u) << p.name;
    EXPECT_TRUE(Contains(p.distribution, v.at(p.name))) << p.name << "=" << v.at(p.name);
    seen[p.name] = v.at(p.name);
  }
  EXPECT_EQ(seen.size(), v.size());
}

TEST(TpeSamplerTest, OptionsAreChecked) {
  std::unique_ptr<Sampler> s;
  TpeOptions o;
  o.n_ei_candidates = 0;
  EXPECT_EQ(NewTpeSampler(o, &s).message(), "n_ei_candidates (0) must be >= 1");
  o = {};
  o.group = true;
  EXPECT_EQ(NewTpeSampler(o, &s).message(), "group requires multivariate");
  o = {};
  o.prior_weight = 0;
  EXPECT_EQ(NewTpeSampler(o, &s).code(), Status::Code::kInvalidArgument);
  o = {};
  o.n_startup_trials = -1;
  EXPECT_EQ(NewTpeSampler(o, &s).code(), Status::Code::kInvalidArgument);
}

TEST(TpeSamplerTest, EveryModeGivesLegalValuesForEdgeCaseDistributions) {
  // low == high, one-choice categoricals, step grids that do not divide the
  // range, log ints, conditional children: all in every mode.
  SearchSpace space = MixedSpace();
  for (int mode = 0; mode < 4; ++mode) {
    TpeOptions o;
    o.seed = 3;
    o.multivariate = mode >= 1;
    o.group = mode == 2;
    o.multivariate_neighbor_bandwidth = mode == 3;
    o.constant_liar = mode == 2;
    auto sampler = Tpe(o);
    std::vector<Trial> trials = RunStudy(sampler.get(), space, 40);
    for (const Trial& t : trials) ExpectLegal(space, t.params);
    for (const Trial& t : trials) {
      EXPECT_EQ(t.params.at("const"), 2);
      EXPECT_EQ(t.params.at("one"), 4);
      EXPECT_EQ(t.params.at("only"), 0);
    }
  }
}

TEST(TpeSamplerTest, DeterministicForSameSeedAndHistory) {
  SearchSpace space = MixedSpace();
  for (bool mv : {false, true}) {
    TpeOptions o;
    o.seed = 11;
    o.multivariate = mv;
    o.group = mv;
    auto a = Tpe(o);
    auto b = Tpe(o);
    std::vector<Trial> ta = RunStudy(a.get(), space, 30);
    std::vector<Trial> tb = RunStudy(b.get(), space, 30);
    for (int i = 0; i < 30; ++i) EXPECT_EQ(ta[i].params, tb[i].params) << i;
    // Order of the history does not matter either.
    std::vector<Trial> reversed(ta.rbegin(), ta.rend());
    ParamValues x, y;
    ASSERT_TRUE(a->Suggest(space, ta, Direction::kMinimize, 30, &x).ok());
    ASSERT_TRUE(b->Suggest(space, reversed, Direction::kMinimize, 30, &y).ok());
    EXPECT_EQ(x, y);
    o.seed = 12;
    auto c = Tpe(o);
    ASSERT_TRUE(c->Suggest(space, ta, Direction::kMinimize, 30, &y).ok());
    EXPECT_NE(x, y);
  }
}

TEST(TpeSamplerTest, StartupIsRandomUntilEnoughFinishedTrials) {
  SearchSpace space{{Float("x", 0, 1)}};
  TpeOptions o;
  o.n_startup_trials = 3;
  auto sampler = Tpe(o);
  // Failed and running trials do not count towards startup.
  std::vector<Trial> h;
  for (int i = 0; i < 5; ++i) h.push_back(Trial{i, TrialState::kFailed, {{"x", 0.5}}, std::nullopt, {}});
  ParamValues with_failed, without;
  ASSERT_TRUE(sampler->Suggest(space, h, Direction::kMinimize, 9, &with_failed).ok());
  ASSERT_TRUE(sampler->Suggest(space, {}, Direction::kMinimize, 9, &without).ok());
  EXPECT_EQ(with_failed, without);
}

TEST(TpeSamplerTest, FailedTrialsAreIgnored) {
  SearchSpace space = MixedSpace();
  auto sampler = Tpe();
  std::vector<Trial> h = RunStudy(sampler.get(), space, 20);
  std::vector<Trial> with_failed = h;
  for (int i = 0; i < 5; ++i) {
    Trial f = h[i];
    f.number = 100 + i;
    f.state = TrialState::kFailed;
    f.value = -1e9;  // would be the best if it were used
    with_failed.push_back(f);
  }
  ParamValues a, b;
  ASSERT_TRUE(sampler->Suggest(space, h, Direction::kMinimize, 200, &a).ok());
  ASSERT_TRUE(sampler->Suggest(space, with_failed, Direction::kMinimize, 200, &b).ok());
  EXPECT_EQ(a, b);
}

TEST(TpeSamplerTest, ConcentratesNearGoodRegionAndHonoursDirection) {
  SearchSpace space{{Float("x", 0, 10)}};
  for (Direction dir : {Direction::kMinimize, Direction::kMaximize}) {
    auto sampler = Tpe();
    std::vector<Trial> trials;
    for (int t = 0; t < 60; ++t) {
      ParamValues v;
      ASSERT_TRUE(sampler->Suggest(space, trials, dir, t, &v).ok());
      double f = (v["x"] - 7) * (v["x"] - 7);
      trials.push_back(Trial{t, TrialState::kComplete, v, dir == Direction::kMinimize ? f : -f, {}});
    }
    int near = 0;
    for (int t = 40; t < 60; ++t) near += std::fabs(trials[t].params["x"] - 7) < 1.5;
    EXPECT_GE(near, 12);
  }
}

TEST(TpeSamplerTest, PrunedTrialsCountWithTheirLastIntermediateValue) {
  // Only pruned trials: those that got furthest with good values form l(x).
  SearchSpace space{{Float("x", 0, 10)}};
  std::vector<Trial> h;
  for (int i = 0; i < 40; ++i) {
    double x = i / 4.0;
    h.push_back(Trial{i, TrialState::kPruned, {{"x", x}}, std::nullopt, {{1, std::fabs(x - 2)}, {2, std::fabs(x - 2)}}});
  }
  auto sampler = Tpe();
  int near = 0;
  for (int t = 0; t < 20; ++t) {
    ParamValues v;
    ASSERT_TRUE(sampler->Suggest(space, h, Direction::kMinimize, 100 + t, &v).ok());
    near += std::fabs(v["x"] - 2) < 1.5;
  }
  EXPECT_GE(near, 14);
}

TEST(TpeSamplerTest, ConstantLiarChangesTheNextSuggestionWhileTrialsRun) {
  SearchSpace space{{Float("x", 0, 10), Float("y", 0, 10)}};
  for (bool mv : {false, true}) {
    TpeOptions o;
    o.multivariate = mv;
    o.constant_liar = true;
    auto liar = Tpe(o);
    o.constant_liar = false;
    auto plain = Tpe(o);
    std::vector<Trial> h = RunStudy(plain.get(), {{Float("x", 0, 10), Float("y", 0, 10)}}, 0);
    for (int i = 0; i < 30; ++i) {
      double x = (i * 37 % 100) / 10.0, y = (i * 61 % 100) / 10.0;
      h.push_back(Trial{i, TrialState::kComplete, {{"x", x}, {"y", y}}, (x - 3) * (x - 3) + (y - 3) * (y - 3), {}});
    }
    ParamValues a, b, c;
    ASSERT_TRUE(liar->Suggest(space, h, Direction::kMinimize, 40, &a).ok());
    ASSERT_TRUE(plain->Suggest(space, h, Direction::kMinimize, 40, &b).ok());
    EXPECT_EQ(a, b);  // nothing running: the liar is inert
    // Running trials sit at the current suggestion: the liar must move away.
    for (int r = 0; r < 3; ++r) h.push_back(Trial{31 + r, TrialState::kRunning, a, std::nullopt, {}});
    ASSERT_TRUE(liar->Suggest(space, h, Direction::kMinimize, 40, &c).ok());
    ASSERT_TRUE(plain->Suggest(space, h, Direction::kMinimize, 40, &b).ok());
    EXPECT_EQ(a, b);  // without the liar running trials are invisible
    EXPECT_NE(a, c);
  }
}

TEST(TpeSamplerTest, ConditionalChildrenModelledOnlyWhereActive) {
  // momentum matters only under opt=0 and is best at 0.9; opt=0 is best.
  SearchSpace space{{Cat("opt", 2), When(Float("momentum", 0, 1), "opt", {0}),
                     When(Float("beta", 0, 1), "opt", {1})}};
  for (int mode = 0; mode < 3; ++mode) {
    TpeOptions o;
    o.multivariate = mode >= 1;
    o.group = mode == 2;
    auto sampler = Tpe(o);
    std::vector<Trial> trials;
    for (int t = 0; t < 60; ++t) {
      ParamValues v;
      ASSERT_TRUE(sampler->Suggest(space, trials, Direction::kMinimize, t, &v).ok());
      ExpectLegal(space, v);
      double f = v["opt"] == 0 ? std::fabs(v["momentum"] - 0.9) : 0.5 + v["beta"];
      trials.push_back(Trial{t, TrialState::kComplete, v, f, {}});
    }
    int good = 0;
    for (int t = 40; t < 60; ++t) {
      good += trials[t].params["opt"] == 0 && std::fabs(trials[t].params["momentum"] - 0.9) < 0.2;
    }
    EXPECT_GE(good, 10) << "mode " << mode;
  }
}

TEST(TpeSamplerTest, DiscreteAndLogIntValuesStayOnTheGrid) {
  SearchSpace space{{Int("units", 8, 1024, true), Int("odd", 0, 10, false, 3),
                     Float("d", 0.1, 0.55, false, 0.15)}};
  auto sampler = Tpe();
  std::vector<Trial> trials;
  std::set<double> odd_values;
  for (int t = 0; t < 60; ++t) {
    ParamValues v;
    ASSERT_TRUE(sampler->Suggest(space, trials, Direction::kMinimize, t, &v).ok());
    ExpectLegal(space, v);
    odd_values.insert(v["odd"]);
    double f = std::fabs(std::log2(v["units"]) - 5) + v["odd"] + v["d"];
    trials.push_back(Trial{t, TrialState::kComplete, v, f, {}});
  }
  for (double x : odd_values) EXPECT_TRUE(x == 0 || x == 3 || x == 6 || x == 9) << x;
}

TEST(TpeSamplerTest, ConcurrentSuggestionsEqualSequentialOnes) {
  // One sampler serves concurrent calls (sampler.h); the density code keeps
  // per-thread scratch buffers, so threads must neither share them nor see
  // each other's leftovers. 300 trials reach the windowed and the
  // multivariate paths; the TSan build checks for races.
  const SearchSpace space = MixedSpace();
  for (bool multivariate : {false, true}) {
    TpeOptions o;
    o.multivariate = multivariate;
    o.seed = 3;
    auto sampler = Tpe(o);
    std::vector<Trial> history = RunStudy(sampler.get(), space, 300);
    std::vector<ParamValues> want(8);
    for (int i = 0; i < 8; ++i) {
      ASSERT_TRUE(sampler->Suggest(space, history, Direction::kMinimize, 300 + i, &want[i]).ok());
    }
    std::vector<std::vector<ParamValues>> got(4, std::vector<ParamValues>(8));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int rep = 0; rep < 3; ++rep) {
          for (int i = 0; i < 8; ++i) {
            const int j = (i + t) % 8;  // threads work on different trials at once
            sampler->Suggest(space, history, Direction::kMinimize, 300 + j, &got[t][j]);
          }
        }
      });
    }
    for (std::thread& th : threads) th.join();
    for (int t = 0; t < 4; ++t) {
      for (int i = 0; i < 8; ++i) EXPECT_EQ(got[t][i], want[i]) << "thread " << t << " trial " << i;
    }
  }
}

TEST(TpeSamplerTest, CustomGammaAndWeightsAreUsed) {
  SearchSpace space{{Float("x", 0, 10)}};
  TpeOptions o;
  int gamma_calls = 0;
  o.gamma = [&gamma_calls](int n) { ++gamma_calls; return n / 2; };
  o.weights = [](int n) { return std::vector<double>(n, 2.0); };
  auto sampler = Tpe(o);
  RunStudy(sampler.get(), {{Float("x", -5, 5), Float("lr", 1e-5, 1, true), Int("n", 1, 10),
                       Int("units", 8, 1024, true), Cat("opt", 3),
                       When(Float("momentum", 0, 0.99), "opt", {0})}},
      15);
  EXPECT_EQ(gamma_calls, 5);
  o.weights = [](int n) { return std::vector<double>(n + 1, 1.0); };
  auto bad = Tpe(o);
  std::vector<Trial> h;
  for (int i = 0; i < 10; ++i) h.push_back(Trial{i, TrialState::kComplete, {{"x", i * 1.0}}, double(i), {}});
  ParamValues v;
  EXPECT_EQ(bad->Suggest(space, h, Direction::kMinimize, 10, &v).code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace tpe
}  // namespace peftsearch
