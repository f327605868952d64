#include "worker/daemon/output_line.h"

#include "gtest/gtest.h"

namespace peftsearch::daemon {
namespace {

using Kind = OutputLine::Kind;

TEST(OutputLineTest, Progress) {
  OutputLine l = ParseOutputLine(R"({"step": 3, "value": 0.25, "task": "cifar"})");
  EXPECT_EQ(l.kind, Kind::kProgress);
  EXPECT_EQ(l.step, 3);
  EXPECT_DOUBLE_EQ(l.value, 0.25);
}

TEST(OutputLineTest, Result) {
  OutputLine l = ParseOutputLine(R"(  {"value": -1.5, "per_task": [1, 2]})");
  EXPECT_EQ(l.kind, Kind::kResult);
  EXPECT_DOUBLE_EQ(l.value, -1.5);
  EXPECT_EQ(ParseOutputLine(R"({"value": 2})").kind, Kind::kResult);
  EXPECT_EQ(ParseOutputLine(R"({"step": 1.5, "value": 2})").kind, Kind::kResult);
}

TEST(OutputLineTest, OtherLinesAreIgnored) {
  EXPECT_EQ(ParseOutputLine("").kind, Kind::kOther);
  EXPECT_EQ(ParseOutputLine("epoch 3 loss 0.2").kind, Kind::kOther);
  EXPECT_EQ(ParseOutputLine("{not json").kind, Kind::kOther);
  EXPECT_EQ(ParseOutputLine(R"({"loss": 1})").kind, Kind::kOther);
  EXPECT_EQ(ParseOutputLine(R"({"value": "high"})").kind, Kind::kOther);
  EXPECT_EQ(ParseOutputLine(R"({"value": null})").kind, Kind::kOther);
  EXPECT_EQ(ParseOutputLine(R"([1, 2])").kind, Kind::kOther);
}

}  // namespace
}  // namespace peftsearch::daemon
