// Every pair of the 20 methods (190 combinations) applies to a Vim and trains
// one step: the backbone stays untouched and both methods get a gradient and
// move (test_util.h ExpectOnlyPeftAndHeadChange). A 2-layer Vim on 16x16
// images with batch 2 keeps this to seconds.
#include <gtest/gtest.h>

#include "worker/peft/peft.h"
#include "worker/peft/test_util.h"

namespace peftsearch {
namespace peft {
namespace {

TEST(Pairs, EveryPairAppliesAndTrainsOneStep) {
  const std::vector<std::string>& names = MethodNames();
  ASSERT_EQ(names.size(), 20u);
  int pairs = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    for (size_t j = i + 1; j < names.size(); ++j) {
      nlohmann::json c = {{names[i], nlohmann::json::object()},
                          {names[j], nlohmann::json::object()}};
      SCOPED_TRACE(c.dump());
      testing::ExpectOnlyPeftAndHeadChange(c, 1000 + pairs);
      ++pairs;
    }
  }
  EXPECT_EQ(pairs, 190);
}

}  // namespace
}  // namespace peft
}  // namespace peftsearch
