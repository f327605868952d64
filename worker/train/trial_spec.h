// The trial spec that `peftsearch-train --trial TRIAL.json` runs: backbone and
// weights, the PEFT combination, the training recipe, the tasks and the data,
// the evaluation mode and the device. Every field has a documented default
// except data_root; every error names the field ("recipe.lr: ...").
//
// Schema (JSON object; unknown keys are errors, so a typo never runs silently):
//   backbone     "vim_small" (a preset of worker/model/vim_config.h), or an
//                object of VimConfig fields ({"img_size": 32, "patch_size": 4,
//                ...}), or absent: the "vim_config" metadata of `weights`
//                (files written by tools/pretrain_backbone carry it).
//   weights      "path.safetensors" (official key names; "head.*" ignored), or
//                {"random_init": SEED} (InitVim; tests and benchmarks only).
//   peft         {method: {hyperparameters}}; {} (default) = linear probing.
//   recipe       {lr 1e-3, weight_decay 1e-4, batch_size 32, epochs 100,
//                 warmup_epochs 10, warmup_start_factor 1e-3, min_lr 1e-5,
//                 grad_clip 5.0 (0 = off), drop_path 0.1, seed 0,
//                 precision "fp32"|"bf16", eval_batch_size 128}
//                (MambaPEFT VTAB recipe, research/vim_mambapeft.md §6.2).
//   tasks        task folder names; default the five mini-VTAB tasks.
//   data_root    REQUIRED: folder holding <task>/{train800,...}.txt.
//   image_size   default: the backbone's img_size; must equal it (no
//                pos_embed interpolation).
//   cache_dir    decoded-split cache (worker/data/split_cache.h); "" = none.
//   mode         "search" (train800 -> val200, default) | "final"
//                (train800val200 -> test).
//   device       "cpu" (default) | "cuda".
//   threads      intra-op threads in all; 0 (default) = hardware threads.
//   parallel_tasks  tasks trained at once; 0 (default) = min(tasks, threads),
//                1 = one after another (each with all threads).
//
// The daemon's trial.json envelope {"objective": {"trial": {...}}, "params":
// {...}} (worker/daemon/trial_runner.cc) is accepted too: the trial is
// objective.trial; params.peft replaces peft, params.eval sets mode, params
// named like recipe fields override them, other params (the hybrid
// strategy's method booleans, "<method>.<hp>", "remove") are ignored because
// params.peft already holds the combination they make.
//
// Thread safety: value types and pure functions.
#ifndef PEFTSEARCH_WORKER_TRAIN_TRIAL_SPEC_H_
#define PEFTSEARCH_WORKER_TRAIN_TRIAL_SPEC_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/model/vim_config.h"

namespace peftsearch::train {

// tools/make_mini_vtab FIVE_TASKS.
const std::vector<std::string>& MiniVtabTasks();

struct Recipe {
  double lr = 1e-3;
  double weight_decay = 1e-4;
  int64_t batch_size = 32;
  int epochs = 100;
  int warmup_epochs = 10;
  double warmup_start_factor = 1e-3;  // mmengine LinearLR start_factor
  double min_lr = 1e-5;               // CosineAnnealingLR eta_min
  double grad_clip = 5.0;             // global L2 max norm per task; 0 = off
  double drop_path = 0.1;
  uint64_t seed = 0;
  std::string precision = "fp32";  // "fp32" | "bf16"
  int64_t eval_batch_size = 128;
};

struct TrialSpec {
  // Where the backbone architecture came from: "preset:<name>", "custom",
  // or "weights" (safetensors metadata).
  std::string backbone_source;
  model::VimConfig backbone;  // num_classes = 0, drop_path_rate = recipe.drop_path
  std::string weights_path;   // empty: random init
  uint64_t random_init_seed = 0;

  nlohmann::json peft = nlohmann::json::object();
  Recipe recipe;
  std::vector<std::string> tasks;
  std::string data_root;
  int image_size = 0;
  std::string cache_dir;
  std::string mode = "search";  // "search" | "final"
  std::string device = "cpu";   // "cpu" | "cuda"
  int threads = 0;              // resolved: >= 1
  int parallel_tasks = 0;       // resolved: 1..tasks.size()

  // The split trained on and the split scored, by mode.
  std::string train_split() const { return mode == "final" ? "train800val200" : "train800"; }
  std::string eval_split() const { return mode == "final" ? "test" : "val200"; }
};

// Parses and validates a trial document. Reads the weights' safetensors
// header only when the backbone must come from its metadata. Resolves
// threads and parallel_tasks. INVALID_ARGUMENT names the first bad field
// (e.g. "recipe.batch_size: must be > 0, got 0"); NOT_FOUND names a missing
// data_root or weights file.
absl::StatusOr<TrialSpec> ParseTrialSpec(const nlohmann::json& doc);

// Reads the file and calls ParseTrialSpec. NOT_FOUND / INVALID_ARGUMENT name
// the path for an unreadable file or malformed JSON.
absl::StatusOr<TrialSpec> LoadTrialSpec(const std::string& path);

}  // namespace peftsearch::train

#endif  // PEFTSEARCH_WORKER_TRAIN_TRIAL_SPEC_H_
