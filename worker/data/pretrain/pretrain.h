// Pre-trains a small Vision Mamba from scratch on one NOAH-layout task (by
// default mini-VTAB's shapes_kind, disjoint from the five evaluation tasks)
// and saves it as safetensors with official key names. This is the offline
// demo's stand-in for a downloaded Vim checkpoint (DESIGN.md, Data).
//
// Thread safety: Pretrain() uses the global LibTorch thread pool and RNG;
// run one at a time per process.
#ifndef PEFTSEARCH_WORKER_DATA_PRETRAIN_PRETRAIN_H_
#define PEFTSEARCH_WORKER_DATA_PRETRAIN_PRETRAIN_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "worker/model/vim_config.h"

namespace peftsearch::data {

struct PretrainOptions {
  std::string data_root;              // REQUIRED: holds <task>/{train800,val200}.txt
  std::string task = "shapes_kind";
  std::string output;                 // REQUIRED: .safetensors path

  // The backbone. img_size is also the size images are loaded at.
  // num_classes is overwritten by the task's class count.
  model::VimConfig vim = SmallVim();

  int epochs = 6;
  double max_seconds = 0;     // > 0: stop after the batch that crosses it
  int64_t batch_size = 64;
  double lr = 2e-3;           // AdamW peak, after a linear warm-up
  double weight_decay = 0.05;
  int warmup_epochs = 1;      // then cosine to lr * 0.01 at the last epoch
  double grad_clip = 1.0;     // global L2; 0 = off
  uint64_t seed = 0;
  // LibTorch intra-op threads. 1 by default: on the shared 2-core box, 2
  // OpenMP threads spun so much under load that an epoch cost 4x the CPU
  // time of 1 thread (measured 2026-11-24); raise it on an idle machine.
  int num_threads = 1;
  std::string cache_dir;      // decoded-split cache (vtab_task.h); empty = none

  // 32 px images, patch 8 (4x4 tokens + CLS), D 96, 4 layers, no drop path;
  // the rest are Vim's defaults (346K parameters). About 0.5 CPU-s per batch
  // of 64: the defaults (6 epochs of mini-VTAB's 5000 shapes_kind images)
  // took 236 CPU-s and reached 0.482 val accuracy on 10 classes (chance 0.1).
  // Patch 4 would be 4x slower, here and in every PEFT trial of the demo.
  static model::VimConfig SmallVim();
};

struct EpochReport {
  int epoch = 0;              // 1-based
  double train_loss = 0;      // mean over the epoch's batches
  double val_accuracy = 0;    // top-1 on val200, in [0, 1]
  double seconds = 0;         // since the start of training
  int64_t steps = 0;          // optimiser steps so far
};

struct PretrainResult {
  EpochReport last;
  int64_t num_parameters = 0;
  std::string output;
};

// Trains and writes options.output (+ metadata, below). Calls `on_epoch`
// after each epoch. INVALID_ARGUMENT naming the bad option; the data
// loader's and the writer's errors otherwise (they name the path).
//
// Metadata ("__metadata__", all strings): "format" = "peftsearch-vim-v1",
// "vim_config" = JSON of the VimConfig (vim_config_json.h), "task",
// "num_classes", "val_accuracy", "epochs", "seed". The file includes the
// task's "head.*"; load it into another head with LoadOptions.ignore_keys.
absl::StatusOr<PretrainResult> Pretrain(
    const PretrainOptions& options,
    const std::function<void(const EpochReport&)>& on_epoch = nullptr);

}  // namespace peftsearch::data

#endif  // PEFTSEARCH_WORKER_DATA_PRETRAIN_PRETRAIN_H_
