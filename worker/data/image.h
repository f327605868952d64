// An 8-bit RGB image and its decoder (stb_image: JPEG, PNG, PPM/PGM, BMP).
// Decoded images are always 3-channel RGB: grayscale is replicated into the
// three channels, alpha is dropped. This matches the MambaPEFT pipeline, whose
// LoadImageFromFile reads 3-channel BGR that the preprocessor turns back to RGB
// (research/vim_mambapeft.md §6.1): the net order is the file's RGB.
//
// Thread safety: decoding is reentrant (stb keeps its failure reason
// thread-local); an Image is a plain value.
#ifndef PEFTSEARCH_WORKER_DATA_IMAGE_H_
#define PEFTSEARCH_WORKER_DATA_IMAGE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace peftsearch::data {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // height * width * 3, row-major, interleaved RGB

  uint8_t at(int y, int x, int c) const {
    return rgb[(static_cast<size_t>(y) * width + x) * 3 + c];
  }
};

// Decodes encoded bytes. `source` names the image in error messages.
// DATA_LOSS naming `source` and stb's reason if the bytes are not a
// supported, intact image; INVALID_ARGUMENT if it decodes to zero size.
absl::StatusOr<Image> DecodeImage(std::string_view bytes,
                                  const std::string& source);

// Reads and decodes the file at `path`: NOT_FOUND (etc., see ReadWholeFile)
// if it cannot be read, else as DecodeImage.
absl::StatusOr<Image> DecodeImageFile(const std::string& path);

}  // namespace peftsearch::data

#endif  // PEFTSEARCH_WORKER_DATA_IMAGE_H_
