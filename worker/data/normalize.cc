#include "worker/data/normalize.h"

#include <cstddef>

namespace peftsearch::data {

void NormalizeImagenet(const Image& img, float* chw) {
  const size_t plane = static_cast<size_t>(img.width) * img.height;
  for (int c = 0; c < 3; ++c) {
    // Multiply by the reciprocal would differ from torch's (x - m) / s in the
    // last bit; divide so that Python references compare exactly.
    const float mean = kImagenetMean[c];
    const float std = kImagenetStd[c];
    float* out = chw + c * plane;
    for (size_t i = 0; i < plane; ++i) {
      out[i] = (static_cast<float>(img.rgb[i * 3 + c]) - mean) / std;
    }
  }
}

}  // namespace peftsearch::data
