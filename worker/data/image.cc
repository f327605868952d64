#include "worker/data/image.h"

#include <climits>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "worker/data/file_util.h"

// The one stb_image implementation of the project. STB_IMAGE_STATIC keeps its
// symbols local to this file, so it cannot clash with Debian's libstb.so if
// another target links it.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_PNM
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#include <stb/stb_image.h>

namespace peftsearch::data {

absl::StatusOr<Image> DecodeImage(std::string_view bytes,
                                  const std::string& source) {
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": image file too large (", bytes.size(), " bytes)"));
  }
  int w = 0, h = 0, channels_in_file = 0;
  // Asking for 3 components makes stb replicate gray and drop alpha.
  stbi_uc* pixels = stbi_load_from_memory(
      reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()),
      &w, &h, &channels_in_file, 3);
  if (pixels == nullptr) {
    const char* why = stbi_failure_reason();
    return absl::DataLossError(absl::StrCat(source, ": cannot decode image (",
                                            why ? why : "unknown reason", ")"));
  }
  Image img;
  if (w <= 0 || h <= 0) {
    stbi_image_free(pixels);
    return absl::InvalidArgumentError(absl::StrCat(source, ": image has zero size"));
  }
  img.width = w;
  img.height = h;
  img.rgb.assign(pixels, pixels + static_cast<size_t>(w) * h * 3);
  stbi_image_free(pixels);
  return img;
}

absl::StatusOr<Image> DecodeImageFile(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadWholeFile(path);
  if (!bytes.ok()) return bytes.status();
  return DecodeImage(*bytes, path);
}

}  // namespace peftsearch::data
