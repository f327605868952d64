// One trial: several VTAB tasks trained at once over ONE frozen Vim backbone
// (model::SharedVimBackbone), each task with its own PEFT extension, zero-init
// head and AdamW, then scored on the evaluation split (DESIGN.md, issue 7).
//
// Epochs run in lock step: every task trains epoch e, then every task is
// evaluated, because the backbone's train/eval switch is shared. Within a
// phase `parallel_tasks` worker threads take tasks from a queue; on CPU each
// worker gets threads / parallel_tasks intra-op threads, on CUDA each task
// its own stream. A task with trains_backbone (`full` fine-tuning) gets its
// own backbone copy.
//
// Events are JSON lines written to TrainerOptions.events from the calling
// thread only, after each phase:
//   {"event":"epoch","task":T,"epoch":e,"train_loss":..,"val_acc":..,"seconds":..}
//   {"step":e,"value":mean val_acc over tasks}     (progress for pruning)
// In "final" mode the test split is scored after the last epoch only, so
// epoch events carry "val_acc": null before it and no progress lines appear.
//
// Reproducibility: data order is seeded per task, PEFT initialisations are
// drawn in task order after seeding. Drop path and PEFT dropout draw from
// LibTorch's one global CPU generator, so with parallel_tasks > 1 and either
// active the draws interleave between threads and runs may differ; with
// both off, or parallel_tasks = 1, the same seed gives the same result.
//
// Thread safety: one TrialSession per thread; it starts its own threads.
#ifndef PEFTSEARCH_WORKER_TRAIN_TRAINER_H_
#define PEFTSEARCH_WORKER_TRAIN_TRAINER_H_

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/model/vim_multitask.h"
#include "worker/train/task_peft.h"
#include "worker/train/trial_spec.h"

namespace peftsearch::train {

struct TrainerOptions {
  // JSON lines (events, progress). Null: no events.
  std::ostream* events = nullptr;
  // Where <task>.safetensors (trainable parameters + head) go; "" = not saved.
  std::string output_dir;
  // REQUIRED: the PEFT registry (or NewLinearProbeProvider()). Not owned.
  const PeftProvider* peft = nullptr;
};

struct TaskResult {
  std::string task;
  int num_classes = 0;
  double accuracy = 0;  // top-1 on the evaluation split, in [0, 1]
  double last_train_loss = 0;
  int64_t trainable = 0;                               // PEFT + head scalars
  std::map<std::string, int64_t> trainable_by_method;  // + "head"
  std::string saved_path;                              // "" when not saved
};

struct TrialResult {
  double value = 0;  // mean accuracy over tasks: the objective
  std::vector<TaskResult> tasks;
  int64_t trainable_params = 0;  // sum over tasks
  int64_t backbone_params = 0;   // of the one shared backbone
  double wall_seconds = 0;
  double peak_rss_mb = 0;
  std::string split;  // "val200" | "test"
};

class TrialSession {
 public:
  // Builds the backbone (checkpoint or random init), opens and decodes the
  // tasks' splits, creates each task's PEFT instance, head and optimiser.
  // Errors: the data loader's (naming the path), the checkpoint loader's,
  // the provider's (naming the method), INVALID_ARGUMENT for options.
  static absl::StatusOr<std::unique_ptr<TrialSession>> Create(const TrialSpec& spec,
                                                              const TrainerOptions& options);
  ~TrialSession();
  TrialSession(const TrialSession&) = delete;
  TrialSession& operator=(const TrialSession&) = delete;

  // Trains all epochs, evaluates, saves. Call once. INTERNAL naming the task,
  // epoch and step for a non-finite loss (the trial stops); any exception in a
  // task thread becomes INTERNAL naming the task.
  absl::StatusOr<TrialResult> Run();

  int num_tasks() const;
  // The backbone task i runs on (the shared one unless the PEFT trains the backbone).
  model::VisionMamba TaskBackbone(int i) const;
  // Parameters task i trains (PEFT groups + head).
  std::vector<torch::Tensor> TaskTrainable(int i) const;

 private:
  struct Task;
  TrialSession(TrialSpec spec, TrainerOptions options);
  absl::Status Init();

  const TrialSpec spec_;
  const TrainerOptions options_;
  std::unique_ptr<model::SharedVimBackbone> shared_;
  std::vector<std::unique_ptr<Task>> tasks_;
};

// Create + Run.
absl::StatusOr<TrialResult> RunTrial(const TrialSpec& spec, const TrainerOptions& options);

// The final stdout line: {"value", "tasks": {T: acc}, "trainable_params",
// "wall_seconds", "peak_rss_mb", "split"} (+ "per_task_trainable",
// "backbone_params").
nlohmann::ordered_json ResultJson(const TrialResult& result);

// Peak resident set size of this process in MiB (getrusage).
double PeakRssMb();

}  // namespace peftsearch::train

#endif  // PEFTSEARCH_WORKER_TRAIN_TRAINER_H_
