#include "worker/data/vtab_task.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "worker/data/file_util.h"
#include "worker/data/image.h"
#include "worker/data/normalize.h"
#include "worker/data/resize.h"
#include "worker/data/split_cache.h"

namespace peftsearch::data {
namespace {

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

absl::Status WithPrefix(const absl::Status& s, const std::string& prefix) {
  return absl::Status(s.code(), absl::StrCat(prefix, s.message()));
}

absl::Status MakeDirs(const std::string& path) {
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::UnknownError(absl::StrCat(cur, ": ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<VtabTask>> VtabTask::Open(
    const std::string& root, const std::string& name,
    const VtabTaskOptions& options) {
  if (options.image_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("image_size must be > 0, got ", options.image_size));
  }
  if (options.num_threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_threads must be >= 1, got ", options.num_threads));
  }
  if (options.num_classes < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_classes must be >= 0, got ", options.num_classes));
  }
  if (name.empty() || name.find('/') != std::string::npos || name == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("task name must be a folder name, got \"", name, "\""));
  }
  if (!IsDirectory(root)) {
    return absl::NotFoundError(absl::StrCat(root, ": data root is not a directory"));
  }
  TaskInfo info;
  info.name = name;
  info.dir = JoinPath(root, name);
  if (!IsDirectory(info.dir)) {
    return absl::NotFoundError(absl::StrCat(info.dir, ": task directory not found"));
  }

  std::map<Split, std::vector<ListEntry>> lists;
  std::map<Split, uint64_t> hashes;
  int64_t max_label = -1;
  for (Split split : kAllSplits) {
    const std::string path = JoinPath(info.dir, absl::StrCat(SplitName(split), ".txt"));
    absl::StatusOr<std::string> text = ReadWholeFile(path);
    if (absl::IsNotFound(text.status())) continue;
    if (!text.ok()) return text.status();
    absl::StatusOr<std::vector<ListEntry>> entries = ParseList(*text, path);
    if (!entries.ok()) return entries.status();
    for (const ListEntry& e : *entries) max_label = std::max(max_label, e.label);
    hashes[split] = Fnv1a64(*text);
    lists[split] = *std::move(entries);
  }
  if (lists.empty()) {
    return absl::NotFoundError(absl::StrCat(
        info.dir, ": no split list (train800.txt, val200.txt, train800val200.txt, test.txt)"));
  }

  if (options.num_classes > 0) {
    info.num_classes = options.num_classes;
    info.num_classes_source = "options";
  } else if (std::optional<int> known = KnownVtabNumClasses(name)) {
    info.num_classes = *known;
    info.num_classes_source = "vtab_table";
  } else {
    if (max_label < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          info.dir, ": lists are empty, cannot infer num_classes"));
    }
    info.num_classes = static_cast<int>(max_label + 1);
    info.num_classes_source = "lists";
  }
  for (const auto& [split, entries] : lists) {
    for (const ListEntry& e : entries) {
      if (e.label >= info.num_classes) {
        return absl::InvalidArgumentError(absl::StrCat(
            JoinPath(info.dir, absl::StrCat(SplitName(split), ".txt")), ":", e.line,
            ": label ", e.label, " >= num_classes ", info.num_classes, " (from ",
            info.num_classes_source, ")"));
      }
    }
  }
  return std::unique_ptr<VtabTask>(
      new VtabTask(std::move(info), options, std::move(lists), std::move(hashes)));
}

VtabTask::VtabTask(TaskInfo info, VtabTaskOptions options,
                   std::map<Split, std::vector<ListEntry>> lists,
                   std::map<Split, uint64_t> list_hashes)
    : info_(std::move(info)),
      options_(std::move(options)),
      lists_(std::move(lists)),
      list_hashes_(std::move(list_hashes)) {}

std::string VtabTask::ListPath(Split split) const {
  return JoinPath(info_.dir, absl::StrCat(SplitName(split), ".txt"));
}

absl::StatusOr<std::vector<ListEntry>> VtabTask::Entries(Split split) const {
  auto it = lists_.find(split);
  if (it == lists_.end()) {
    return absl::NotFoundError(absl::StrCat(ListPath(split), ": split list not found"));
  }
  return it->second;
}

absl::StatusOr<SplitData> VtabTask::Load(Split split) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = loaded_.find(split);
  if (it != loaded_.end()) return it->second;
  absl::StatusOr<SplitData> data = Decode(split);
  if (!data.ok()) return data.status();
  loaded_[split] = *data;
  return data;
}

absl::StatusOr<SplitData> VtabTask::Decode(Split split) const {
  auto list_it = lists_.find(split);
  if (list_it == lists_.end()) {
    return absl::NotFoundError(absl::StrCat(ListPath(split), ": split list not found"));
  }
  const std::vector<ListEntry>& entries = list_it->second;
  const std::string list_path = ListPath(split);
  const int s = options_.image_size;
  const int64_t n = static_cast<int64_t>(entries.size());

  // The cache is an optimisation: any problem with it falls back to decoding.
  std::string cache_path;
  uint64_t fingerprint = 0;
  if (!options_.cache_dir.empty()) {
    absl::StatusOr<uint64_t> fp =
        SplitFingerprint(info_.dir, entries, list_hashes_.at(split), s);
    if (fp.ok()) {
      fingerprint = *fp;
      // The directory hash keeps two roots with the same task name apart.
      cache_path = JoinPath(
          options_.cache_dir,
          absl::StrCat(info_.name, ".", SplitName(split), ".", s, ".",
                       absl::Hex(Fnv1a64(info_.dir) & 0xffffffffu), ".split"));
      auto cached = ReadSplitCache(cache_path, fingerprint, n, s);
      if (cached.ok()) return SplitData{cached->first, cached->second};
    }
  }

  torch::Tensor images = torch::empty({n, 3, s, s}, torch::kFloat32);
  torch::Tensor labels = torch::empty({n}, torch::kInt64);
  float* image_data = images.data_ptr<float>();
  int64_t* label_data = labels.data_ptr<int64_t>();
  const size_t per_image = static_cast<size_t>(3) * s * s;

  std::vector<absl::Status> errors(entries.size());
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    for (int64_t i = next++; i < n && !failed.load(); i = next++) {
      const ListEntry& e = entries[i];
      absl::StatusOr<Image> img = DecodeImageFile(JoinPath(info_.dir, e.path));
      if (!img.ok()) {
        errors[i] = WithPrefix(img.status(), absl::StrCat(list_path, ":", e.line, ": "));
        failed = true;
        return;
      }
      const Image sized = ResizeBicubicPil(*img, s, s);
      NormalizeImagenet(sized, image_data + i * per_image);
      label_data[i] = e.label;
    }
  };
  const int threads = static_cast<int>(
      std::min<int64_t>(options_.num_threads, std::max<int64_t>(n, 1)));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  for (const absl::Status& err : errors) {
    if (!err.ok()) return err;  // the first failing line found
  }

  if (!cache_path.empty()) {
    // A failed cache write costs only speed next time; the data is good.
    absl::Status made = MakeDirs(options_.cache_dir);
    if (made.ok()) (void)WriteSplitCache(cache_path, fingerprint, images, labels);
  }
  return SplitData{images, labels};
}

}  // namespace peftsearch::data
