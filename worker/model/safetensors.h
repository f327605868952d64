// safetensors reader and writer (format: huggingface/safetensors README):
// 8-byte little-endian header length H, H bytes of JSON
//   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
//    "__metadata__": {"key": "value"}}
// then the raw little-endian data; offsets are relative to byte 8 + H.
// Errors are strict and name the tensor or the byte offset:
//   NOT_FOUND     the file does not exist
//   DATA_LOSS     truncated or corrupt file (bad length, bad JSON, data past
//                 the end of the file, overlapping or mis-sized data)
//   INVALID_ARGUMENT  unsupported dtype or bad entry fields
// Thread safety: free functions, reentrant.
#ifndef PEFTSEARCH_WORKER_MODEL_SAFETENSORS_H_
#define PEFTSEARCH_WORKER_MODEL_SAFETENSORS_H_

#include <torch/torch.h>

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace peftsearch {
namespace model {

using TensorMap = std::map<std::string, torch::Tensor>;
using Metadata = std::map<std::string, std::string>;

struct SafetensorsFile {
  TensorMap tensors;  // CPU, contiguous, owning their memory
  Metadata metadata;  // "__metadata__" (string to string)
};

// Parses a whole file's bytes; `source` names it in error messages.
absl::StatusOr<SafetensorsFile> ParseSafetensors(const std::string& bytes,
                                                 const std::string& source);
absl::StatusOr<SafetensorsFile> ReadSafetensors(const std::string& path);

// Serialises tensors (any CPU/CUDA tensor of a supported dtype; copied to CPU
// contiguous) in name order, header padded with spaces to 8 bytes.
// INVALID_ARGUMENT names a tensor with an unsupported dtype or an empty name.
absl::StatusOr<std::string> SerializeSafetensors(const TensorMap& tensors,
                                                 const Metadata& metadata = {});
// Writes path.tmp then renames, so readers never see a half-written file.
// UNAVAILABLE (naming the path) when the file cannot be written.
absl::Status WriteSafetensors(const std::string& path, const TensorMap& tensors,
                              const Metadata& metadata = {});

}  // namespace model
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_MODEL_SAFETENSORS_H_
