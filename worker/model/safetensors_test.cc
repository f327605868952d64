#include "worker/model/safetensors.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "worker/model/state_dict.h"

namespace peftsearch {
namespace model {
namespace {

bool Contains(const absl::Status& s, const std::string& needle) {
  return std::string(s.message()).find(needle) != std::string::npos;
}

TensorMap Sample() {
  torch::manual_seed(0);
  return {{"a.weight", torch::randn({3, 4})},
          {"b", torch::arange(5, torch::kLong)},
          {"c.half", torch::randn({2}).to(torch::kFloat16)},
          {"d.double", torch::randn({2, 1, 2}, torch::kDouble)},
          {"e.scalar", torch::tensor(3.5f).reshape({})}};
}

TEST(Safetensors, RoundTripKeepsValuesDtypesShapesAndMetadata) {
  TensorMap in = Sample();
  auto bytes = SerializeSafetensors(in, {{"format", "pt"}});
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  // Header length is a multiple of 8 (alignment of the data section).
  uint64_t h = 0;
  for (int i = 7; i >= 0; --i) h = (h << 8) | static_cast<uint8_t>((*bytes)[i]);
  EXPECT_EQ(h % 8, 0u);
  auto file = ParseSafetensors(*bytes, "mem");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->metadata.at("format"), "pt");
  ASSERT_EQ(file->tensors.size(), in.size());
  for (const auto& [k, v] : in) {
    const auto& t = file->tensors.at(k);
    EXPECT_EQ(t.scalar_type(), v.scalar_type()) << k;
    EXPECT_EQ(t.sizes(), v.sizes()) << k;
    EXPECT_TRUE(torch::equal(t, v)) << k;
  }
}

TEST(Safetensors, FileRoundTripAndMissingFile) {
  const std::string path = ::testing::TempDir() + "/rt.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, Sample()).ok());
  auto file = ReadSafetensors(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->tensors.size(), 5u);
  auto missing = ReadSafetensors(path + ".nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(missing.status(), ".nope"));
}

TEST(Safetensors, TruncatedDataNamesTheTensorAndOffset) {
  auto bytes = SerializeSafetensors({{"w", torch::ones({4})}, {"x", torch::ones({100})}});
  ASSERT_TRUE(bytes.ok());
  std::string cut = bytes->substr(0, bytes->size() - 10);
  auto file = ParseSafetensors(cut, "cut.safetensors");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(file.status(), "tensor 'x'")) << file.status();
  EXPECT_TRUE(Contains(file.status(), "byte offset " + std::to_string(cut.size())))
      << file.status();
}

TEST(Safetensors, TruncatedHeaderAndLength) {
  auto bytes = SerializeSafetensors({{"w", torch::ones({4})}});
  ASSERT_TRUE(bytes.ok());
  auto short_len = ParseSafetensors(bytes->substr(0, 5), "f");
  EXPECT_EQ(short_len.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(short_len.status(), "offset 0")) << short_len.status();
  auto short_header = ParseSafetensors(bytes->substr(0, 20), "f");
  EXPECT_EQ(short_header.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(short_header.status(), "header spans bytes [8, ")) << short_header.status();
  std::string huge = *bytes;
  huge[7] = '\x7f';
  auto bad_len = ParseSafetensors(huge, "f");
  EXPECT_EQ(bad_len.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(bad_len.status(), "corrupt header length")) << bad_len.status();
}

// Found by tests/fuzz/safetensors_fuzz: a number beyond double in the header
// made the JSON library throw out_of_range, which aborted the process.
TEST(Safetensors, NumberBeyondDoubleIsDataLossNotACrash) {
  const std::string header = R"({"w": {"dtype": 1e999, "shape": [1], "data_offsets": [0, 4]}})";
  std::string bytes(8, '\0');
  uint64_t len = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  bytes += header + std::string(4, '\0');
  auto file = ParseSafetensors(bytes, "hostile.safetensors");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(file.status().message()).find("hostile.safetensors"), std::string::npos);
}

TEST(Safetensors, CorruptJsonNamesByteOffset) {
  auto bytes = SerializeSafetensors({{"w", torch::ones({4})}});
  ASSERT_TRUE(bytes.ok());
  std::string bad = *bytes;
  bad[8 + 3] = '#';
  auto file = ParseSafetensors(bad, "f");
  EXPECT_EQ(file.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(file.status(), "corrupt JSON header at byte offset 1")) << file.status();
}

std::string WithHeader(const std::string& json, size_t data_bytes) {
  std::string out;
  uint64_t len = json.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  return out + json + std::string(data_bytes, '\0');
}

TEST(Safetensors, InconsistentEntriesNameTheTensor) {
  auto size = ParseSafetensors(
      WithHeader(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "f");
  EXPECT_EQ(size.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(size.status(), "tensor 'w'")) << size.status();
  auto dtype = ParseSafetensors(
      WithHeader(R"({"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}})", 1), "f");
  EXPECT_EQ(dtype.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(dtype.status(), "'Q7'")) << dtype.status();
  auto overlap = ParseSafetensors(
      WithHeader(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                 12),
      "f");
  EXPECT_EQ(overlap.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(overlap.status(), "overlap")) << overlap.status();
  auto lacks = ParseSafetensors(WithHeader(R"({"w":{"dtype":"F32","shape":[1]}})", 4), "f");
  EXPECT_TRUE(Contains(lacks.status(), "lacks 'data_offsets'")) << lacks.status();
}

TEST(Safetensors, WriterRejectsUnsupportedDtype) {
  auto s = SerializeSafetensors({{"c", torch::zeros({2}, torch::kComplexFloat)}});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s.status(), "'c'"));
}

struct Tiny : torch::nn::Module {
  Tiny() {
    w = register_parameter("w", torch::zeros({2, 3}));
    b = register_parameter("b", torch::zeros({3}));
  }
  torch::Tensor w, b;
};

TEST(StateDict, StrictLoadListsEveryProblemByName) {
  Tiny m;
  TensorMap file = {{"w", torch::ones({2, 4})}, {"extra", torch::ones({1})}};
  absl::Status s = LoadStateDict(file, &m);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s, "1 missing keys: b")) << s;
  EXPECT_TRUE(Contains(s, "1 unexpected keys: extra")) << s;
  EXPECT_TRUE(Contains(s, "w: file [2,4] vs model [2,3]")) << s;
  EXPECT_EQ(m.w.sum().item<float>(), 0.0f);  // nothing copied

  LoadOptions ignore;
  ignore.ignore_keys = {"extra"};
  file = {{"w", torch::ones({2, 3}, torch::kDouble)}, {"b", torch::ones({3})},
          {"extra", torch::ones({1})}};
  ASSERT_TRUE(LoadStateDict(file, &m, ignore).ok());
  EXPECT_EQ(m.w.sum().item<float>(), 6.0f);
}

TEST(StateDict, IntegerTensorIsRejected) {
  Tiny m;
  absl::Status s = LoadStateDict({{"w", torch::ones({2, 3}, torch::kLong)}, {"b", torch::ones({3})}}, &m);
  EXPECT_TRUE(Contains(s, "w: file dtype Long")) << s;
}

}  // namespace
}  // namespace model
}  // namespace peftsearch
