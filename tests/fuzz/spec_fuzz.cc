// Study spec parsing and validation, and building its strategy.
#include <cstddef>
#include <cstdint>
#include <string>

#include "controller/spec.h"
#include "controller/strategy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto spec = peftsearch::controller::ParseStudySpec(text);
  if (spec.ok()) (void)peftsearch::controller::NewStrategy(*spec);
  return 0;
}
