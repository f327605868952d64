#include "worker/data/list_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "worker/data/test_images.h"

namespace peftsearch::data {
namespace {

using ::testing::HasSubstr;

TEST(ParseListTest, ReadsPathsLabelsAndLineNumbers) {
  auto entries = ParseList(
      "images/train800/000000.jpg 3\n\nimages/train800/000001.jpg 0\r\n"
      "images/my dir/000002.png\t12\n",
      "t/train800.txt");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].path, "images/train800/000000.jpg");
  EXPECT_EQ((*entries)[0].label, 3);
  EXPECT_EQ((*entries)[0].line, 1);
  EXPECT_EQ((*entries)[1].label, 0);
  EXPECT_EQ((*entries)[1].line, 3);
  EXPECT_EQ((*entries)[2].path, "images/my dir/000002.png");
  EXPECT_EQ((*entries)[2].label, 12);
  EXPECT_EQ((*entries)[2].line, 4);
}

TEST(ParseListTest, EmptyTextIsEmptyList) {
  auto entries = ParseList("", "x.txt");
  ASSERT_TRUE(entries.ok());
  EXPECT_TRUE(entries->empty());
}

TEST(ParseListTest, MissingLabelNamesFileAndLine) {
  auto entries = ParseList("a.jpg 1\nb.jpg\n", "task/test.txt");
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(entries.status().message(), HasSubstr("task/test.txt:2:"));
}

TEST(ParseListTest, BadLabelsAreRejected) {
  for (const char* bad : {"a.jpg x\n", "a.jpg -1\n", "a.jpg 1.5\n", "a.jpg +2\n"}) {
    auto entries = ParseList(bad, "l.txt");
    EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(entries.status().message(), HasSubstr("l.txt:1:")) << bad;
  }
}

TEST(ParseListTest, PathsMustStayInsideTheTask) {
  for (const char* bad : {"/etc/passwd 1\n", "../x.jpg 1\n", "a/../../x.jpg 1\n"}) {
    auto entries = ParseList(bad, "l.txt");
    EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(entries.status().message(), HasSubstr("inside the task directory"));
  }
}

TEST(ReadListFileTest, ReadsFile) {
  const std::string dir = testing::FreshDir("list_file_test");
  ASSERT_TRUE(testing::WriteText(dir + "/val200.txt", "images/val200/000000.png 4\n"));
  auto entries = ReadListFile(dir + "/val200.txt");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].label, 4);
}

TEST(ReadListFileTest, MissingFileIsNotFoundNamingPath) {
  auto entries = ReadListFile("/nonexistent/dir/train800.txt");
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(entries.status().message(), HasSubstr("/nonexistent/dir/train800.txt"));
}

}  // namespace
}  // namespace peftsearch::data
