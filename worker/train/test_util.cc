#include "worker/train/test_util.h"

#include <cstdio>
#include <cstdlib>

namespace peftsearch::train {

const std::string& TinyMiniVtabRoot() {
  static const std::string* root = [] {
    const char* tmp = std::getenv("TEST_TMPDIR");
    auto* r = new std::string(std::string(tmp ? tmp : "/tmp") + "/mini_vtab");
    // Bazel runs tests in the runfiles tree, where the maker sits at its
    // workspace path.
    const std::string cmd = "/usr/bin/python3 tools/make_mini_vtab --root " + *r +
                            " --train 160 --val 100 --test 50 --size 16 --tasks fashion_mnist "
                            "digits shapes_count shapes_loc shapes_ori > /dev/null";
    if (std::system(cmd.c_str()) != 0) {
      std::fprintf(stderr, "test_util: failed: %s\n", cmd.c_str());
      std::abort();
    }
    return r;
  }();
  return *root;
}

nlohmann::json TinyTrial(const nlohmann::json& tasks) {
  return {
      {"backbone",
       {{"img_size", 16}, {"patch_size", 4}, {"stride", 4}, {"embed_dim", 32}, {"depth", 2}}},
      {"weights", {{"random_init", 0}}},
      {"tasks", tasks},
      {"data_root", TinyMiniVtabRoot()},
      {"recipe",
       {{"epochs", 2}, {"warmup_epochs", 0}, {"drop_path", 0.0}, {"lr", 1e-2}, {"batch_size", 16}}},
      {"threads", 2}};
}

}  // namespace peftsearch::train
