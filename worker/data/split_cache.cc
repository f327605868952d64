#include "worker/data/split_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "worker/data/file_util.h"

namespace peftsearch::data {
namespace {

constexpr char kMagic[8] = {'P', 'S', 'S', 'P', 'L', 'I', 'T', '1'};

template <typename T>
void HashValue(uint64_t* h, const T& v) {
  *h = Fnv1a64(std::string_view(reinterpret_cast<const char*>(&v), sizeof(v)), *h);
}

using File = std::unique_ptr<FILE, int (*)(FILE*)>;

bool ReadExact(FILE* f, void* dst, size_t n) { return std::fread(dst, 1, n, f) == n; }
bool WriteExact(FILE* f, const void* src, size_t n) {
  return std::fwrite(src, 1, n, f) == n;
}

}  // namespace

uint64_t Fnv1a64(std::string_view bytes, uint64_t seed) {
  uint64_t h = seed;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

absl::StatusOr<uint64_t> SplitFingerprint(const std::string& task_dir,
                                          const std::vector<ListEntry>& entries,
                                          uint64_t list_hash, int image_size) {
  uint64_t h = Fnv1a64("peftsearch split cache v1");
  HashValue(&h, list_hash);
  HashValue(&h, image_size);
  for (const ListEntry& e : entries) {
    const std::string path = JoinPath(task_dir, e.path);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      return absl::NotFoundError(absl::StrCat(path, ": ", std::strerror(errno)));
    }
    const int64_t size = st.st_size;
    const int64_t mtime_ns =
        static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    HashValue(&h, size);
    HashValue(&h, mtime_ns);
  }
  return h;
}

absl::StatusOr<std::pair<torch::Tensor, torch::Tensor>> ReadSplitCache(
    const std::string& path, uint64_t fingerprint, int64_t num_images,
    int image_size) {
  File f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (f == nullptr) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": no cache file"));
    return absl::UnknownError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  char magic[8];
  uint64_t fp = 0;
  int64_t n = 0;
  int32_t s = 0;
  if (!ReadExact(f.get(), magic, 8) || std::memcmp(magic, kMagic, 8) != 0 ||
      !ReadExact(f.get(), &fp, sizeof(fp)) || !ReadExact(f.get(), &n, sizeof(n)) ||
      !ReadExact(f.get(), &s, sizeof(s))) {
    return absl::DataLossError(absl::StrCat(path, ": not a split cache file"));
  }
  if (fp != fingerprint || n != num_images || s != image_size) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": stale cache (fingerprint/count/size differ: ", n, " images of ", s,
        " px, want ", num_images, " of ", image_size, ")"));
  }
  torch::Tensor labels = torch::empty({n}, torch::kInt64);
  torch::Tensor images = torch::empty({n, 3, s, s}, torch::kFloat32);
  if (!ReadExact(f.get(), labels.data_ptr<int64_t>(), n * sizeof(int64_t)) ||
      !ReadExact(f.get(), images.data_ptr<float>(), images.numel() * sizeof(float))) {
    return absl::DataLossError(absl::StrCat(path, ": truncated split cache file"));
  }
  return std::make_pair(std::move(images), std::move(labels));
}

absl::Status WriteSplitCache(const std::string& path, uint64_t fingerprint,
                             const torch::Tensor& images,
                             const torch::Tensor& labels) {
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  {
    File f(std::fopen(tmp.c_str(), "wb"), &std::fclose);
    if (f == nullptr) {
      return absl::UnknownError(absl::StrCat(tmp, ": ", std::strerror(errno)));
    }
    const int64_t n = labels.size(0);
    const int32_t s = static_cast<int32_t>(images.size(2));
    const torch::Tensor img = images.contiguous();
    const torch::Tensor lab = labels.contiguous();
    const bool ok =
        WriteExact(f.get(), kMagic, 8) && WriteExact(f.get(), &fingerprint, sizeof(fingerprint)) &&
        WriteExact(f.get(), &n, sizeof(n)) && WriteExact(f.get(), &s, sizeof(s)) &&
        WriteExact(f.get(), lab.data_ptr<int64_t>(), n * sizeof(int64_t)) &&
        WriteExact(f.get(), img.data_ptr<float>(), img.numel() * sizeof(float)) &&
        std::fflush(f.get()) == 0;
    if (!ok) {
      f.reset();
      std::remove(tmp.c_str());
      return absl::UnknownError(absl::StrCat(tmp, ": write failed"));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    return absl::UnknownError(absl::StrCat(path, ": rename failed: ", std::strerror(err)));
  }
  return absl::OkStatus();
}

}  // namespace peftsearch::data
