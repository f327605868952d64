#include "worker/data/known_tasks.h"

#include <utility>

namespace peftsearch::data {
namespace {

struct KnownTask {
  const char* name;
  int num_classes;
};

// research/vim_mambapeft.md §6.1 (MambaPEFT NUM_CLASSES).
constexpr KnownTask kVtab[] = {
    // Natural
    {"cifar", 100}, {"caltech101", 102}, {"dtd", 47}, {"oxford_flowers102", 102},
    {"oxford_iiit_pet", 37}, {"svhn", 10}, {"sun397", 397},
    // Specialized
    {"patch_camelyon", 2}, {"eurosat", 10}, {"resisc45", 45},
    {"diabetic_retinopathy", 5},
    // Structured
    {"clevr_count", 8}, {"clevr_dist", 6}, {"dmlab", 6}, {"kitti", 4},
    {"dsprites_loc", 16}, {"dsprites_ori", 16}, {"smallnorb_azi", 18},
    {"smallnorb_ele", 9},
};

}  // namespace

const char* SplitName(Split split) {
  switch (split) {
    case Split::kTrain800: return "train800";
    case Split::kVal200: return "val200";
    case Split::kTrain800Val200: return "train800val200";
    case Split::kTest: return "test";
  }
  return "unknown";
}

std::optional<Split> SplitFromName(std::string_view name) {
  for (Split s : kAllSplits) {
    if (name == SplitName(s)) return s;
  }
  return std::nullopt;
}

std::optional<int> KnownVtabNumClasses(std::string_view task) {
  for (const KnownTask& t : kVtab) {
    if (task == t.name) return t.num_classes;
  }
  return std::nullopt;
}

const std::vector<std::string>& KnownVtabTasks() {
  static const std::vector<std::string>* names = [] {
    auto* v = new std::vector<std::string>();
    for (const KnownTask& t : kVtab) v->push_back(t.name);
    return v;
  }();
  return *names;
}

}  // namespace peftsearch::data
