#include "worker/daemon/eval_builtin.h"

#include <sstream>

#include "gtest/gtest.h"

namespace peftsearch::daemon {
namespace {

struct EvalRun {
  int code;
  std::string out, err;
  int slept_ms = 0;
};

EvalRun Eval(const EvalBuiltinOptions& options) {
  std::ostringstream out, err;
  EvalRun r;
  r.code = RunEvalBuiltin(options, out, err, [&r](int ms) { r.slept_ms += ms; });
  r.out = out.str();
  r.err = err.str();
  return r;
}

TEST(EvalBuiltinTest, FinalValueOnly) {
  EvalRun r = Eval({"sphere", R"({"x0": 3, "x1": 4, "opt": "adam"})", 0, 0, ""});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"value\": 25.0}\n");
}

TEST(EvalBuiltinTest, ProgressConvergesToValueAndSleepsInTotal) {
  EvalRun r = Eval({"sphere", R"({"x0": 1})", 100, 4, ""});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "{\"step\": 1, \"value\": 1.75}\n"
            "{\"step\": 2, \"value\": 1.5}\n"
            "{\"step\": 3, \"value\": 1.25}\n"
            "{\"step\": 4, \"value\": 1.0}\n"
            "{\"value\": 1.0}\n");
  EXPECT_EQ(r.slept_ms, 100);
}

TEST(EvalBuiltinTest, BadInvocationExits2WithMessage) {
  EvalRun r = Eval({"branin", R"({"x": 1})", 0, 0, ""});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("'y'"), std::string::npos) << r.err;

  r = Eval({"nope", "{}", 0, 0, ""});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown builtin function 'nope'"), std::string::npos) << r.err;

  r = Eval({"sphere", "[1]", 0, 0, ""});
  EXPECT_EQ(r.code, 2);
}

TEST(EvalBuiltinTest, FailIfParamAfterSteps) {
  EvalRun r = Eval({"sphere", R"({"x0": 6})", 0, 5, R"({"param": "x0", "gt": 5, "after_step": 2})"});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.out, "{\"step\": 1, \"value\": 36.8}\n{\"step\": 2, \"value\": 36.6}\n");
  EXPECT_NE(r.err.find("fail_if: x0=6.0 gt 5"), std::string::npos) << r.err;

  r = Eval({"sphere", R"({"x0": 4})", 0, 0, R"({"param": "x0", "gt": 5})"});
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST(EvalBuiltinTest, FailIfForms) {
  ParamValues p = {{"x", 2}};
  EXPECT_TRUE(EvaluateFailIf(R"({"always": true})", p)->triggered);
  EXPECT_FALSE(EvaluateFailIf("", p)->triggered);
  EXPECT_TRUE(EvaluateFailIf(R"({"param": "x", "eq": 2})", p)->triggered);
  EXPECT_TRUE(EvaluateFailIf(R"({"param": "x", "le": 2})", p)->triggered);
  EXPECT_FALSE(EvaluateFailIf(R"({"param": "x", "lt": 2})", p)->triggered);
  EXPECT_EQ(EvaluateFailIf(R"({"param": "y", "lt": 2})", p).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EvaluateFailIf(R"({"param": "x"})", p).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EvaluateFailIf(R"([1])", p).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace peftsearch::daemon
