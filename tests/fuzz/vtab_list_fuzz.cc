// The VTAB-1k (NOAH layout) list parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "worker/data/list_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)peftsearch::data::ParseList(text, "fuzz.txt");
  return 0;
}
