#include "worker/data/image.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "worker/data/test_images.h"

namespace peftsearch::data {
namespace {

using ::testing::HasSubstr;

class ImageTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::FreshDir("image_test"); }
  std::string dir_;
};

TEST_F(ImageTest, PngRgbRoundTrips) {
  const Image src = testing::PatternImage(9, 7, 1);
  ASSERT_TRUE(testing::WritePng(dir_ + "/a.png", src));
  auto img = DecodeImageFile(dir_ + "/a.png");
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_EQ(img->width, 9);
  EXPECT_EQ(img->height, 7);
  EXPECT_EQ(img->rgb, src.rgb);
}

TEST_F(ImageTest, GrayPngBecomesThreeEqualChannels) {
  const Image src = testing::PatternImage(5, 4, 2);
  ASSERT_TRUE(testing::WritePng(dir_ + "/g.png", src, /*channels=*/1));
  auto img = DecodeImageFile(dir_ + "/g.png");
  ASSERT_TRUE(img.ok()) << img.status();
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 5; ++x) {
      EXPECT_EQ(img->at(y, x, 0), src.at(y, x, 0));
      EXPECT_EQ(img->at(y, x, 1), src.at(y, x, 0));
      EXPECT_EQ(img->at(y, x, 2), src.at(y, x, 0));
    }
  }
}

TEST_F(ImageTest, PpmAndPgmDecode) {
  const Image src = testing::PatternImage(6, 3, 3);
  ASSERT_TRUE(testing::WritePnm(dir_ + "/a.ppm", src, /*gray=*/false));
  ASSERT_TRUE(testing::WritePnm(dir_ + "/a.pgm", src, /*gray=*/true));
  auto ppm = DecodeImageFile(dir_ + "/a.ppm");
  ASSERT_TRUE(ppm.ok()) << ppm.status();
  EXPECT_EQ(ppm->rgb, src.rgb);
  auto pgm = DecodeImageFile(dir_ + "/a.pgm");
  ASSERT_TRUE(pgm.ok()) << pgm.status();
  EXPECT_EQ(pgm->at(2, 5, 1), src.at(2, 5, 0));
}

TEST_F(ImageTest, JpegDecodesCloseToSource) {
  // A smooth image: JPEG is lossy, so compare within a tolerance.
  Image src;
  src.width = 16;
  src.height = 16;
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x)
      for (int c = 0; c < 3; ++c) src.rgb.push_back(static_cast<uint8_t>(x * 8 + y * 4 + c * 20));
  ASSERT_TRUE(testing::WriteJpg(dir_ + "/a.jpg", src, 100));
  auto img = DecodeImageFile(dir_ + "/a.jpg");
  ASSERT_TRUE(img.ok()) << img.status();
  ASSERT_EQ(img->rgb.size(), src.rgb.size());
  for (size_t i = 0; i < src.rgb.size(); ++i) {
    EXPECT_NEAR(img->rgb[i], src.rgb[i], 8) << i;
  }
}

TEST_F(ImageTest, CorruptFileIsDataLossNamingPath) {
  ASSERT_TRUE(testing::WriteText(dir_ + "/bad.png", "\x89PNG\r\n\x1a\nthis is not a png"));
  auto img = DecodeImageFile(dir_ + "/bad.png");
  EXPECT_EQ(img.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(img.status().message(), HasSubstr(dir_ + "/bad.png"));
}

TEST_F(ImageTest, TruncatedPngIsDataLoss) {
  const Image src = testing::PatternImage(32, 32, 4);
  ASSERT_TRUE(testing::WritePng(dir_ + "/t.png", src));
  ASSERT_EQ(::truncate((dir_ + "/t.png").c_str(), 100), 0);
  auto img = DecodeImageFile(dir_ + "/t.png");
  EXPECT_EQ(img.status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(ImageTest, MissingFileIsNotFoundNamingPath) {
  auto img = DecodeImageFile(dir_ + "/nope.jpg");
  EXPECT_EQ(img.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(img.status().message(), HasSubstr(dir_ + "/nope.jpg"));
}

}  // namespace
}  // namespace peftsearch::data
