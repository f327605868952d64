// The 19 VTAB-1k task folders and their class counts, as MambaPEFT's
// tools/mmpretrain_tools/train.py NUM_CLASSES (identical to FacT vtab.py;
// research/vim_mambapeft.md §6.1), and the split names of the NOAH layout.
//
// Thread safety: immutable tables.
#ifndef PEFTSEARCH_WORKER_DATA_KNOWN_TASKS_H_
#define PEFTSEARCH_WORKER_DATA_KNOWN_TASKS_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace peftsearch::data {

// The four lists NOAH's get_vtab1k.py writes per task.
enum class Split { kTrain800, kVal200, kTrain800Val200, kTest };

// "train800", "val200", "train800val200", "test".
const char* SplitName(Split split);

// Inverse of SplitName; nullopt for anything else.
std::optional<Split> SplitFromName(std::string_view name);

inline constexpr Split kAllSplits[] = {Split::kTrain800, Split::kVal200,
                                       Split::kTrain800Val200, Split::kTest};

// Number of classes of a VTAB-1k task folder name ("cifar", "dsprites_loc"),
// or nullopt if the name is not one of the 19.
std::optional<int> KnownVtabNumClasses(std::string_view task);

// The 19 names in the VTAB order (Natural, Specialized, Structured).
const std::vector<std::string>& KnownVtabTasks();

}  // namespace peftsearch::data

#endif  // PEFTSEARCH_WORKER_DATA_KNOWN_TASKS_H_
