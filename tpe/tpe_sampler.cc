// PLACEHOLDER until the full TPE lands (next commit): validates options and
// samples uniformly, which is exactly TPE's behaviour during its startup phase.
#include "tpe/random.h"
#include "tpe/sampler.h"
#include "tpe/uniform.h"

namespace peftsearch {
namespace tpe {
namespace {

class StartupOnlyTpe final : public Sampler {
 public:
  explicit StartupOnlyTpe(const TpeOptions& o) : options_(o) {}
  Status Suggest(const SearchSpace& space, const std::vector<Trial>&, Direction,
                 int64_t trial_number, ParamValues* out) override {
    Status s = ValidateSearchSpace(space);
    if (!s.ok()) return s;
    out->clear();
    Rng rng(options_.seed, static_cast<uint64_t>(trial_number));
    for (const ParamSpec& p : space.params) {
      if (IsActive(p, *out)) (*out)[p.name] = SampleUniform(p.distribution, &rng);
    }
    return Status::OK();
  }

 private:
  TpeOptions options_;
};

}  // namespace

Status NewTpeSampler(const TpeOptions& options, std::unique_ptr<Sampler>* out) {
  *out = std::make_unique<StartupOnlyTpe>(options);
  return Status::OK();
}

}  // namespace tpe
}  // namespace peftsearch
