#include "worker/train/train_cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "worker/train/test_util.h"

namespace peftsearch::train {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

struct Outcome {
  int code;
  json last;  // the last stdout line
  std::string err;
};

Outcome RunWith(const json& trial, const std::string& name, const std::string& device = "",
                const std::string& amp = "") {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  const std::string path = dir + ".json";
  std::ofstream(path) << trial.dump();
  CliOptions options;
  options.trial_path = path;
  options.output_dir = dir;
  options.device = device;
  options.amp = amp;
  std::unique_ptr<PeftProvider> peft = NewLinearProbeProvider();
  std::ostringstream out, err;
  Outcome o;
  o.code = RunTrainCli(options, *peft, out, err);
  std::string line, last;
  std::istringstream lines(out.str());
  while (std::getline(lines, line)) last = line;
  o.last = json::parse(last);
  o.err = err.str();
  return o;
}

void ExpectBadTrial(const Outcome& o, const std::string& named) {
  EXPECT_EQ(o.code, kExitBadTrial);
  ASSERT_TRUE(o.last.contains("error")) << o.last.dump();
  EXPECT_THAT(o.last["error"].get<std::string>(), HasSubstr(named));
  EXPECT_THAT(o.err, HasSubstr(named));
}

TEST(TrainCliTest, SuccessEndsWithTheResultLine) {
  Outcome o = RunWith(TinyTrial({"shapes_ori"}), "ok");
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_TRUE(o.last["value"].is_number());
  EXPECT_TRUE(o.last["tasks"].contains("shapes_ori"));
  EXPECT_EQ(o.last["split"], "val200");
  for (const char* key : {"trainable_params", "wall_seconds", "peak_rss_mb"}) {
    EXPECT_TRUE(o.last[key].is_number()) << key;
  }
  std::ifstream saved(std::string(std::getenv("TEST_TMPDIR")) + "/ok/shapes_ori.safetensors");
  EXPECT_TRUE(saved.good());
}

TEST(TrainCliTest, BadFieldMissingDataAndUnknownMethodFailClearly) {
  json bad = TinyTrial({"digits"});
  bad["recipe"]["batch_size"] = -4;
  ExpectBadTrial(RunWith(bad, "bad_field"), "recipe.batch_size");

  json no_data = TinyTrial({"digits"});
  no_data["data_root"] = "/nonexistent/mini_vtab";
  ExpectBadTrial(RunWith(no_data, "no_data"), "/nonexistent/mini_vtab");

  json no_task = TinyTrial({"digits", "svhn"});
  ExpectBadTrial(RunWith(no_task, "no_task"), "svhn");

  json cuda = TinyTrial({"digits"});  // this build has no CUDA (or no GPU is visible)
  cuda["device"] = "cuda";
  ExpectBadTrial(RunWith(cuda, "cuda"), "device");

  json method = TinyTrial({"digits"});
  method["peft"] = {{"lora_everything", json::object()}};
  ExpectBadTrial(RunWith(method, "method"), "lora_everything");
}

// --device / --amp override the trial; on this CPU build `--device cuda`
// fails before any data is read, naming the flag.
TEST(TrainCliTest, DeviceAndAmpFlagsAreCheckedAndNamed) {
#ifndef PEFTSEARCH_WITH_CUDA
  ExpectBadTrial(RunWith(TinyTrial({"digits"}), "flag_cuda", "cuda"), "--device cuda");
#endif
  ExpectBadTrial(RunWith(TinyTrial({"digits"}), "flag_tpu", "tpu"), "--device");
  ExpectBadTrial(RunWith(TinyTrial({"digits"}), "flag_amp", "", "fp16"), "--amp");
  ExpectBadTrial(RunWith(TinyTrial({"digits"}), "flag_bf16_cpu", "cpu", "bf16"), "--amp bf16");
}

TEST(TrainCliTest, MissingOrMalformedTrialFile) {
  CliOptions options;
  options.trial_path = "/nonexistent/trial.json";
  std::unique_ptr<PeftProvider> peft = NewLinearProbeProvider();
  std::ostringstream out, err;
  EXPECT_EQ(RunTrainCli(options, *peft, out, err), kExitBadTrial);
  EXPECT_THAT(out.str(), HasSubstr("/nonexistent/trial.json"));
}

TEST(TrainCliTest, TrainingFailureExitsOne) {
  json nan = TinyTrial({"digits"});
  nan["recipe"]["lr"] = 1e30;
  nan["recipe"]["grad_clip"] = 0.0;
  Outcome o = RunWith(nan, "nan");
  EXPECT_EQ(o.code, kExitFailed);
  EXPECT_THAT(o.last["error"].get<std::string>(), HasSubstr("non-finite training loss"));
}

}  // namespace
}  // namespace peftsearch::train
