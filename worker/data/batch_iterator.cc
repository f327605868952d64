#include "worker/data/batch_iterator.h"

#include <numeric>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace peftsearch::data {
namespace {

// SplitMix64 (Steele et al. 2014): tiny, fully specified, good enough to
// shuffle a few thousand indices.
uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Uniform in [0, bound) without modulo bias (rejection sampling).
uint64_t UniformBelow(uint64_t bound, uint64_t* state) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t r;
  do {
    r = SplitMix64(state);
  } while (r >= limit);
  return r % bound;
}

}  // namespace

std::vector<int64_t> ShuffledOrder(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  // Mix epoch into the seed so epochs differ but stay reproducible.
  uint64_t state = seed;
  SplitMix64(&state);
  state ^= static_cast<uint64_t>(epoch) * 0xd1b54a32d192ed03ULL;
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(UniformBelow(static_cast<uint64_t>(i + 1), &state));
    std::swap(order[i], order[j]);
  }
  return order;
}

absl::StatusOr<std::unique_ptr<BatchIterator>> BatchIterator::Create(
    SplitData data, const BatchOptions& options) {
  if (options.batch_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size must be > 0, got ", options.batch_size));
  }
  if (data.size() == 0) {
    return absl::InvalidArgumentError("cannot iterate over an empty split");
  }
  return std::unique_ptr<BatchIterator>(new BatchIterator(std::move(data), options));
}

BatchIterator::BatchIterator(SplitData data, const BatchOptions& options)
    : data_(std::move(data)), options_(options) {
  StartEpoch(0);
}

void BatchIterator::StartEpoch(int64_t epoch) {
  epoch_ = epoch;
  pos_ = 0;
  const int64_t n = data_.size();
  if (options_.shuffle) {
    std::vector<int64_t> order = ShuffledOrder(n, options_.seed, epoch);
    order_ = torch::tensor(order, torch::kInt64);
  } else {
    order_ = torch::arange(n, torch::kInt64);
  }
}

int64_t BatchIterator::batches_per_epoch() const {
  const int64_t n = data_.size();
  return options_.drop_last ? n / options_.batch_size
                            : (n + options_.batch_size - 1) / options_.batch_size;
}

bool BatchIterator::Next(Batch* batch) {
  const int64_t n = data_.size();
  const int64_t remaining = n - pos_;
  if (remaining <= 0) return false;
  if (options_.drop_last && remaining < options_.batch_size) return false;
  const int64_t b = std::min(options_.batch_size, remaining);
  const torch::Tensor idx = order_.narrow(0, pos_, b);
  pos_ += b;
  batch->images = data_.images.index_select(0, idx);
  batch->labels = data_.labels.index_select(0, idx);
  return true;
}

}  // namespace peftsearch::data
