// The safetensors reader on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "worker/model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  (void)peftsearch::model::ParseSafetensors(bytes, "fuzz");
  return 0;
}
