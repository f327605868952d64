// Mini-batches over a decoded split, in a shuffled order that depends only on
// (seed, epoch): the same seed gives the same batches on every machine and
// standard library (own SplitMix64 + Fisher-Yates, not std::shuffle, whose
// algorithm is unspecified). Like mmengine's DefaultSampler used by MambaPEFT
// (research/vim_mambapeft.md §6.2) the last short batch is kept by default.
//
// Thread safety: not thread-safe; one iterator per consumer. The split's
// tensors are shared, never written.
#ifndef PEFTSEARCH_WORKER_DATA_BATCH_ITERATOR_H_
#define PEFTSEARCH_WORKER_DATA_BATCH_ITERATOR_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/data/vtab_task.h"

namespace peftsearch::data {

struct BatchOptions {
  int64_t batch_size = 32;  // REQUIRES: > 0
  bool shuffle = true;      // false: file order every epoch (evaluation)
  uint64_t seed = 0;
  bool drop_last = false;   // drop a final batch smaller than batch_size
};

struct Batch {
  torch::Tensor images;  // float32 [B, 3, S, S]
  torch::Tensor labels;  // int64 [B]
};

// The permutation of 0..n-1 used for (seed, epoch). Exposed for tests.
std::vector<int64_t> ShuffledOrder(int64_t n, uint64_t seed, int64_t epoch);

class BatchIterator {
 public:
  // INVALID_ARGUMENT if batch_size <= 0, or if the split is empty.
  static absl::StatusOr<std::unique_ptr<BatchIterator>> Create(
      SplitData data, const BatchOptions& options);

  BatchIterator(const BatchIterator&) = delete;
  BatchIterator& operator=(const BatchIterator&) = delete;

  // Starts `epoch` (0-based) from its first batch. Create() starts epoch 0.
  void StartEpoch(int64_t epoch);

  // Fills *batch with the next batch of the current epoch and returns true,
  // or returns false at the end of the epoch.
  bool Next(Batch* batch);

  int64_t batches_per_epoch() const;
  int64_t epoch() const { return epoch_; }
  int64_t num_examples() const { return data_.size(); }

 private:
  BatchIterator(SplitData data, const BatchOptions& options);

  const SplitData data_;
  const BatchOptions options_;
  int64_t epoch_ = 0;
  int64_t pos_ = 0;
  torch::Tensor order_;  // int64 [N] indices for the current epoch
};

}  // namespace peftsearch::data

#endif  // PEFTSEARCH_WORKER_DATA_BATCH_ITERATOR_H_
