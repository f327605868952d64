// vtab_inspect: opens VTAB-1k tasks in the NOAH layout with the same loader
// the trainer uses and prints, per task and split, the count, class count and
// pixel statistics. Exit status 1 with the loader's message on any error.
//
//   vtab_inspect --root DIR [--task NAME]... [--size 224] [--splits all]
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "worker/data/known_tasks.h"
#include "worker/data/vtab_task.h"

int main(int argc, char** argv) {
  using peftsearch::data::Split;
  CLI::App app{"Load VTAB-1k tasks (NOAH layout) and print a summary"};
  std::string root;
  std::vector<std::string> tasks;
  std::vector<std::string> splits = {"train800", "val200", "train800val200", "test"};
  peftsearch::data::VtabTaskOptions options;
  app.add_option("--root", root, "data root holding one folder per task")->required();
  app.add_option("--task", tasks, "task folder name(s)")->required();
  app.add_option("--split", splits, "splits to load");
  app.add_option("--size", options.image_size, "image side after resize");
  app.add_option("--threads", options.num_threads, "decode threads per split");
  app.add_option("--cache_dir", options.cache_dir, "decoded-split cache directory");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(1);

  for (const std::string& name : tasks) {
    auto task = peftsearch::data::VtabTask::Open(root, name, options);
    if (!task.ok()) {
      std::fprintf(stderr, "vtab_inspect: %s\n", task.status().ToString().c_str());
      return 1;
    }
    for (const std::string& split_name : splits) {
      auto split = peftsearch::data::SplitFromName(split_name);
      if (!split) {
        std::fprintf(stderr, "vtab_inspect: unknown split \"%s\"\n", split_name.c_str());
        return 1;
      }
      const auto start = std::chrono::steady_clock::now();
      auto data = (*task)->Load(*split);
      if (!data.ok()) {
        std::fprintf(stderr, "vtab_inspect: %s\n", data.status().ToString().c_str());
        return 1;
      }
      const double secs = std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - start).count();
      const int64_t distinct = std::get<0>(torch::_unique(data->labels)).size(0);
      std::printf(
          "task=%s split=%s n=%lld classes=%d (%s) labels_seen=%lld shape=[%lld,3,%lld,%lld] "
          "mean=%.4f std=%.4f min=%.4f max=%.4f load_s=%.3f\n",
          name.c_str(), split_name.c_str(), static_cast<long long>(data->size()),
          (*task)->info().num_classes, (*task)->info().num_classes_source.c_str(),
          static_cast<long long>(distinct), static_cast<long long>(data->size()),
          static_cast<long long>(data->images.size(2)),
          static_cast<long long>(data->images.size(3)),
          data->images.mean().item<double>(), data->images.std().item<double>(),
          data->images.min().item<double>(), data->images.max().item<double>(), secs);
    }
  }
  return 0;
}
