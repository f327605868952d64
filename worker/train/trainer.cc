#include "worker/train/trainer.h"

#include <ATen/Parallel.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <functional>
#include <optional>
#include <thread>
#include <utility>

#ifdef PEFTSEARCH_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "worker/train/autocast_scope.h"
#endif

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "worker/data/batch_iterator.h"
#include "worker/data/known_tasks.h"
#include "worker/data/vtab_task.h"
#include "worker/model/model_init.h"
#include "worker/model/state_dict.h"
#include "worker/train/lr_schedule.h"

namespace peftsearch::train {

using Clock = std::chrono::steady_clock;

namespace {

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// FNV-1a: a task's data order depends on its name, not its list position.
uint64_t NameHash(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

absl::Status Prefixed(const std::string& prefix, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(prefix, s.message()));
}

int64_t Numel(const std::vector<torch::Tensor>& params) {
  int64_t n = 0;
  for (const torch::Tensor& p : params) n += p.numel();
  return n;
}

}  // namespace

struct TrialSession::Task {
  std::string name;
  int num_classes = 0;
  model::SharedVimBackbone* owner = nullptr;      // shared_ or own.get()
  std::unique_ptr<model::SharedVimBackbone> own;  // trains_backbone only
  int index = 0;                                  // in owner

  data::SplitData train, eval;
  std::unique_ptr<data::BatchIterator> batches;

  TaskPeft peft;
  std::vector<torch::Tensor> trainable;
  std::vector<double> base_lrs;  // per optimiser group
  std::unique_ptr<torch::optim::AdamW> optimizer;

  // Filled by the phases of the current epoch.
  double train_loss = 0;
  double accuracy = -1;  // < 0: not evaluated this epoch
  double seconds = 0;
  absl::Status status;

#ifdef PEFTSEARCH_WITH_CUDA
  std::optional<c10::cuda::CUDAStream> stream;
#endif
};

TrialSession::TrialSession(TrialSpec spec, TrainerOptions options)
    : spec_(std::move(spec)), options_(std::move(options)) {}

TrialSession::~TrialSession() = default;

int TrialSession::num_tasks() const { return static_cast<int>(tasks_.size()); }

model::VisionMamba TrialSession::TaskBackbone(int i) const {
  return tasks_.at(i)->owner->backbone();
}

std::vector<torch::Tensor> TrialSession::TaskTrainable(int i) const {
  return tasks_.at(i)->trainable;
}

absl::StatusOr<std::unique_ptr<TrialSession>> TrialSession::Create(const TrialSpec& spec,
                                                                   const TrainerOptions& options) {
  if (options.peft == nullptr) return absl::InvalidArgumentError("TrainerOptions.peft: required");
  std::unique_ptr<TrialSession> session(new TrialSession(spec, options));
  try {
    if (absl::Status s = session->Init(); !s.ok()) return s;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("trial set-up: ", e.what()));
  }
  return session;
}

absl::Status TrialSession::Init() {
  const TrialSpec& spec = spec_;
  if (spec.device == "cuda") {
#ifdef PEFTSEARCH_WITH_CUDA
    if (!torch::cuda::is_available()) {
      return absl::FailedPreconditionError("device: \"cuda\" requested but no GPU is visible");
    }
#else
    return absl::FailedPreconditionError(
        "device: \"cuda\" requested but peftsearch-train was built without CUDA "
        "(define PEFTSEARCH_WITH_CUDA and link a CUDA LibTorch)");
#endif
  }
  if (absl::Status s = options_.peft->Validate(spec.peft); !s.ok()) return s;
  at::set_num_threads(spec.threads);

  // Backbone.
  model::VisionMamba backbone(spec.backbone);
  if (spec.weights_path.empty()) {
    model::InitVim(backbone.get(), spec.random_init_seed);
  } else {
    model::LoadOptions load;
    load.ignore_keys = {"head.weight", "head.bias"};  // each task has its own head
    if (absl::Status s = model::LoadCheckpoint(spec.weights_path, backbone.get(), load); !s.ok()) {
      return Prefixed("weights: ", s);
    }
  }
  const torch::Device device(spec.device == "cuda" ? torch::kCUDA : torch::kCPU);
  backbone->to(device);
  shared_ = std::make_unique<model::SharedVimBackbone>(backbone);

  // Data: open every task first, so a missing task fails before any decoding.
  const data::Split train_split = *data::SplitFromName(spec.train_split());
  const data::Split eval_split = *data::SplitFromName(spec.eval_split());
  data::VtabTaskOptions data_options;
  data_options.image_size = spec.image_size;
  data_options.cache_dir = spec.cache_dir;
  data_options.num_threads = spec.threads;
  std::vector<std::unique_ptr<data::VtabTask>> opened;
  for (const std::string& name : spec.tasks) {
    absl::StatusOr<std::unique_ptr<data::VtabTask>> t =
        data::VtabTask::Open(spec.data_root, name, data_options);
    if (!t.ok()) return Prefixed("task " + name + ": ", t.status());
    opened.push_back(*std::move(t));
  }

  absl::StatusOr<bool> trains = options_.peft->TrainsBackbone(spec.peft);
  if (!trains.ok()) return trains.status();
  const bool trains_backbone = *trains;
  torch::manual_seed(spec.recipe.seed);  // PEFT initialisations, in task order
  for (size_t i = 0; i < opened.size(); ++i) {
    auto task = std::make_unique<Task>();
    task->name = spec.tasks[i];
    task->num_classes = opened[i]->info().num_classes;
    absl::StatusOr<data::SplitData> train = opened[i]->Load(train_split);
    if (!train.ok()) return Prefixed("task " + task->name + ": ", train.status());
    absl::StatusOr<data::SplitData> eval = opened[i]->Load(eval_split);
    if (!eval.ok()) return Prefixed("task " + task->name + ": ", eval.status());
    task->train = *train;
    task->eval = *eval;
    data::BatchOptions batch_options;
    batch_options.batch_size = spec.recipe.batch_size;
    batch_options.seed = spec.recipe.seed ^ NameHash(task->name);
    absl::StatusOr<std::unique_ptr<data::BatchIterator>> batches =
        data::BatchIterator::Create(task->train, batch_options);
    if (!batches.ok()) return Prefixed("task " + task->name + ": ", batches.status());
    task->batches = *std::move(batches);

    task->owner = shared_.get();
    model::VisionMamba task_backbone = backbone;
    if (trains_backbone) {
      // `full`: the task trains its own copy, so the shared one stays frozen.
      model::VisionMamba copy(spec.backbone);
      if (absl::Status s = model::LoadStateDict(model::StateDict(*backbone), copy.get()); !s.ok()) {
        return s;
      }
      copy->to(device);
      task->own =
          std::make_unique<model::SharedVimBackbone>(copy);  // freezes; CreatePeft unfreezes
      task->owner = task->own.get();
      task_backbone = copy;
    }
    absl::StatusOr<TaskPeft> peft =
        options_.peft->Create(spec.peft, task_backbone, spec.recipe.lr, spec.recipe.weight_decay);
    if (!peft.ok()) return peft.status();
    task->peft = *std::move(peft);
    task->index = task->owner->AddTask(task->peft.extension, task->num_classes);
    torch::nn::Linear head = task->owner->task(task->index).head;
    head->to(device);

    std::vector<torch::optim::OptimizerParamGroup> groups;
    auto add_group = [&](const std::vector<torch::Tensor>& params, double lr, double wd) {
      if (params.empty()) return;
      auto opts = std::make_unique<torch::optim::AdamWOptions>(lr);
      opts->weight_decay(wd);  // betas (0.9, 0.999), eps 1e-8: the defaults MambaPEFT keeps
      groups.emplace_back(params, std::move(opts));
      task->base_lrs.push_back(lr);
      task->trainable.insert(task->trainable.end(), params.begin(), params.end());
    };
    for (const OptimizerGroup& g : task->peft.groups) {
      add_group(g.params, g.lr > 0 ? g.lr : spec.recipe.lr,
                g.lr > 0 ? g.weight_decay : spec.recipe.weight_decay);
    }
    add_group(head->parameters(), spec.recipe.lr, spec.recipe.weight_decay);
    task->optimizer = std::make_unique<torch::optim::AdamW>(
        std::move(groups), torch::optim::AdamWOptions(spec.recipe.lr));
#ifdef PEFTSEARCH_WITH_CUDA
    if (spec.device == "cuda") task->stream = c10::cuda::getStreamFromPool();
#endif
    tasks_.push_back(std::move(task));
  }
  return absl::OkStatus();
}

namespace {

// Runs fn(task i) for every task on `workers` threads, each with `intra`
// intra-op threads. Exceptions become the task's status.
template <typename TaskT>
void RunPhase(std::vector<std::unique_ptr<TaskT>>& tasks, int workers, int intra,
              const std::function<absl::Status(TaskT&)>& fn) {
  std::atomic<size_t> next{0};
  auto work = [&]() {
    at::init_num_threads();
    at::set_num_threads(intra);
    for (size_t i = next++; i < tasks.size(); i = next++) {
      TaskT& t = *tasks[i];
      try {
        absl::Status s = fn(t);
        if (!s.ok()) t.status = s;
      } catch (const std::exception& e) {
        t.status = absl::InternalError(absl::StrCat("task ", t.name, ": ", e.what()));
      } catch (...) {  // an exception escaping a thread would terminate the process
        t.status = absl::InternalError(absl::StrCat("task ", t.name, ": unknown exception"));
      }
    }
  };
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) threads.emplace_back(work);
  for (std::thread& t : threads) t.join();
}

}  // namespace

absl::StatusOr<TrialResult> TrialSession::Run() {
  const Clock::time_point start = Clock::now();
  const TrialSpec& spec = spec_;
  const Recipe& r = spec.recipe;
  const int workers = spec.parallel_tasks;
  const int intra = spec.device == "cuda" ? 1 : std::max(1, spec.threads / workers);
  const ScheduleOptions schedule{r.epochs, r.warmup_epochs, r.warmup_start_factor, r.min_lr};
  const bool bf16 = r.precision == "bf16";
  const torch::Device device(spec.device == "cuda" ? torch::kCUDA : torch::kCPU);
  std::atomic<bool> abort{false};

  std::vector<model::SharedVimBackbone*> owners = {shared_.get()};
  for (auto& t : tasks_) {
    if (t->own) owners.push_back(t->own.get());
  }
  auto set_training = [&](bool on) {
    for (model::SharedVimBackbone* o : owners) o->Train(on);
  };

  int epoch = 0;
  // One epoch of one task. Runs on a worker thread.
  std::function<absl::Status(Task&)> train_epoch = [&](Task& t) -> absl::Status {
    const Clock::time_point t0 = Clock::now();
#ifdef PEFTSEARCH_WITH_CUDA
    std::optional<c10::cuda::CUDAStreamGuard> stream_guard;
    if (t.stream) stream_guard.emplace(*t.stream);
    AutocastScope autocast(bf16);
#else
    (void)bf16;  // ParseTrialSpec refuses bf16 on CPU
#endif
    t.batches->StartEpoch(epoch);
    const int64_t iters = t.batches->batches_per_epoch();
    double loss_sum = 0;
    int64_t n = 0;
    data::Batch batch;
    for (int64_t it = 0; t.batches->Next(&batch); ++it) {
      if (abort.load()) return absl::CancelledError("another task failed");
      auto& groups = t.optimizer->param_groups();
      for (size_t g = 0; g < groups.size(); ++g) {
        static_cast<torch::optim::AdamWOptions&>(groups[g].options())
            .lr(ScheduledLr(t.base_lrs[g], epoch, it, iters, schedule));
      }
      t.optimizer->zero_grad();
      torch::Tensor images = batch.images.to(device);
      torch::Tensor labels = batch.labels.to(device);
      torch::Tensor logits = t.owner->Forward(t.index, images);
      torch::Tensor loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat), labels);
      const double value = loss.item<double>();
      if (!std::isfinite(value)) {
        abort.store(true);
        return absl::InternalError(absl::StrCat(
            "task ", t.name, ": non-finite training loss (", value, ") at epoch ", epoch + 1,
            " step ", it + 1, "; lr ", ScheduledLr(r.lr, epoch, it, iters, schedule),
            ": lower recipe.lr or enable recipe.grad_clip"));
      }
      loss.backward();
      if (r.grad_clip > 0) torch::nn::utils::clip_grad_norm_(t.trainable, r.grad_clip);
      t.optimizer->step();
      loss_sum += value * batch.labels.size(0);
      n += batch.labels.size(0);
    }
    t.train_loss = n ? loss_sum / n : 0;
    t.seconds = SecondsSince(t0);
    return absl::OkStatus();
  };
  std::function<absl::Status(Task&)> evaluate = [&](Task& t) -> absl::Status {
    const Clock::time_point t0 = Clock::now();
#ifdef PEFTSEARCH_WITH_CUDA
    std::optional<c10::cuda::CUDAStreamGuard> stream_guard;
    if (t.stream) stream_guard.emplace(*t.stream);
    AutocastScope autocast(bf16);
#endif
    torch::NoGradGuard no_grad;
    int64_t correct = 0;
    const int64_t n = t.eval.size();
    for (int64_t s = 0; s < n; s += r.eval_batch_size) {
      if (abort.load()) return absl::CancelledError("another task failed");
      const int64_t b = std::min(r.eval_batch_size, n - s);
      torch::Tensor images = t.eval.images.narrow(0, s, b).to(device);
      torch::Tensor labels = t.eval.labels.narrow(0, s, b).to(device);
      correct += t.owner->Forward(t.index, images).argmax(1).eq(labels).sum().item<int64_t>();
    }
    t.accuracy = n ? static_cast<double>(correct) / n : 0;
    t.seconds += SecondsSince(t0);
    return absl::OkStatus();
  };

  auto first_error = [&]() -> absl::Status {
    // A real failure beats the CANCELLED of the tasks it stopped.
    absl::Status cancelled;
    for (auto& t : tasks_) {
      if (t->status.ok()) continue;
      if (!absl::IsCancelled(t->status)) return t->status;
      cancelled = t->status;
    }
    return cancelled;
  };

  for (epoch = 0; epoch < r.epochs; ++epoch) {
    set_training(true);
    RunPhase<Task>(tasks_, workers, intra, train_epoch);
    if (absl::Status s = first_error(); !s.ok()) return s;
    const bool scored = spec.mode == "search" || epoch + 1 == r.epochs;
    double sum = 0;
    if (scored) {
      set_training(false);
      RunPhase<Task>(tasks_, workers, intra, evaluate);
      if (absl::Status s = first_error(); !s.ok()) return s;
    }
    if (options_.events != nullptr) {
      for (auto& t : tasks_) {
        nlohmann::ordered_json line = {{"event", "epoch"},   {"task", t->name},
                                       {"epoch", epoch + 1}, {"train_loss", t->train_loss},
                                       {"val_acc", nullptr}, {"seconds", t->seconds}};
        if (scored) line["val_acc"] = t->accuracy;
        if (scored && spec.mode == "final") line["eval_split"] = spec.eval_split();
        *options_.events << line.dump() << "\n";
        sum += t->accuracy;
      }
      if (spec.mode == "search") {
        nlohmann::ordered_json progress = {{"step", epoch + 1}, {"value", sum / tasks_.size()}};
        *options_.events << progress.dump() << "\n";
      }
      options_.events->flush();
    }
  }

  TrialResult result;
  result.split = spec.eval_split();
  double sum = 0;
  for (auto& t : tasks_) {
    TaskResult tr;
    tr.task = t->name;
    tr.num_classes = t->num_classes;
    tr.accuracy = t->accuracy;
    tr.last_train_loss = t->train_loss;
    tr.trainable_by_method = t->peft.trainable_by_method;
    torch::nn::Linear head = t->owner->task(t->index).head;
    tr.trainable_by_method["head"] = Numel(head->parameters());
    tr.trainable = t->peft.trainable + tr.trainable_by_method["head"];
    if (!options_.output_dir.empty()) {
      tr.saved_path = options_.output_dir + "/" + t->name + ".safetensors";
      if (absl::Status s = t->peft.save(head, tr.saved_path); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat("saving task ", t->name, ": ", s.message()));
      }
    }
    sum += tr.accuracy;
    result.trainable_params += tr.trainable;
    result.tasks.push_back(std::move(tr));
  }
  result.value = sum / tasks_.size();
  result.backbone_params = Numel(shared_->backbone()->parameters());
  result.wall_seconds = SecondsSince(start);
  result.peak_rss_mb = PeakRssMb();
  return result;
}

absl::StatusOr<TrialResult> RunTrial(const TrialSpec& spec, const TrainerOptions& options) {
  const Clock::time_point start = Clock::now();
  absl::StatusOr<std::unique_ptr<TrialSession>> session = TrialSession::Create(spec, options);
  if (!session.ok()) return session.status();
  absl::StatusOr<TrialResult> result = (*session)->Run();
  if (result.ok()) result->wall_seconds = SecondsSince(start);  // set-up included
  return result;
}

nlohmann::ordered_json ResultJson(const TrialResult& result) {
  nlohmann::ordered_json tasks = nlohmann::ordered_json::object();
  nlohmann::ordered_json per_task = nlohmann::ordered_json::object();
  for (const TaskResult& t : result.tasks) {
    tasks[t.task] = t.accuracy;
    per_task[t.task] = t.trainable;
  }
  nlohmann::ordered_json j = {{"value", result.value},
                              {"tasks", tasks},
                              {"trainable_params", result.trainable_params},
                              {"per_task_trainable", per_task},
                              {"backbone_params", result.backbone_params},
                              {"wall_seconds", result.wall_seconds},
                              {"peak_rss_mb", result.peak_rss_mb},
                              {"split", result.split}};
  return j;
}

double PeakRssMb() {
  struct rusage usage;
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return usage.ru_maxrss / 1024.0;  // KiB on Linux
}

}  // namespace peftsearch::train
