// Test helpers: a tiny mini-VTAB made once per test process with
// tools/make_mini_vtab (a data dependency of the test), and the small trial
// the trainer tests run. Testonly.
#ifndef PEFTSEARCH_WORKER_TRAIN_TEST_UTIL_H_
#define PEFTSEARCH_WORKER_TRAIN_TEST_UTIL_H_

#include <nlohmann/json.hpp>
#include <string>

namespace peftsearch::train {

// <TEST_TMPDIR>/mini_vtab: the five tasks, train800 160, val200 100, test 50,
// 16x16 images, seed 0. Aborts the test binary if the maker fails.
const std::string& TinyMiniVtabRoot();

// A 2-epoch linear-probing trial over `tasks` of TinyMiniVtabRoot() on a
// random-init Vim (16 px, patch 4, D 32, depth 2): no warm-up, no drop path,
// lr 1e-2, batch 16, 2 threads.
nlohmann::json TinyTrial(const nlohmann::json& tasks);

}  // namespace peftsearch::train

#endif  // PEFTSEARCH_WORKER_TRAIN_TEST_UTIL_H_
