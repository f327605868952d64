#include "controller/hybrid/hybrid_strategy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>

namespace peftsearch::controller {
namespace {

StudySpec MakeSpec(const std::string& strategy_json, const std::string& sampler = "tpe",
                   uint64_t seed = 1, const std::string& sampler_extra = "") {
  auto spec = ParseStudySpec(R"({"name": "h", "direction": "maximize",
      "objective": {"type": "external", "recipe": {"lr": 0.001, "weight_decay": 0.0001}},
      "sampler": {"type": ")" + sampler + R"(", "seed": )" + std::to_string(seed) + sampler_extra + R"(},
      "strategy": )" + strategy_json + "}");
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

std::unique_ptr<HybridPeftStrategy> Make(const StudySpec& spec) {
  auto s = HybridPeftStrategy::Create(spec);
  EXPECT_TRUE(s.ok()) << s.status();
  return std::move(*s);
}

// A synthetic "mean VTAB accuracy" over the 20 methods: main effects, a few
// pairwise interactions (redundant LoRAs hurt together; A and CLS help
// together) and noise. Its best combination is found by enumeration.
class Surrogate {
 public:
  // Random main effects N(0, 1) and five random interactions N(0, 1).
  Surrogate(const std::vector<std::string>& methods, uint64_t seed) : methods_(methods) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> effect(0, 1);
    for (size_t i = 0; i < methods_.size(); ++i) beta_.push_back(effect(rng));
    std::uniform_int_distribution<size_t> pick(0, methods_.size() - 1);
    for (int k = 0; k < 5; ++k) Interact(methods_[pick(rng)], methods_[pick(rng)], effect(rng));
  }
  explicit Surrogate(const std::vector<std::string>& methods) : methods_(methods) {
    const std::map<std::string, double> main = {
        {"lora_p_x", 3.0},  {"lora_in_proj", 2.0}, {"lora_out_proj", 1.5}, {"a", 1.2},
        {"cls_token", 0.6}, {"affix", 1.0},        {"lora_dt_proj", 0.8},  {"lora_p_b", 0.5},
        {"prompt", -1.0},   {"pos_embed", -0.6},   {"additional_scan", -0.4},
        {"parallel_adapter", 0.4}, {"lora_p_z", 0.9}, {"bias", -0.2}, {"d", -0.3},
        {"conv1d", 0.2},   {"lora_embed", -0.8},   {"lora_x_proj", -0.5}, {"lora_p_d", -0.7},
        {"lora_p_c", -0.9}};
    for (size_t i = 0; i < methods_.size(); ++i) beta_.push_back(main.at(methods_[i]));
    Interact("lora_p_x", "lora_p_z", -1.5);
    Interact("lora_in_proj", "lora_p_z", -1.2);
    Interact("parallel_adapter", "lora_out_proj", -0.8);
    Interact("a", "cls_token", 0.7);
    Interact("lora_dt_proj", "lora_p_b", 0.3);
  }
  double Mean(const std::set<std::string>& on) const {
    double v = 60;
    for (size_t i = 0; i < methods_.size(); ++i) v += on.count(methods_[i]) ? beta_[i] : 0;
    for (const auto& [pair, g] : gamma_) {
      if (on.count(pair.first) && on.count(pair.second)) v += g;
    }
    return v;
  }
  double Optimum() const {
    double best = -1e9;
    const int n = static_cast<int>(methods_.size());
    for (uint32_t mask = 0; mask < (1u << n); ++mask) {
      std::set<std::string> on;
      for (int i = 0; i < n; ++i) {
        if (mask & (1u << i)) on.insert(methods_[i]);
      }
      best = std::max(best, Mean(on));
    }
    return best;
  }

 private:
  void Interact(const std::string& a, const std::string& b, double g) { gamma_[{a, b}] = g; }
  std::vector<std::string> methods_;
  std::vector<double> beta_;
  std::map<std::pair<std::string, std::string>, double> gamma_;
};

std::set<std::string> MethodsOf(const Json& params) {
  std::set<std::string> on;
  for (auto it = params["peft"].begin(); it != params["peft"].end(); ++it) on.insert(it.key());
  return on;
}

TrialView Finished(int64_t number, const StrategyDecision& d, double value) {
  TrialView t;
  t.number = number;
  t.phase = d.phase;
  t.params = d.params;
  t.state = storage::TrialState::kComplete;
  t.value = value;
  return t;
}

// Runs step 1 only (N1 trials) and returns the noise-free value of the
// combination the strategy would carry into step 2.
double RunStep1(const std::string& sampler, uint64_t seed, const Surrogate& f, int n1,
                const std::string& sampler_extra = "") {
  auto strategy = Make(MakeSpec(R"({"type": "hybrid_peft", "n1": )" + std::to_string(n1) +
                                    R"(, "n2": 0, "final": false})",
                                sampler, seed, sampler_extra));
  std::mt19937_64 noise_rng(seed);
  std::normal_distribution<double> noise(0, 0.2);
  std::vector<TrialView> history;
  for (int i = 0; i < n1; ++i) {
    auto d = strategy->Next(history);
    EXPECT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->kind, StrategyDecision::Kind::kTrial);
    EXPECT_EQ(d->phase, 1);
    history.push_back(Finished(i, *d, f.Mean(MethodsOf(d->params)) + noise(noise_rng)));
  }
  auto best = strategy->BestCombination(history);
  EXPECT_TRUE(best.has_value());
  return f.Mean(std::set<std::string>(best->begin(), best->end()));
}

TEST(HybridStrategyTest, Step1FindsTheBestCombinationMoreOftenThanRandom) {
  const auto& table = Table9();
  std::vector<std::string> methods;
  for (const Json& m : table["methods"]) methods.push_back(m.get<std::string>());
  Surrogate f(methods);
  const double optimum = f.Optimum();
  int tpe_hits = 0, random_hits = 0;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    tpe_hits += RunStep1("tpe", seed, f, 100) >= 0.99 * optimum;
    random_hits += RunStep1("random", seed, f, 100) >= 0.99 * optimum;
  }
  std::printf("optimum %.3f: TPE within 1%% in %d/30 seeds, random search in %d/30\n", optimum,
              tpe_hits, random_hits);
  EXPECT_GE(tpe_hits, 25);
  EXPECT_GE(tpe_hits, random_hits + 10);
}

// The same on problems whose effects were not chosen by hand: each seed draws
// its own surrogate, so the step-1 settings are not tuned to one landscape.
TEST(HybridStrategyTest, Step1OnRandomSurrogates) {
  std::vector<std::string> methods;
  for (const Json& m : Table9()["methods"]) methods.push_back(m.get<std::string>());
  int tpe_hits = 0, random_hits = 0;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    Surrogate f(methods, 1000 + seed);
    const double optimum = f.Optimum();
    tpe_hits += RunStep1("tpe", seed, f, 100) >= 0.99 * optimum;
    random_hits += RunStep1("random", seed, f, 100) >= 0.99 * optimum;
  }
  std::printf("random surrogates: TPE within 1%% in %d/30, random search in %d/30\n", tpe_hits,
              random_hits);
  EXPECT_GE(tpe_hits, 25);
  EXPECT_GE(tpe_hits, random_hits + 10);
}

TEST(HybridStrategyTest, PhasesFollowAlgorithmOne) {
  auto strategy = Make(MakeSpec(R"({"type": "hybrid_peft", "n1": 4, "n2": 3})"));
  EXPECT_EQ(strategy->TotalTrials(), 8);
  std::vector<TrialView> history;
  // Step 1.
  for (int i = 0; i < 4; ++i) {
    auto d = strategy->Next(history);
    ASSERT_TRUE(d.ok());
    ASSERT_EQ(d->kind, StrategyDecision::Kind::kTrial);
    EXPECT_EQ(d->phase, 1);
    EXPECT_EQ(d->params["eval"], "search");
    EXPECT_EQ(d->params.size(), 20u + 2u);  // 20 booleans + peft + eval
    for (auto it = d->params["peft"].begin(); it != d->params["peft"].end(); ++it) {
      EXPECT_TRUE(d->params[it.key()].get<bool>());
    }
    TrialView t;
    t.number = i;
    t.phase = 1;
    t.params = d->params;
    t.state = storage::TrialState::kRunning;
    history.push_back(t);
  }
  // A running step-1 trial holds step 2 back.
  auto wait = strategy->Next(history);
  ASSERT_TRUE(wait.ok());
  EXPECT_EQ(wait->kind, StrategyDecision::Kind::kWait);
  // Plant a clear winner: trial 2 is {lora_p_x, a} at Table 9's step-1 values.
  for (int i = 0; i < 4; ++i) {
    history[i].state = storage::TrialState::kComplete;
    history[i].value = 50 + i;
  }
  history[2].params["peft"] = {{"lora_p_x", {{"r", 8}, {"s", 0.1}}}, {"a", {{"wd", 1e-3}}}};
  history[2].value = 99;
  auto d = strategy->Next(history);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->kind, StrategyDecision::Kind::kTrial);
  EXPECT_EQ(d->phase, 2);
  // The first step-2 trial is the defaults with nothing removed.
  EXPECT_EQ(d->params["remove"], "none");
  EXPECT_EQ(d->params["lora_p_x.r"], 8);
  EXPECT_DOUBLE_EQ(d->params["lora_p_x.s"].get<double>(), 0.1);
  EXPECT_DOUBLE_EQ(d->params["a.wd"].get<double>(), 1e-3);
  EXPECT_DOUBLE_EQ(d->params["lora_p_x.lr"].get<double>(), 1e-3);
  EXPECT_EQ(MethodsOf(d->params), (std::set<std::string>{"a", "lora_p_x"}));
  history.push_back(Finished(4, *d, 90));
  for (int i = 5; i < 7; ++i) {
    auto next = strategy->Next(history);
    ASSERT_TRUE(next.ok());
    EXPECT_EQ(next->phase, 2);
    const std::string removed = next->params["remove"];
    EXPECT_TRUE(removed == "none" || removed == "a" || removed == "lora_p_x") << removed;
    history.push_back(Finished(i, *next, i == 5 ? 95 : 80));
  }
  auto final_trial = strategy->Next(history);
  ASSERT_TRUE(final_trial.ok());
  ASSERT_EQ(final_trial->kind, StrategyDecision::Kind::kTrial);
  EXPECT_EQ(final_trial->phase, 3);
  EXPECT_EQ(final_trial->params["eval"], "final");
  EXPECT_EQ(final_trial->params["source_trial"], 5);
  EXPECT_EQ(final_trial->params["peft"], history[5].params["peft"]);
  history.push_back(Finished(7, *final_trial, 93));
  auto done = strategy->Next(history);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->kind, StrategyDecision::Kind::kDone);
  Json summary = strategy->Summary(history);
  EXPECT_EQ(summary["phase"], 3);
  EXPECT_EQ(summary["step1"]["best_trial"], 2);
  EXPECT_EQ(summary["step2"]["best_trial"], 5);
  EXPECT_EQ(summary["final"]["test_value"], 93);
}

TEST(HybridStrategyTest, TiesGoToFewerTrainableParameters) {
  auto strategy =
      Make(MakeSpec(R"({"type": "hybrid_peft", "n1": 2, "n2": 1, "tie_tolerance": 0.1})"));
  std::vector<TrialView> history(2);
  for (int i = 0; i < 2; ++i) {
    history[i].number = i;
    history[i].phase = 1;
    history[i].state = storage::TrialState::kComplete;
  }
  history[0].params = {{"peft", {{"lora_in_proj", Json::object()}, {"a", Json::object()}}}};
  history[0].value = 70.05;
  history[0].result = {{"trainable_params", 200000}};
  history[1].params = {{"peft", {{"a", Json::object()}}}};
  history[1].value = 70.0;
  history[1].result = {{"trainable_params", 20000}};
  auto best = strategy->BestCombination(history);
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(*best, std::vector<std::string>{"a"});
}

// Step 2 with a planted harmful method in C: removing it is worth +2.
TEST(HybridStrategyTest, Step2RemovesAPlantedHarmfulMethod) {
  int removed_count = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    auto strategy = Make(MakeSpec(R"({"type": "hybrid_peft", "n1": 1, "n2": 30, "final": false})",
                                  "tpe", seed));
    TrialView step1;
    step1.number = 0;
    step1.phase = 1;
    step1.state = storage::TrialState::kComplete;
    step1.value = 70;
    step1.params = {{"peft",
                     {{"lora_p_x", Json::object()}, {"a", Json::object()},
                      {"cls_token", Json::object()}, {"prompt", Json::object()},
                      {"lora_in_proj", Json::object()}}}};
    std::vector<TrialView> history = {step1};
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> noise(0, 0.1);
    for (int i = 1; i <= 30; ++i) {
      auto d = strategy->Next(history);
      ASSERT_TRUE(d.ok());
      ASSERT_EQ(d->phase, 2);
      auto on = MethodsOf(d->params);
      double v = 70 + (on.count("prompt") ? -2.0 : 0.0) - 0.5 * (on.size() < 4 ? 1 : 0);
      // Mild hyperparameter effect: LoRA_p(X) likes a larger scale.
      if (d->params.contains("lora_p_x.s")) v += 0.3 * std::log10(d->params["lora_p_x.s"].get<double>());
      history.push_back(Finished(i, *d, v + noise(rng)));
    }
    const TrialView* best = nullptr;
    for (const TrialView& t : history) {
      if (t.phase == 2 && (best == nullptr || *t.value > *best->value)) best = &t;
    }
    removed_count += best->params["remove"] == "prompt";
  }
  EXPECT_GE(removed_count, 8) << "the best step-2 trial removed the planted method in "
                              << removed_count << " of 10 seeds";
}

TEST(HybridStrategyTest, SameHistorySameDecision) {
  auto a = Make(MakeSpec(R"({"type": "hybrid_peft", "n1": 20, "n2": 5})", "tpe", 3));
  auto b = Make(MakeSpec(R"({"type": "hybrid_peft", "n1": 20, "n2": 5})", "tpe", 3));
  std::vector<TrialView> history;
  for (int i = 0; i < 15; ++i) {
    auto da = a->Next(history);
    auto db = b->Next(history);
    ASSERT_TRUE(da.ok() && db.ok());
    EXPECT_EQ(da->params, db->params);
    history.push_back(Finished(i, *da, 60 + (i % 7)));
  }
}

TEST(HybridStrategyTest, BadConfigNamesTheField) {
  struct Case {
    std::string strategy, expected;
  };
  const std::vector<Case> cases = {
      {R"({"type": "hybrid_peft", "n1": -1})", "strategy.n1: must be an integer in [0, 100000]"},
      {R"({"type": "hybrid_peft", "methods": ["lora_p_q"]})",
       R"(strategy.methods[0]: unknown PEFT method "lora_p_q")"},
      {R"({"type": "hybrid_peft", "methods": ["a", "a"]})", R"(strategy.methods[1]: duplicate method "a")"},
      {R"({"type": "hybrid_peft", "step2": {"lora_p_x": {"r": {"type": "int", "low": 8, "high": 4}}}})",
       "strategy.step2.lora_p_x.r.low: must be <= high"},
      {R"({"type": "hybrid_peft", "step1": {"lora_q": {}}})", "strategy.step1.lora_q: unknown PEFT method"},
      {R"({"type": "hybrid_peft", "N1": 3})", "strategy.N1: unknown field"},
      {R"({"type": "hybrid_peft", "extended_methods": "yes"})",
       "strategy.extended_methods: must be true, false or an array of method names (known: "
       "prodial, sdlora, memba, dora), got \"yes\""},
      {R"({"type": "hybrid_peft", "extended_methods": ["dora", "lora_p_x"]})",
       R"(strategy.extended_methods[1]: unknown extended method "lora_p_x")"},
      {R"({"type": "hybrid_peft", "extended_methods": ["dora", "dora"]})",
       R"(strategy.extended_methods[1]: duplicate method "dora")"},
      {R"({"type": "hybrid_peft", "extended_methods": [3]})",
       "strategy.extended_methods[0]: must be a string"},
  };
  for (const Case& c : cases) {
    auto spec = MakeSpec(c.strategy);
    auto s = HybridPeftStrategy::Create(spec);
    ASSERT_FALSE(s.ok()) << c.strategy;
    EXPECT_NE(std::string(s.status().message()).find(c.expected), std::string::npos)
        << "got: " << s.status().message();
  }
}

// The methods beyond MambaPEFT are off by default (the paper's 20-method
// step 1) and join step 1 with one field; their step-1 values and step-2
// ranges come from table9.json.
TEST(HybridStrategyTest, ExtendedMethodsOffByDefaultOnWithOneField) {
  auto plain = Make(MakeSpec(R"({"type": "hybrid_peft", "n1": 2, "n2": 1})"));
  EXPECT_EQ(plain->Step1Space().size(), 20u);
  auto on = Make(MakeSpec(R"({"type": "hybrid_peft", "n1": 2, "n2": 1, "extended_methods": true})"));
  std::vector<std::string> names;
  for (const ParamDef& p : on->Step1Space()) names.push_back(p.name);
  ASSERT_EQ(names.size(), 24u);
  EXPECT_EQ(std::vector<std::string>(names.end() - 4, names.end()),
            (std::vector<std::string>{"prodial", "sdlora", "memba", "dora"}));
  auto some = Make(MakeSpec(R"({"type": "hybrid_peft", "n1": 2, "n2": 1,
                                "methods": ["a", "lora_p_x"], "extended_methods": ["dora"]})"));
  names.clear();
  for (const ParamDef& p : some->Step1Space()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "lora_p_x", "dora"}));
  auto off = Make(MakeSpec(R"({"type": "hybrid_peft", "extended_methods": false})"));
  EXPECT_EQ(off->Step1Space().size(), 20u);

  // A step-1 trial with dora on carries its Table-9-style fixed values, and
  // step 2 searches its ranges.
  std::vector<TrialView> history;
  bool saw_dora = false;
  for (int i = 0; i < 2; ++i) {
    auto d = some->Next(history);
    ASSERT_TRUE(d.ok());
    if (d->params["dora"].get<bool>()) {
      saw_dora = true;
      EXPECT_EQ(d->params["peft"]["dora"], (Json{{"target", "x"}, {"r", 8}, {"s", 0.1}}));
    }
    TrialView t;
    t.number = i;
    t.phase = 1;
    t.params = d->params;
    t.state = storage::TrialState::kRunning;
    history.push_back(t);
  }
  (void)saw_dora;  // which booleans TPE draws first is the sampler's business
  std::set<std::string> step2;
  for (const ParamDef& p : some->Step2Space({"dora", "sdlora", "prodial", "memba"})) {
    step2.insert(p.name);
  }
  for (const char* hp : {"dora.r", "dora.s", "dora.lr", "dora.wd", "sdlora.channel_fraction",
                         "sdlora.state_fraction", "prodial.r", "prodial.alpha", "memba.tau"}) {
    EXPECT_TRUE(step2.count(hp)) << hp;
  }
}

}  // namespace
}  // namespace peftsearch::controller
