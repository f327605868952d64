// One VTAB-1k task in the NOAH layout, decoded into memory:
//   <root>/<task>/{train800,val200,train800val200,test}.txt   ("path label")
//   <root>/<task>/images/<split>/<i:06d>.{jpg,png}
// Each split is decoded once (stb), resized to image_size x image_size with
// Pillow's antialiased bicubic (aspect ratio ignored), ImageNet-normalised,
// and kept as one float tensor [N, 3, S, S] with int64 labels [N]. That is the
// whole MambaPEFT VTAB pipeline: no augmentation (research/vim_mambapeft.md
// §6.1). Optionally the decoded split is also written to a cache file that
// later processes reuse while the list and the image files are unchanged.
//
// Thread safety: a VtabTask may be shared; Load() serialises decoding of a
// task behind a mutex and returns tensors that share the cached storage
// (treat them as read-only).
#ifndef PEFTSEARCH_WORKER_DATA_VTAB_TASK_H_
#define PEFTSEARCH_WORKER_DATA_VTAB_TASK_H_

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/data/known_tasks.h"
#include "worker/data/list_file.h"

namespace peftsearch::data {

struct VtabTaskOptions {
  // Side of the square images produced. VTAB-1k with Vim uses 224; the
  // offline mini-VTAB demo uses its stored size (32). REQUIRES: > 0.
  int image_size = 224;

  // Directory for decoded-split cache files; empty (default) = memory only.
  // Created if missing. A stale or unreadable cache file is ignored and
  // rewritten, never trusted.
  std::string cache_dir;

  // Threads used to decode one split. REQUIRES: >= 1.
  int num_threads = 1;

  // Number of classes; 0 (default) = the VTAB table for the 19 known task
  // names, else 1 + the largest label found in the task's lists.
  int num_classes = 0;
};

struct TaskInfo {
  std::string name;  // task folder name, e.g. "dsprites_loc"
  std::string dir;   // <root>/<name>
  int num_classes = 0;
  // Where num_classes came from: "options", "vtab_table" or "lists".
  std::string num_classes_source;
};

// One decoded split. Tensors share storage with the task's cache.
struct SplitData {
  torch::Tensor images;  // float32 [N, 3, S, S], normalised
  torch::Tensor labels;  // int64 [N]
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

class VtabTask {
 public:
  // Opens <root>/<name>: checks the directory, parses every list present and
  // settles num_classes. Images are not read yet.
  // NOT_FOUND naming the path if the task directory or all four lists are
  // missing; INVALID_ARGUMENT for bad options, a malformed list line, or a
  // label >= num_classes (naming list:line).
  static absl::StatusOr<std::unique_ptr<VtabTask>> Open(
      const std::string& root, const std::string& name,
      const VtabTaskOptions& options);

  VtabTask(const VtabTask&) = delete;
  VtabTask& operator=(const VtabTask&) = delete;

  const TaskInfo& info() const { return info_; }
  const VtabTaskOptions& options() const { return options_; }

  // True if the split's list exists.
  bool HasSplit(Split split) const { return lists_.count(split) > 0; }

  // The parsed list of a split; NOT_FOUND naming the list path if absent.
  absl::StatusOr<std::vector<ListEntry>> Entries(Split split) const;

  // Returns the decoded split, decoding it on the first call (or reading the
  // cache file). NOT_FOUND naming the list if the split has no list; for a
  // missing or corrupt image, the image's error prefixed with "list:line: ".
  absl::StatusOr<SplitData> Load(Split split);

 private:
  VtabTask(TaskInfo info, VtabTaskOptions options,
           std::map<Split, std::vector<ListEntry>> lists,
           std::map<Split, uint64_t> list_hashes);

  absl::StatusOr<SplitData> Decode(Split split) const;
  std::string ListPath(Split split) const;

  const TaskInfo info_;
  const VtabTaskOptions options_;
  const std::map<Split, std::vector<ListEntry>> lists_;
  const std::map<Split, uint64_t> list_hashes_;  // of the list text

  std::mutex mu_;
  std::map<Split, SplitData> loaded_;  // GUARDED_BY(mu_)
};

}  // namespace peftsearch::data

#endif  // PEFTSEARCH_WORKER_DATA_VTAB_TASK_H_
