#include "worker/data/pretrain/pretrain.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "worker/data/batch_iterator.h"
#include "worker/data/pretrain/vim_config_json.h"
#include "worker/data/vtab_task.h"
#include "worker/model/model_init.h"
#include "worker/model/safetensors.h"
#include "worker/model/state_dict.h"
#include "worker/model/vim_model.h"

namespace peftsearch::data {
namespace {

absl::Status Invalid(const char* field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("PretrainOptions.", field, ": ", why));
}

absl::Status Validate(const PretrainOptions& o) {
  if (o.data_root.empty()) return Invalid("data_root", "required");
  if (o.output.empty()) return Invalid("output", "required");
  if (o.task.empty()) return Invalid("task", "required");
  if (o.epochs <= 0) return Invalid("epochs", absl::StrCat(o.epochs, " must be > 0"));
  if (o.batch_size <= 0) return Invalid("batch_size", absl::StrCat(o.batch_size, " must be > 0"));
  if (!(o.lr > 0)) return Invalid("lr", absl::StrCat(o.lr, " must be > 0"));
  if (o.weight_decay < 0) return Invalid("weight_decay", absl::StrCat(o.weight_decay, " must be >= 0"));
  if (o.warmup_epochs < 0 || o.warmup_epochs >= o.epochs) {
    return Invalid("warmup_epochs", absl::StrCat(o.warmup_epochs, " must be in [0, epochs)"));
  }
  if (o.grad_clip < 0) return Invalid("grad_clip", absl::StrCat(o.grad_clip, " must be >= 0"));
  if (o.num_threads < 1) return Invalid("num_threads", absl::StrCat(o.num_threads, " must be >= 1"));
  if (o.max_seconds < 0) return Invalid("max_seconds", absl::StrCat(o.max_seconds, " must be >= 0"));
  return model::ValidateVimConfig(o.vim);
}

// Linear warm-up over the first warmup_epochs, then cosine to 1% of the peak
// (the shape of the MambaPEFT VTAB schedule, research note §6.2).
double LearningRate(const PretrainOptions& o, int64_t step, int64_t steps_per_epoch) {
  const int64_t warm = o.warmup_epochs * steps_per_epoch;
  const int64_t total = o.epochs * steps_per_epoch;
  if (step < warm) return o.lr * static_cast<double>(step + 1) / static_cast<double>(warm);
  const double t = static_cast<double>(step - warm) / std::max<int64_t>(1, total - warm);
  const double floor = o.lr * 0.01;
  return floor + 0.5 * (o.lr - floor) * (1.0 + std::cos(M_PI * std::min(1.0, t)));
}

double Accuracy(model::VisionMamba& net, const SplitData& split, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  net->eval();
  int64_t correct = 0;
  for (int64_t start = 0; start < split.size(); start += batch_size) {
    const int64_t b = std::min(batch_size, split.size() - start);
    const torch::Tensor logits = net->forward(split.images.narrow(0, start, b));
    correct += logits.argmax(1).eq(split.labels.narrow(0, start, b)).sum().item<int64_t>();
  }
  net->train();
  return split.size() ? static_cast<double>(correct) / split.size() : 0.0;
}

}  // namespace

model::VimConfig PretrainOptions::SmallVim() {
  model::VimConfig c;
  c.img_size = 32;
  c.patch_size = 8;
  c.stride = 8;
  c.embed_dim = 96;
  c.depth = 4;
  c.drop_path_rate = 0.0;  // too few layers and steps for stochastic depth to help
  return c;
}

absl::StatusOr<PretrainResult> Pretrain(const PretrainOptions& options,
                                        const std::function<void(const EpochReport&)>& on_epoch) {
  if (absl::Status s = Validate(options); !s.ok()) return s;
  torch::set_num_threads(options.num_threads);
  torch::manual_seed(options.seed);  // drop path draws from the global generator

  VtabTaskOptions data_options;
  data_options.image_size = static_cast<int>(options.vim.img_size);
  data_options.cache_dir = options.cache_dir;
  data_options.num_threads = options.num_threads;
  auto task = VtabTask::Open(options.data_root, options.task, data_options);
  if (!task.ok()) return task.status();
  auto train = (*task)->Load(Split::kTrain800);
  if (!train.ok()) return train.status();
  auto val = (*task)->Load(Split::kVal200);
  if (!val.ok()) return val.status();

  model::VimConfig config = options.vim;
  config.num_classes = (*task)->info().num_classes;
  model::VisionMamba net(config);
  model::InitVim(net.get(), options.seed);
  net->train();

  // No weight decay on norms, biases, tokens and the SSM's A/D (1-D tensors
  // and cls/pos embeddings), as timm/mmengine configs for Vim do.
  std::vector<torch::Tensor> decay, no_decay;
  int64_t num_parameters = 0;
  for (const auto& item : net->named_parameters()) {
    num_parameters += item.value().numel();
    const std::string& name = item.key();
    const bool skip = item.value().dim() <= 1 || name == "cls_token" || name == "pos_embed" ||
                      name.find("A_log") != std::string::npos ||
                      name.find("A_b_log") != std::string::npos;
    (skip ? no_decay : decay).push_back(item.value());
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                                 torch::optim::AdamWOptions(options.lr).weight_decay(options.weight_decay)));
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(
                                    torch::optim::AdamWOptions(options.lr).weight_decay(0.0)));
  torch::optim::AdamW optimizer(groups);

  BatchOptions batch_options;
  batch_options.batch_size = options.batch_size;
  batch_options.seed = options.seed;
  auto batches = BatchIterator::Create(*train, batch_options);
  if (!batches.ok()) return batches.status();
  const int64_t steps_per_epoch = (*batches)->batches_per_epoch();

  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  PretrainResult result;
  result.num_parameters = num_parameters;
  int64_t step = 0;
  bool out_of_time = false;
  for (int epoch = 0; epoch < options.epochs && !out_of_time; ++epoch) {
    (*batches)->StartEpoch(epoch);
    double loss_sum = 0;
    int64_t loss_count = 0;
    Batch batch;
    while ((*batches)->Next(&batch)) {
      const double lr = LearningRate(options, step, steps_per_epoch);
      for (auto& group : optimizer.param_groups()) {
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      }
      optimizer.zero_grad();
      torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(batch.images), batch.labels);
      loss.backward();
      if (options.grad_clip > 0) torch::nn::utils::clip_grad_norm_(net->parameters(), options.grad_clip);
      optimizer.step();
      const double l = loss.item<double>();
      if (!std::isfinite(l)) {
        return absl::InternalError(absl::StrCat("pretraining diverged: loss ", l, " at step ", step,
                                                " (lower --lr?)"));
      }
      loss_sum += l;
      ++loss_count;
      ++step;
      if (options.max_seconds > 0 && elapsed() > options.max_seconds) {
        out_of_time = true;
        break;
      }
    }
    EpochReport report;
    report.epoch = epoch + 1;
    report.train_loss = loss_count ? loss_sum / loss_count : 0.0;
    report.val_accuracy = Accuracy(net, *val, options.batch_size);
    report.seconds = elapsed();
    report.steps = step;
    result.last = report;
    if (on_epoch) on_epoch(report);
  }

  model::Metadata metadata = {
      {"format", "peftsearch-vim-v1"},
      {"vim_config", VimConfigToJson(config)},
      {"task", options.task},
      {"num_classes", absl::StrCat(config.num_classes)},
      {"val_accuracy", absl::StrCat(result.last.val_accuracy)},
      {"epochs", absl::StrCat(result.last.epoch)},
      {"seed", absl::StrCat(options.seed)},
  };
  if (absl::Status s = model::WriteSafetensors(options.output, model::StateDict(*net), metadata);
      !s.ok()) {
    return s;
  }
  result.output = options.output;
  return result;
}

}  // namespace peftsearch::data
