#include "tpe/status.h"

#include <gtest/gtest.h>

namespace peftsearch {
namespace tpe {
namespace {

TEST(StatusTest, OkIsDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kOk);
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_TRUE(Status::OK().ok());
}

TEST(StatusTest, FactoriesSetCodeAndMessage) {
  Status a = Status::InvalidArgument("param 'x': bad");
  EXPECT_FALSE(a.ok());
  EXPECT_EQ(a.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(a.message(), "param 'x': bad");
  EXPECT_EQ(a.ToString(), "INVALID_ARGUMENT: param 'x': bad");
  EXPECT_EQ(Status::FailedPrecondition("m").code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(Status::FailedPrecondition("m").ToString(), "FAILED_PRECONDITION: m");
  EXPECT_EQ(Status::Internal("m").code(), Status::Code::kInternal);
  EXPECT_EQ(Status::Internal("m").ToString(), "INTERNAL: m");
}

}  // namespace
}  // namespace tpe
}  // namespace peftsearch
