// Every spec in examples/ parses, validates and builds its strategy, so the
// README's examples never rot.
#include <gtest/gtest.h>

#include <dirent.h>

#include <fstream>
#include <sstream>

#include "controller/spec.h"
#include "controller/strategy.h"

namespace peftsearch::controller {
namespace {

TEST(ExamplesTest, EverySpecValidates) {
  const std::string dir = std::string(getenv("TEST_SRCDIR")) + "/peftsearch/examples";
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr) << dir;
  int checked = 0;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() < 5 || name.substr(name.size() - 5) != ".json") continue;
    std::ifstream in(dir + "/" + name);
    std::stringstream text;
    text << in.rdbuf();
    auto spec = ParseStudySpec(text.str());
    ASSERT_TRUE(spec.ok()) << name << ": " << spec.status();
    auto strategy = NewStrategy(*spec);
    EXPECT_TRUE(strategy.ok()) << name << ": " << strategy.status();
    ++checked;
  }
  closedir(d);
  EXPECT_GE(checked, 5);
}

}  // namespace
}  // namespace peftsearch::controller
