// Antialiased bicubic resize that reproduces Pillow's Image.resize(size,
// Image.BICUBIC) on 8-bit RGB images bit for bit: cubic convolution with
// a = -0.5, support widened by the downscale factor (antialiasing), 22-bit
// fixed-point taps, horizontal pass first into an 8-bit intermediate, then
// vertical. MambaPEFT resizes VTAB images this way (mmpretrain Resize,
// backend='pillow', research/vim_mambapeft.md §6.1), ignoring aspect ratio.
//
// Thread safety: pure function.
#ifndef PEFTSEARCH_WORKER_DATA_RESIZE_H_
#define PEFTSEARCH_WORKER_DATA_RESIZE_H_

#include "worker/data/image.h"

namespace peftsearch::data {

// Returns `in` resized to out_width x out_height. An unchanged size returns a
// copy (Pillow does the same). REQUIRES: out_width > 0, out_height > 0,
// in.width > 0, in.height > 0.
Image ResizeBicubicPil(const Image& in, int out_width, int out_height);

}  // namespace peftsearch::data

#endif  // PEFTSEARCH_WORKER_DATA_RESIZE_H_
