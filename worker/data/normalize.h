// ImageNet normalisation of an 8-bit RGB image into planar float (CHW).
// Mean and std on the 0-255 scale are mmpretrain's data preprocessor values,
// used by every MambaPEFT VTAB config (research/vim_mambapeft.md §6.1).
//
// Thread safety: pure function.
#ifndef PEFTSEARCH_WORKER_DATA_NORMALIZE_H_
#define PEFTSEARCH_WORKER_DATA_NORMALIZE_H_

#include "worker/data/image.h"

namespace peftsearch::data {

inline constexpr float kImagenetMean[3] = {123.675f, 116.28f, 103.53f};
inline constexpr float kImagenetStd[3] = {58.395f, 57.12f, 57.375f};

// Writes (pixel - mean[c]) / std[c] for c in R, G, B as 3 planes of
// img.height x img.width floats starting at `chw`.
// REQUIRES: chw has room for 3 * img.height * img.width floats.
void NormalizeImagenet(const Image& img, float* chw);

}  // namespace peftsearch::data

#endif  // PEFTSEARCH_WORKER_DATA_NORMALIZE_H_
