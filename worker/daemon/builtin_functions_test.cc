#include "worker/daemon/builtin_functions.h"

#include <cmath>

#include "gtest/gtest.h"

namespace peftsearch::daemon {
namespace {

constexpr double kPi = 3.14159265358979323846;

double MustEval(const std::string& f, const ParamValues& p) {
  absl::StatusOr<double> v = EvaluateBuiltin(f, p);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : NAN;
}

TEST(BuiltinFunctionsTest, BraninMinimaAtAllThreeMinimisers) {
  EXPECT_NEAR(MustEval("branin", {{"x", -kPi}, {"y", 12.275}}), 0.397887, 1e-6);
  EXPECT_NEAR(MustEval("branin", {{"x", kPi}, {"y", 2.275}}), 0.397887, 1e-6);
  EXPECT_NEAR(MustEval("branin", {{"x", 9.42478}, {"y", 2.475}}), 0.397887, 1e-6);
  EXPECT_GT(MustEval("branin", {{"x", 0}, {"y", 0}}), 0.397887);
}

TEST(BuiltinFunctionsTest, Hartmann6GlobalMinimum) {
  ParamValues p = {{"x0", 0.20169},  {"x1", 0.150011}, {"x2", 0.476874},
                   {"x3", 0.275332}, {"x4", 0.311652}, {"x5", 0.6573}};
  EXPECT_NEAR(MustEval("hartmann6", p), -3.32237, 1e-5);
}

TEST(BuiltinFunctionsTest, NDimensionalMinima) {
  EXPECT_DOUBLE_EQ(MustEval("rosenbrock", {{"x0", 1}, {"x1", 1}, {"x2", 1}}), 0.0);
  EXPECT_DOUBLE_EQ(MustEval("rosenbrock", {{"x0", 0}, {"x1", 0}}), 1.0);
  EXPECT_DOUBLE_EQ(MustEval("sphere", {{"x0", 0}, {"x1", 0}}), 0.0);
  EXPECT_DOUBLE_EQ(MustEval("sphere", {{"x0", 3}, {"x1", 4}}), 25.0);
  EXPECT_NEAR(MustEval("styblinski_tang", {{"x0", -2.903534}, {"x1", -2.903534}}),
              -39.16617 * 2, 1e-4);
  EXPECT_DOUBLE_EQ(MustEval("quadratic", {{"x0", 2}}), 0.0);
  EXPECT_DOUBLE_EQ(MustEval("quadratic", {{"x0", 0}, {"x1", 3}}), 5.0);
}

TEST(BuiltinFunctionsTest, ExtraParamsAreIgnored) {
  EXPECT_DOUBLE_EQ(MustEval("sphere", {{"x0", 1}, {"lr", 0.1}, {"xy", 7}}), 1.0);
}

TEST(BuiltinFunctionsTest, MissingParamIsNamed) {
  absl::StatusOr<double> v = EvaluateBuiltin("branin", {{"x", 1}});
  ASSERT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find("'y'"), std::string::npos) << v.status();

  v = EvaluateBuiltin("sphere", {{"x0", 1}, {"x2", 1}});
  ASSERT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find("'x1'"), std::string::npos) << v.status();

  v = EvaluateBuiltin("rosenbrock", {{"x0", 1}});
  ASSERT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find("'x1'"), std::string::npos) << v.status();

  v = EvaluateBuiltin("hartmann6", {{"x0", 1}});
  ASSERT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find("'x1'"), std::string::npos) << v.status();

  v = EvaluateBuiltin("sphere", {});
  ASSERT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find("'x0'"), std::string::npos) << v.status();
}

TEST(BuiltinFunctionsTest, UnknownFunctionListsKnownOnes) {
  absl::StatusOr<double> v = EvaluateBuiltin("ackley", {{"x0", 1}});
  ASSERT_EQ(v.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(v.status().message().find("branin"), std::string::npos);
}

}  // namespace
}  // namespace peftsearch::daemon
