// Uniform random search (NewRandomSampler). History is ignored, so a trial's
// parameters depend only on (seed, trial number): distributed workers and
// restarts reproduce it exactly.
#include <memory>

#include "tpe/random.h"
#include "tpe/sampler.h"
#include "tpe/uniform.h"

namespace peftsearch {
namespace tpe {
namespace {

class RandomSampler final : public Sampler {
 public:
  explicit RandomSampler(uint64_t seed) : seed_(seed) {}

  Status Suggest(const SearchSpace& space, const std::vector<Trial>& /*history*/,
                 Direction /*direction*/, int64_t trial_number, ParamValues* out) override {
    Status s = ValidateSearchSpace(space);
    if (!s.ok()) return s;
    out->clear();
    Rng rng(seed_, static_cast<uint64_t>(trial_number));
    for (const ParamSpec& p : space.params) {
      if (IsActive(p, *out)) (*out)[p.name] = SampleUniform(p.distribution, &rng);
    }
    return Status::OK();
  }

 private:
  const uint64_t seed_;
};

}  // namespace

std::unique_ptr<Sampler> NewRandomSampler(uint64_t seed) {
  return std::make_unique<RandomSampler>(seed);
}

}  // namespace tpe
}  // namespace peftsearch
