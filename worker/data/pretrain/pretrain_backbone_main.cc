// pretrain_backbone: pre-trains the demo's small Vim on a mini-VTAB source
// task and writes safetensors. Prints one JSON line per epoch and a final
// JSON line with the output path.
//
//   pretrain_backbone --data_root data/mini_vtab --out data/vim_small32.safetensors
//       [--task shapes_kind] [--epochs 6] [--max_seconds 600] [--depth 4] [--embed_dim 96]
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "worker/data/pretrain/pretrain.h"

int main(int argc, char** argv) {
  peftsearch::data::PretrainOptions o;
  CLI::App app{"Pre-train a small Vision Mamba on a NOAH-layout task and save safetensors"};
  app.add_option("--data_root", o.data_root, "root holding the task folder")->required();
  app.add_option("--out", o.output, "output .safetensors path")->required();
  app.add_option("--task", o.task, "source task folder")->capture_default_str();
  app.add_option("--epochs", o.epochs)->capture_default_str();
  app.add_option("--max_seconds", o.max_seconds, "stop after this much training time (0 = no limit)")
      ->capture_default_str();
  app.add_option("--batch_size", o.batch_size)->capture_default_str();
  app.add_option("--lr", o.lr)->capture_default_str();
  app.add_option("--weight_decay", o.weight_decay)->capture_default_str();
  app.add_option("--warmup_epochs", o.warmup_epochs)->capture_default_str();
  app.add_option("--seed", o.seed)->capture_default_str();
  app.add_option("--threads", o.num_threads)->capture_default_str();
  app.add_option("--cache_dir", o.cache_dir, "decoded-split cache directory");
  app.add_option("--img_size", o.vim.img_size)->capture_default_str();
  app.add_option("--patch_size", o.vim.patch_size)->capture_default_str();
  app.add_option("--stride", o.vim.stride)->capture_default_str();
  app.add_option("--embed_dim", o.vim.embed_dim)->capture_default_str();
  app.add_option("--depth", o.vim.depth)->capture_default_str();
  app.add_option("--drop_path_rate", o.vim.drop_path_rate)->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto result = peftsearch::data::Pretrain(o, [](const peftsearch::data::EpochReport& r) {
    nlohmann::ordered_json j = {{"event", "epoch"},        {"epoch", r.epoch},
                                {"train_loss", r.train_loss}, {"val_accuracy", r.val_accuracy},
                                {"seconds", r.seconds},    {"steps", r.steps}};
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
  });
  if (!result.ok()) {
    std::fprintf(stderr, "pretrain_backbone: %s\n", result.status().ToString().c_str());
    return 1;
  }
  nlohmann::ordered_json j = {{"event", "done"},
                              {"output", result->output},
                              {"num_parameters", result->num_parameters},
                              {"epochs", result->last.epoch},
                              {"val_accuracy", result->last.val_accuracy},
                              {"seconds", result->last.seconds}};
  std::printf("%s\n", j.dump().c_str());
  return 0;
}
