#include "worker/daemon/lease_registry.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peftsearch::daemon {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(LeaseRegistryTest, TracksTokensAndFirstStopReason) {
  LeaseRegistry r;
  r.Add("b");
  r.Add("a");
  EXPECT_THAT(r.Tokens(), ElementsAre("a", "b"));
  EXPECT_EQ(r.StopReason("a"), "");
  r.RequestStop("a", "cancelled");
  r.RequestStop("a", "lease_invalid");
  EXPECT_EQ(r.StopReason("a"), "cancelled");
  EXPECT_EQ(r.StopReason("b"), "");
  r.RequestStop("zzz", "cancelled");  // not ours: ignored
  EXPECT_THAT(r.Tokens(), ElementsAre("a", "b"));
  r.Remove("a");
  r.Remove("b");
  EXPECT_THAT(r.Tokens(), IsEmpty());
  EXPECT_EQ(r.StopReason("a"), "");
}

}  // namespace
}  // namespace peftsearch::daemon
