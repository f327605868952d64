// linear_probe: how useful a backbone's frozen CLS features are for one
// NOAH-layout task. Fits a linear head on train800 features (full-batch Adam)
// and prints val200 accuracy as one JSON line. With no --checkpoint it probes
// a randomly initialised backbone of the same config: the baseline that a
// pre-trained checkpoint has to beat.
//
//   linear_probe --data_root data/mini_vtab --task fashion_mnist \
//       [--checkpoint data/vim_small32.safetensors]
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "worker/data/pretrain/pretrain.h"
#include "worker/data/pretrain/vim_config_json.h"
#include "worker/data/vtab_task.h"
#include "worker/model/model_init.h"
#include "worker/model/safetensors.h"
#include "worker/model/state_dict.h"
#include "worker/model/vim_model.h"

namespace {

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "linear_probe: %s\n", s.ToString().c_str());
  return 1;
}

torch::Tensor Features(peftsearch::model::VisionMamba& net, const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t s = 0; s < images.size(0); s += 100) {
    parts.push_back(net->ForwardFeatures(images.narrow(0, s, std::min<int64_t>(100, images.size(0) - s))));
  }
  return torch::cat(parts);
}

}  // namespace

int main(int argc, char** argv) {
  namespace data = peftsearch::data;
  namespace model = peftsearch::model;
  std::string root, task_name, checkpoint;
  int steps = 300;
  uint64_t seed = 0;
  CLI::App app{"Linear probe of a Vim backbone's frozen features on a NOAH-layout task"};
  app.add_option("--data_root", root)->required();
  app.add_option("--task", task_name)->required();
  app.add_option("--checkpoint", checkpoint, "safetensors from pretrain_backbone; empty = random init");
  app.add_option("--steps", steps)->capture_default_str();
  app.add_option("--seed", seed)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(1);
  torch::manual_seed(seed);

  model::VimConfig config = data::PretrainOptions::SmallVim();
  model::TensorMap weights;
  if (!checkpoint.empty()) {
    auto file = model::ReadSafetensors(checkpoint);
    if (!file.ok()) return Fail(file.status());
    auto it = file->metadata.find("vim_config");
    if (it == file->metadata.end()) {
      return Fail(absl::InvalidArgumentError(checkpoint + ": no vim_config metadata"));
    }
    auto c = data::VimConfigFromJson(it->second);
    if (!c.ok()) return Fail(c.status());
    config = *c;
    weights = std::move(file->tensors);
  }
  model::VisionMamba net(config);
  model::InitVim(net.get(), seed);
  if (!weights.empty()) {
    if (absl::Status s = model::LoadStateDict(weights, net.get()); !s.ok()) return Fail(s);
  }
  net->eval();

  data::VtabTaskOptions options;
  options.image_size = static_cast<int>(config.img_size);
  auto task = data::VtabTask::Open(root, task_name, options);
  if (!task.ok()) return Fail(task.status());
  auto train = (*task)->Load(data::Split::kTrain800);
  if (!train.ok()) return Fail(train.status());
  auto val = (*task)->Load(data::Split::kVal200);
  if (!val.ok()) return Fail(val.status());

  torch::Tensor f_train = Features(net, train->images);
  torch::Tensor f_val = Features(net, val->images);
  // Standardise with train statistics so one learning rate fits any backbone.
  const torch::Tensor mean = f_train.mean(0), std = f_train.std(0) + 1e-6;
  f_train = (f_train - mean) / std;
  f_val = (f_val - mean) / std;

  torch::nn::Linear head(config.embed_dim, (*task)->info().num_classes);
  torch::optim::Adam opt(head->parameters(), torch::optim::AdamOptions(1e-2).weight_decay(1e-4));
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    torch::nn::functional::cross_entropy(head(f_train), train->labels).backward();
    opt.step();
  }
  torch::NoGradGuard no_grad;
  auto acc = [&](const torch::Tensor& f, const torch::Tensor& y) {
    return head(f).argmax(1).eq(y).to(torch::kFloat64).mean().item<double>();
  };
  nlohmann::ordered_json j = {{"task", task_name},
                              {"checkpoint", checkpoint.empty() ? "random_init" : checkpoint},
                              {"num_classes", (*task)->info().num_classes},
                              {"train_accuracy", acc(f_train, train->labels)},
                              {"val_accuracy", acc(f_val, val->labels)}};
  std::printf("%s\n", j.dump().c_str());
  return 0;
}
