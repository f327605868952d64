// Cache files for decoded splits, so that a worker process does not decode
// the same VTAB split again on every trial. A file is trusted only if its
// fingerprint matches: list text, image side and every image's size and
// modification time, so an edited list or a replaced image invalidates it.
//
// Format (native endianness; the cache is local to one machine):
//   "PSSPLIT1" | u64 fingerprint | i64 N | i32 S | i64 labels[N] |
//   f32 images[N*3*S*S]
//
// Thread safety: free functions. Writers go through a temporary file and
// rename(), so concurrent processes never see a half-written cache.
#ifndef PEFTSEARCH_WORKER_DATA_SPLIT_CACHE_H_
#define PEFTSEARCH_WORKER_DATA_SPLIT_CACHE_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/data/list_file.h"

namespace peftsearch::data {

// FNV-1a 64-bit hash, continuing from `seed`.
uint64_t Fnv1a64(std::string_view bytes, uint64_t seed = 0xcbf29ce484222325ULL);

// Fingerprint of a split as described above. NOT_FOUND (naming the image) if
// an image cannot be stat()ed; the caller then decodes and reports the error.
absl::StatusOr<uint64_t> SplitFingerprint(const std::string& task_dir,
                                          const std::vector<ListEntry>& entries,
                                          uint64_t list_hash, int image_size);

// Reads a cache file. NOT_FOUND if absent; FAILED_PRECONDITION if its
// fingerprint, count or size differ (stale); DATA_LOSS if truncated or not a
// cache file. Messages name `path`.
absl::StatusOr<std::pair<torch::Tensor, torch::Tensor>> ReadSplitCache(
    const std::string& path, uint64_t fingerprint, int64_t num_images,
    int image_size);

// Writes images (float32 [N,3,S,S], contiguous) and labels (int64 [N]).
// UNKNOWN naming the path on I/O failure.
absl::Status WriteSplitCache(const std::string& path, uint64_t fingerprint,
                             const torch::Tensor& images,
                             const torch::Tensor& labels);

}  // namespace peftsearch::data

#endif  // PEFTSEARCH_WORKER_DATA_SPLIT_CACHE_H_
