#include "worker/data/resize.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace peftsearch::data {
namespace {

// Same LCG as testdata/make_resize_golden.py.
Image GoldenInput(int w, int h, uint64_t seed, const std::string& pattern) {
  Image img;
  img.width = w;
  img.height = h;
  uint64_t state = seed;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < 3; ++c) {
        state = (state * 1103515245 + 12345) % (1ULL << 31);
        if (pattern == "noise") {
          img.rgb.push_back(static_cast<uint8_t>((state >> 16) & 255));
        } else {
          img.rgb.push_back(((x / 2 + y / 3 + c) % 2) ? 255 : 0);
        }
      }
    }
  }
  return img;
}

// Outputs of Pillow 9.4 Image.resize(BICUBIC), from make_resize_golden.py.
TEST(ResizeBicubicPilTest, MatchesPillowBitForBit) {
  std::ifstream in("worker/data/testdata/resize_golden.txt");
  ASSERT_TRUE(in.good()) << "missing testdata/resize_golden.txt";
  std::string header;
  int cases = 0;
  while (std::getline(in, header)) {
    if (header.empty() || header[0] == '#') continue;
    std::istringstream hs(header);
    int w, h, ow, oh;
    uint64_t seed;
    std::string pattern;
    ASSERT_TRUE(hs >> w >> h >> ow >> oh >> seed >> pattern) << header;
    std::string values;
    ASSERT_TRUE(std::getline(in, values));
    std::istringstream vs(values);
    std::vector<int> want;
    for (int v; vs >> v;) want.push_back(v);
    ASSERT_EQ(want.size(), static_cast<size_t>(ow) * oh * 3) << header;

    const Image out = ResizeBicubicPil(GoldenInput(w, h, seed, pattern), ow, oh);
    ASSERT_EQ(out.width, ow);
    ASSERT_EQ(out.height, oh);
    int mismatches = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      if (out.rgb[i] != want[i] && ++mismatches <= 5) {
        ADD_FAILURE() << header << ": byte " << i << " got " << int(out.rgb[i])
                      << " want " << want[i];
      }
    }
    EXPECT_EQ(mismatches, 0) << header;
    ++cases;
  }
  EXPECT_EQ(cases, 8);
}

TEST(ResizeBicubicPilTest, SameSizeIsACopy) {
  const Image in = GoldenInput(5, 4, 9, "noise");
  const Image out = ResizeBicubicPil(in, 5, 4);
  EXPECT_EQ(out.rgb, in.rgb);
}

TEST(ResizeBicubicPilTest, ConstantImageStaysConstant) {
  Image in;
  in.width = 13;
  in.height = 7;
  in.rgb.assign(13 * 7 * 3, 77);
  for (auto [w, h] : {std::pair{224, 224}, std::pair{3, 2}, std::pair{13, 30}}) {
    const Image out = ResizeBicubicPil(in, w, h);
    for (uint8_t v : out.rgb) ASSERT_EQ(v, 77) << w << "x" << h;
  }
}

}  // namespace
}  // namespace peftsearch::data
