#include "tpe/subspace.h"

#include <algorithm>

namespace peftsearch {
namespace tpe {

bool HasParam(const Trial& t, const ParamSpec& p) {
  auto it = t.params.find(p.name);
  return it != t.params.end() && Contains(p.distribution, it->second);
}

namespace {

HasParamFn OrDefault(const SearchSpace& space, const HasParamFn& has) {
  if (has) return has;
  return [&space](const Trial& t, int i) { return HasParam(t, space.params[i]); };
}

}  // namespace

std::vector<int> IntersectionSpace(const SearchSpace& space, const std::vector<const Trial*>& trials,
                                   const HasParamFn& has_fn) {
  const HasParamFn has = OrDefault(space, has_fn);
  std::vector<int> out;
  if (trials.empty()) return out;
  for (int i = 0; i < static_cast<int>(space.params.size()); ++i) {
    const ParamSpec& p = space.params[i];
    if (IsSingle(p.distribution)) continue;
    bool everywhere = std::all_of(trials.begin(), trials.end(),
                                  [&](const Trial* t) { return has(*t, i); });
    if (everywhere) out.push_back(i);
  }
  return out;
}

std::vector<std::vector<int>> GroupDecomposition(const SearchSpace& space,
                                                 const std::vector<const Trial*>& trials,
                                                 const HasParamFn& has_fn) {
  const HasParamFn has = OrDefault(space, has_fn);
  // Refine a partition with each trial's parameter set D: every group G
  // splits into G & D and G - D; names in D outside all groups form a group.
  std::vector<std::vector<int>> groups;
  const int p_count = static_cast<int>(space.params.size());
  std::vector<char> in_d(p_count), grouped(p_count, 0);
  for (const Trial* t : trials) {
    for (int i = 0; i < p_count; ++i) {
      in_d[i] = !IsSingle(space.params[i].distribution) && has(*t, i);
    }
    std::vector<std::vector<int>> next;
    for (const std::vector<int>& g : groups) {
      std::vector<int> inside, outside;
      for (int i : g) (in_d[i] ? inside : outside).push_back(i);
      if (!inside.empty()) next.push_back(std::move(inside));
      if (!outside.empty()) next.push_back(std::move(outside));
    }
    std::vector<int> fresh;
    for (int i = 0; i < p_count; ++i) {
      if (in_d[i] && !grouped[i]) {
        fresh.push_back(i);
        grouped[i] = 1;
      }
    }
    if (!fresh.empty()) next.push_back(std::move(fresh));
    groups = std::move(next);
  }
  std::sort(groups.begin(), groups.end(),
            [](const std::vector<int>& a, const std::vector<int>& b) { return a[0] < b[0]; });
  return groups;
}

}  // namespace tpe
}  // namespace peftsearch
