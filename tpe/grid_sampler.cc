// Grid search (NewGridSampler): every distinct configuration of the space,
// visited in a seeded shuffled order. Conditional children are expanded only
// under the parent values that activate them, so no configuration repeats.
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "tpe/random.h"
#include "tpe/sampler.h"

namespace peftsearch {
namespace tpe {
namespace {

// Rejects spaces with a continuous float: a grid needs a finite value set.
Status CheckDiscrete(const SearchSpace& space) {
  Status s = ValidateSearchSpace(space);
  if (!s.ok()) return s;
  for (const ParamSpec& p : space.params) {
    if (p.distribution.kind == DistributionKind::kFloat && !IsSingle(p.distribution) &&
        p.distribution.step <= 0) {
      return Status::InvalidArgument("param '" + p.name +
                                     "': step must be > 0 for grid search");
    }
  }
  return Status::OK();
}

// Depth-first enumeration. Each point stores a grid index per parameter, -1
// when inactive. Returns false once more than kMaxGridSize points exist.
class Enumerator {
 public:
  explicit Enumerator(const SearchSpace& space) : space_(space) {}

  bool Run(std::vector<std::vector<int32_t>>* points, int64_t* count) {
    points_ = points;
    count_ = 0;
    index_.assign(space_.params.size(), -1);
    bool ok = Visit(0);
    *count = count_;
    return ok;
  }

 private:
  bool Visit(size_t i) {
    if (i == space_.params.size()) {
      if (++count_ > kMaxGridSize) return false;
      if (points_) points_->push_back(index_);
      return true;
    }
    const ParamSpec& p = space_.params[i];
    if (!IsActive(p, assigned_)) return Visit(i + 1);
    const int64_t n = NumGridPoints(p.distribution);
    for (int64_t k = 0; k < n; ++k) {
      index_[i] = static_cast<int32_t>(k);
      assigned_[p.name] = GridValue(p.distribution, k);
      if (!Visit(i + 1)) return false;
    }
    index_[i] = -1;
    assigned_.erase(p.name);
    return true;
  }

  const SearchSpace& space_;
  std::vector<std::vector<int32_t>>* points_ = nullptr;
  std::vector<int32_t> index_;
  ParamValues assigned_;
  int64_t count_ = 0;
};

Status TooLarge() {
  return Status::InvalidArgument("grid has more than " + std::to_string(kMaxGridSize) +
                                 " points");
}

bool SameSpace(const SearchSpace& a, const SearchSpace& b) {
  if (a.params.size() != b.params.size()) return false;
  for (size_t i = 0; i < a.params.size(); ++i) {
    const ParamSpec& x = a.params[i];
    const ParamSpec& y = b.params[i];
    const Distribution& dx = x.distribution;
    const Distribution& dy = y.distribution;
    if (x.name != y.name || dx.kind != dy.kind || dx.low != dy.low || dx.high != dy.high ||
        dx.log != dy.log || dx.step != dy.step || dx.num_choices != dy.num_choices ||
        x.condition.has_value() != y.condition.has_value()) {
      return false;
    }
    if (x.condition && (x.condition->parent != y.condition->parent ||
                        x.condition->parent_values != y.condition->parent_values)) {
      return false;
    }
  }
  return true;
}

class GridSamplerImpl final : public GridSampler {
 public:
  GridSamplerImpl(SearchSpace space, std::vector<std::vector<int32_t>> points, uint64_t seed)
      : space_(std::move(space)), points_(std::move(points)) {
    // Fisher-Yates with our portable Rng: the order is the same everywhere.
    Rng rng(seed, 0, /*stream=*/0x67726964);  // "grid"
    for (size_t i = points_.size(); i > 1; --i) {
      size_t j = static_cast<size_t>(rng.UniformInt(i));
      std::swap(points_[i - 1], points_[j]);
    }
  }

  int64_t GridSize() const override { return static_cast<int64_t>(points_.size()); }

  Status Suggest(const SearchSpace& space, const std::vector<Trial>& /*history*/,
                 Direction /*direction*/, int64_t trial_number, ParamValues* out) override {
    if (!SameSpace(space, space_)) {
      return Status::InvalidArgument("grid sampler was built for a different search space");
    }
    if (trial_number < 0) {
      return Status::InvalidArgument("trial_number (" + std::to_string(trial_number) +
                                     ") must be >= 0");
    }
    out->clear();
    const std::vector<int32_t>& point = points_[static_cast<size_t>(trial_number % GridSize())];
    for (size_t i = 0; i < space_.params.size(); ++i) {
      if (point[i] >= 0) (*out)[space_.params[i].name] = GridValue(space_.params[i].distribution, point[i]);
    }
    return Status::OK();
  }

 private:
  const SearchSpace space_;
  std::vector<std::vector<int32_t>> points_;
};

}  // namespace

Status GridSize(const SearchSpace& space, int64_t* size) {
  Status s = CheckDiscrete(space);
  if (!s.ok()) return s;
  if (!Enumerator(space).Run(nullptr, size)) return TooLarge();
  return Status::OK();
}

Status NewGridSampler(const SearchSpace& space, uint64_t seed, std::unique_ptr<Sampler>* out) {
  Status s = CheckDiscrete(space);
  if (!s.ok()) return s;
  std::vector<std::vector<int32_t>> points;
  int64_t count = 0;
  if (!Enumerator(space).Run(&points, &count)) return TooLarge();
  *out = std::make_unique<GridSamplerImpl>(space, std::move(points), seed);
  return Status::OK();
}

}  // namespace tpe
}  // namespace peftsearch
