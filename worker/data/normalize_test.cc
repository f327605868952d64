#include "worker/data/normalize.h"

#include <gtest/gtest.h>

#include <vector>

namespace peftsearch::data {
namespace {

TEST(NormalizeImagenetTest, WritesPlanarNormalisedChannels) {
  Image img;
  img.width = 2;
  img.height = 1;
  img.rgb = {0, 128, 255, 124, 116, 104};  // (R,G,B) at x=0, then x=1
  std::vector<float> out(6);
  NormalizeImagenet(img, out.data());
  // Planes: R(x0,x1), G(x0,x1), B(x0,x1).
  EXPECT_FLOAT_EQ(out[0], (0 - 123.675f) / 58.395f);
  EXPECT_FLOAT_EQ(out[1], (124 - 123.675f) / 58.395f);
  EXPECT_FLOAT_EQ(out[2], (128 - 116.28f) / 57.12f);
  EXPECT_FLOAT_EQ(out[3], (116 - 116.28f) / 57.12f);
  EXPECT_FLOAT_EQ(out[4], (255 - 103.53f) / 57.375f);
  EXPECT_FLOAT_EQ(out[5], (104 - 103.53f) / 57.375f);
}

}  // namespace
}  // namespace peftsearch::data
