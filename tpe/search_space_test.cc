#include "tpe/search_space.h"

#include <gtest/gtest.h>

#include "tpe/test_util.h"

namespace peftsearch {
namespace tpe {
namespace {

using testing::Cat;
using testing::Float;
using testing::Int;
using testing::When;

void ExpectInvalid(const SearchSpace& space, const std::string& message) {
  Status s = ValidateSearchSpace(space);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_EQ(s.message(), message);
}

TEST(ValidateSearchSpaceTest, AcceptsWellFormedSpace) {
  SearchSpace space{{Float("lr", 1e-5, 1, true), Int("layers", 1, 4), Int("units", 8, 1024, true),
                     Float("dropout", 0, 0.5, false, 0.05), Cat("opt", 3),
                     When(Float("momentum", 0, 0.99), "opt", {0}), Float("const", 2, 2)}};
  EXPECT_TRUE(ValidateSearchSpace(space).ok()) << ValidateSearchSpace(space).ToString();
}

TEST(ValidateSearchSpaceTest, NamesParamAndField) {
  ExpectInvalid({{Float("lr", 0, 1, true)}}, "param 'lr': low (0) must be > 0 when log");
  ExpectInvalid({{Float("x", 2, 1)}}, "param 'x': low (2) must be <= high (1)");
  ExpectInvalid({{Float("x", 0.1, 1, true, 0.1)}}, "param 'x': step (0.1) must be 0 when log");
  ExpectInvalid({{Float("x", 0, 1, false, -1)}}, "param 'x': step (-1) must be >= 0");
  ExpectInvalid({{Int("n", 0.5, 3)}}, "param 'n': low (0.5) must be an integer");
  ExpectInvalid({{Int("n", 1, 3, false, 1.5)}}, "param 'n': step (1.5) must be an integer");
  ExpectInvalid({{Int("n", 0, 8, true)}}, "param 'n': low (0) must be >= 1 when log");
  ExpectInvalid({{Int("n", 1, 8, true, 2)}}, "param 'n': step (2) must be 1 when log");
  ExpectInvalid({{Cat("c", 0)}}, "param 'c': num_choices (0) must be >= 1");
  ExpectInvalid({{Float("x", 0, 1), Float("x", 0, 2)}}, "param 'x': name is used twice");
  ExpectInvalid({{Float("", 0, 1)}}, "a parameter has an empty name");
  ExpectInvalid({{}}, "search space has no parameters");
}

TEST(ValidateSearchSpaceTest, ChecksConditions) {
  ExpectInvalid({{When(Float("m", 0, 1), "opt", {0}), Cat("opt", 2)}},
                "param 'm': condition.parent 'opt' must be a parameter listed before it");
  ExpectInvalid({{Cat("opt", 2), When(Float("m", 0, 1), "opt", {2})}},
                "param 'm': condition.parent_values: 2 is not a value of 'opt'");
  ExpectInvalid({{Cat("opt", 2), When(Float("m", 0, 1), "opt", {})}},
                "param 'm': condition.parent_values is empty");
  ExpectInvalid({{When(Float("m", 0, 1), "m", {0})}},
                "param 'm': condition.parent names the parameter itself");
}

TEST(IsActiveTest, FollowsParentValue) {
  ParamSpec m = When(Float("m", 0, 1), "opt", {0, 2});
  EXPECT_TRUE(IsActive(Float("x", 0, 1), {}));
  EXPECT_FALSE(IsActive(m, {}));
  EXPECT_TRUE(IsActive(m, {{"opt", 0}}));
  EXPECT_FALSE(IsActive(m, {{"opt", 1}}));
  EXPECT_TRUE(IsActive(m, {{"opt", 2}}));
}

TEST(DistributionHelpersTest, GridsAndSnapping) {
  Distribution step = Float("d", 0, 0.5, false, 0.05).distribution;
  EXPECT_EQ(NumGridPoints(step), 11);
  EXPECT_NEAR(GridValue(step, 10), 0.5, 1e-12);
  EXPECT_NEAR(Snap(step, 0.26), 0.25, 1e-12);
  EXPECT_TRUE(Contains(step, 0.15));
  EXPECT_FALSE(Contains(step, 0.151));
  // A step that does not divide the range: the grid stops below high.
  Distribution odd = Int("n", 0, 10, false, 3).distribution;
  EXPECT_EQ(NumGridPoints(odd), 4);
  EXPECT_EQ(Snap(odd, 10), 9);
  EXPECT_EQ(NumGridPoints(Float("x", 0, 1).distribution), 0);
  EXPECT_TRUE(IsSingle(Float("x", 3, 3).distribution));
  EXPECT_TRUE(IsSingle(Int("n", 3, 3).distribution));
  EXPECT_TRUE(IsSingle(Cat("c", 1).distribution));
  EXPECT_FALSE(IsSingle(Cat("c", 2).distribution));
  EXPECT_EQ(Snap(Cat("c", 3).distribution, 7), 2);
}

}  // namespace
}  // namespace tpe
}  // namespace peftsearch
