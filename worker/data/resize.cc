#include "worker/data/resize.h"

#include <cassert>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace peftsearch::data {
namespace {

// Pillow's Resample.c keeps 8 bits of pixel, 2 of headroom, the rest for the
// fraction of a tap.
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr double kSupport = 2.0;  // bicubic: |x| < 2

double BicubicFilter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// For each output index, the first input index, the tap count and ksize
// fixed-point taps (Pillow's precompute_coeffs + normalize_coeffs_8bpc).
struct Coeffs {
  int ksize = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> taps;
};

Coeffs ComputeCoeffs(int in_size, int out_size) {
  Coeffs c;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = kSupport * filterscale;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.taps.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> k(c.ksize);
  const double ss = 1.0 / filterscale;
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    // (int) truncates toward zero, as in C; Pillow relies on that.
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = BicubicFilter((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (int x = 0; x < xmax; ++x) {
      if (ww != 0.0) k[x] /= ww;
      const double v = k[x] * (1 << kPrecisionBits);
      c.taps[static_cast<size_t>(xx) * c.ksize + x] =
          k[x] < 0 ? static_cast<int32_t>(-0.5 + v) : static_cast<int32_t>(0.5 + v);
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

uint8_t Clip8(int32_t v) {
  if (v >= (1 << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return static_cast<uint8_t>(v >> kPrecisionBits);
}

// The horizontal pass over `lines` rows of interleaved RGB.
void ResampleRows(const uint8_t* in, uint8_t* out, const Coeffs& c, int out_len,
                  int lines, size_t line_step_in, size_t line_step_out) {
  constexpr size_t stride_in = 3, stride_out = 3;
  for (int line = 0; line < lines; ++line) {
    const uint8_t* src = in + line * line_step_in;
    uint8_t* dst = out + line * line_step_out;
    for (int xx = 0; xx < out_len; ++xx) {
      const int32_t* k = &c.taps[static_cast<size_t>(xx) * c.ksize];
      const uint8_t* p = src + c.first[xx] * stride_in;
      int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;  // rounding
      for (int x = 0; x < c.count[xx]; ++x, p += stride_in) {
        s0 += p[0] * k[x];
        s1 += p[1] * k[x];
        s2 += p[2] * k[x];
      }
      uint8_t* q = dst + xx * stride_out;
      q[0] = Clip8(s0);
      q[1] = Clip8(s1);
      q[2] = Clip8(s2);
    }
  }
}

}  // namespace

Image ResizeBicubicPil(const Image& in, int out_width, int out_height) {
  assert(in.width > 0 && in.height > 0 && out_width > 0 && out_height > 0);
  if (in.width == out_width && in.height == out_height) return in;

  // Pillow skips a pass whose axis keeps its size; an 8-bit round trip
  // through identity taps would not be exact otherwise.
  Image cur = in;
  if (out_width != in.width) {
    const Coeffs c = ComputeCoeffs(in.width, out_width);
    Image tmp;
    tmp.width = out_width;
    tmp.height = cur.height;
    tmp.rgb.resize(static_cast<size_t>(tmp.width) * tmp.height * 3);
    ResampleRows(cur.rgb.data(), tmp.rgb.data(), c, out_width, cur.height,
                 static_cast<size_t>(cur.width) * 3, static_cast<size_t>(tmp.width) * 3);
    cur = std::move(tmp);
  }
  if (out_height != in.height) {
    const Coeffs c = ComputeCoeffs(in.height, out_height);
    Image tmp;
    tmp.width = cur.width;
    tmp.height = out_height;
    tmp.rgb.resize(static_cast<size_t>(tmp.width) * tmp.height * 3);
    // Output rows outer, so that each tap reads one contiguous input row.
    const size_t row = static_cast<size_t>(cur.width) * 3;
    for (int yy = 0; yy < out_height; ++yy) {
      const int32_t* k = &c.taps[static_cast<size_t>(yy) * c.ksize];
      const uint8_t* base = cur.rgb.data() + c.first[yy] * row;
      uint8_t* dst = tmp.rgb.data() + yy * row;
      for (size_t i = 0; i < row; ++i) {
        int32_t s = 1 << (kPrecisionBits - 1);
        const uint8_t* p = base + i;
        for (int y = 0; y < c.count[yy]; ++y, p += row) s += *p * k[y];
        dst[i] = Clip8(s);
      }
    }
    cur = std::move(tmp);
  }
  return cur;
}

}  // namespace peftsearch::data
