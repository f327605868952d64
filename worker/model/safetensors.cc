#include "worker/model/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace peftsearch {
namespace model {
namespace {

using nlohmann::json;

// The spec caps the header at 100 MB; larger values mean a corrupt length.
constexpr uint64_t kMaxHeader = 100ull << 20;

struct DtypeInfo {
  const char* name;
  torch::Dtype dtype;
  int64_t size;
};

const DtypeInfo kDtypes[] = {
    {"F64", torch::kFloat64, 8}, {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2},
    {"BF16", torch::kBFloat16, 2}, {"I64", torch::kInt64, 8}, {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2},   {"I8", torch::kInt8, 1},     {"U8", torch::kUInt8, 1},
    {"BOOL", torch::kBool, 1},
};

const DtypeInfo* FindDtype(const std::string& name) {
  for (const auto& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

const DtypeInfo* FindDtype(torch::Dtype dtype) {
  for (const auto& d : kDtypes) {
    if (dtype == d.dtype) return &d;
  }
  return nullptr;
}

struct Entry {
  std::string name;
  const DtypeInfo* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

absl::StatusOr<Entry> ParseEntry(const std::string& source, const std::string& name,
                                 const json& v) {
  auto bad = [&](const std::string& why) {
    return absl::DataLossError(absl::StrCat(source, ": tensor '", name, "': ", why));
  };
  if (!v.is_object()) return bad("header entry is not an object");
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!v.contains(field)) return bad(absl::StrCat("header entry lacks '", field, "'"));
  }
  Entry e;
  e.name = name;
  if (!v["dtype"].is_string()) return bad("dtype is not a string");
  e.dtype = FindDtype(v["dtype"].get<std::string>());
  if (e.dtype == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": tensor '", name,
                                                   "': unsupported dtype '",
                                                   v["dtype"].get<std::string>(), "'"));
  }
  if (!v["shape"].is_array()) return bad("shape is not an array");
  uint64_t numel = 1;
  for (const auto& s : v["shape"]) {
    if (!s.is_number_unsigned()) return bad("shape holds a non-negative-integer value");
    e.shape.push_back(s.get<int64_t>());
    numel *= s.get<uint64_t>();
  }
  const json& off = v["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
      !off[1].is_number_unsigned()) {
    return bad("data_offsets must be [begin, end] of non-negative integers");
  }
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  if (e.end < e.begin) return bad(absl::StrCat("data_offsets [", e.begin, ", ", e.end, "] end < begin"));
  const uint64_t want = numel * static_cast<uint64_t>(e.dtype->size);
  if (e.end - e.begin != want) {
    return bad(absl::StrCat("data_offsets [", e.begin, ", ", e.end, "] hold ", e.end - e.begin,
                            " bytes but dtype ", e.dtype->name, " and shape need ", want));
  }
  return e;
}

}  // namespace

namespace {
absl::StatusOr<SafetensorsFile> ParseSafetensorsChecked(const std::string& bytes,
                                                        const std::string& source);
}  // namespace

absl::StatusOr<SafetensorsFile> ParseSafetensors(const std::string& bytes,
                                                 const std::string& source) {
  // The checks below reject what they know; this backstop keeps any library
  // exception (JSON, LibTorch) on hostile bytes from escaping as a crash.
  try {
    return ParseSafetensorsChecked(bytes, source);
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(source, ": corrupt file: ", e.what()));
  }
}

namespace {
absl::StatusOr<SafetensorsFile> ParseSafetensorsChecked(const std::string& bytes,
                                                        const std::string& source) {
  const uint64_t size = bytes.size();
  if (size < 8) {
    return absl::DataLossError(absl::StrCat(source, ": truncated: ", size,
                                            " bytes, the 8-byte header length at offset 0 "
                                            "is incomplete"));
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<uint8_t>(bytes[i]);
  if (header_len > kMaxHeader) {
    return absl::DataLossError(absl::StrCat(source, ": corrupt header length ", header_len,
                                            " at offset 0 (limit ", kMaxHeader, ")"));
  }
  if (8 + header_len > size) {
    return absl::DataLossError(absl::StrCat(source, ": truncated: header spans bytes [8, ",
                                            8 + header_len, ") but the file has ", size,
                                            " bytes"));
  }
  json header;
  try {
    header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + header_len);
  } catch (const json::parse_error& e) {
    return absl::DataLossError(absl::StrCat(source, ": corrupt JSON header at byte offset ",
                                            8 + e.byte, ": ", e.what()));
  } catch (const json::exception& e) {
    // e.g. out_of_range for a number beyond double (found by
    // tests/fuzz/safetensors_fuzz).
    return absl::DataLossError(absl::StrCat(source, ": corrupt JSON header: ", e.what()));
  }
  if (!header.is_object()) {
    return absl::DataLossError(absl::StrCat(source, ": JSON header at offset 8 is not an object"));
  }
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_len = size - data_start;

  SafetensorsFile file;
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) {
        return absl::DataLossError(absl::StrCat(source, ": __metadata__ is not an object"));
      }
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) {
          return absl::DataLossError(
              absl::StrCat(source, ": __metadata__ '", m.key(), "' is not a string"));
        }
        file.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto e = ParseEntry(source, it.key(), it.value());
    if (!e.ok()) return e.status();
    if (e->end > data_len) {
      return absl::DataLossError(absl::StrCat(
          source, ": truncated: tensor '", e->name, "' needs bytes [", data_start + e->begin,
          ", ", data_start + e->end, ") but the file ends at byte offset ", size));
    }
    entries.push_back(std::move(*e));
  }
  // Tensors may not share bytes.
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i]->begin < by_offset[i - 1]->end) {
      return absl::DataLossError(absl::StrCat(
          source, ": tensors '", by_offset[i - 1]->name, "' and '", by_offset[i]->name,
          "' overlap at byte offset ", data_start + by_offset[i]->begin));
    }
  }
  for (const auto& e : entries) {
    torch::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype->dtype));
    if (e.end > e.begin) std::memcpy(t.data_ptr(), bytes.data() + data_start + e.begin, e.end - e.begin);
    file.tensors.emplace(e.name, std::move(t));
  }
  return file;
}

}  // namespace

absl::StatusOr<SafetensorsFile> ReadSafetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open safetensors file ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("read error on ", path));
  return ParseSafetensors(ss.str(), path);
}

absl::StatusOr<std::string> SerializeSafetensors(const TensorMap& tensors,
                                                 const Metadata& metadata) {
  json header = json::object();
  if (!metadata.empty()) {
    json m = json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = m;
  }
  std::vector<torch::Tensor> data;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty()) return absl::InvalidArgumentError("safetensors: empty tensor name");
    if (name == "__metadata__") {
      return absl::InvalidArgumentError("safetensors: '__metadata__' is reserved");
    }
    if (!tensor.defined()) {
      return absl::InvalidArgumentError(absl::StrCat("safetensors: tensor '", name, "' is undefined"));
    }
    const DtypeInfo* d = FindDtype(tensor.scalar_type());
    if (d == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("safetensors: tensor '", name,
                                                     "' has unsupported dtype ",
                                                     std::string(c10::toString(tensor.scalar_type()))));
    }
    torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * d->size;
    header[name] = {{"dtype", d->name},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    data.push_back(t);
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + h.size() + offset);
  uint64_t len = h.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  out += h;
  for (const auto& t : data) {
    out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  }
  return out;
}

absl::Status WriteSafetensors(const std::string& path, const TensorMap& tensors,
                              const Metadata& metadata) {
  auto bytes = SerializeSafetensors(tensors, metadata);
  if (!bytes.ok()) return bytes.status();
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", tmp, ": ", std::strerror(errno)));
    out.write(bytes->data(), bytes->size());
    out.flush();
    if (!out) return absl::UnavailableError(absl::StrCat("short write to ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot rename ", tmp, " to ", path, ": ",
                                               std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace model
}  // namespace peftsearch
