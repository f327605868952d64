// Test helper: a StudyEngine over an in-memory TrialStore, the starting point
// of the engine, service and dashboard tests that need no file.
#ifndef PEFTSEARCH_CONTROLLER_ENGINE_TEST_UTIL_H_
#define PEFTSEARCH_CONTROLLER_ENGINE_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <memory>

#include "controller/study_engine.h"

namespace peftsearch::controller {

// Null (with a test failure recorded) when the store or engine cannot open.
inline std::unique_ptr<StudyEngine> NewMemoryEngine(EngineOptions options = {}) {
  auto store = storage::TrialStore::Open(":memory:");
  if (!store.ok()) {
    ADD_FAILURE() << store.status();
    return nullptr;
  }
  auto engine = StudyEngine::Open(std::move(*store), std::move(options));
  if (!engine.ok()) {
    ADD_FAILURE() << engine.status();
    return nullptr;
  }
  return std::move(*engine);
}

}  // namespace peftsearch::controller

#endif  // PEFTSEARCH_CONTROLLER_ENGINE_TEST_UTIL_H_
