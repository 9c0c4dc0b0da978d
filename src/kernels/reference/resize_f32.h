// Resize (ONNX semantics), nearest and N-linear modes. Each axis is resolved
// once into a table: for every output index, the input index(es) it reads and
// the linear weight; the kernel then walks the output, separable by axis.
#pragma once
#include <cstdint>
#include <vector>

namespace nibble {

enum class ResizeMode { kNearest, kLinear };
enum class ResizeCoord {
  kHalfPixel, kHalfPixelSymmetric, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kTfHalfPixelForNn, kTfCropAndResize
};
enum class ResizeNearest { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };

// One axis of the resize. `length_resized` is the possibly fractional output
// length (in * scale when scales are given; the integer size when sizes are);
// the coordinate formulas of align_corners and half_pixel_symmetric use it.
struct ResizeAxisSpec {
  int64_t in = 1, out = 1;
  double scale = 1, length_resized = 1;
  double roi_start = 0, roi_end = 1;  // tf_crop_and_resize only
};

// The input coordinate output index `x` maps to (ONNX coordinate_transformation_mode).
double ResizeSourceCoordinate(ResizeCoord coord, const ResizeAxisSpec& s, double x);

struct ResizeAxis {
  int64_t in = 1, out = 1;
  std::vector<int64_t> lo, hi;   // input indices, clamped to [0, in); nearest reads lo
  std::vector<double> w;         // linear: weight of hi (lo gets 1 - w); nearest: 0
  std::vector<uint8_t> outside;  // tf_crop_and_resize: 1 where the output takes the extrapolation value
};

// Needs in >= 1 (a resize to a non-empty axis needs input to read).
ResizeAxis MakeResizeAxis(ResizeMode mode, ResizeCoord coord, ResizeNearest nearest, const ResizeAxisSpec& s);

// x: [axes[d].in ...], y: [axes[d].out ...], both row-major. Computes the output
// rows [row_lo, row_hi) of the prod(out[:-1]) rows. Nearest copies elements
// (any T); linear mixes up to 2^rank inputs in double (T float or double).
template <class T>
void ResizeReference(ResizeMode mode, const std::vector<ResizeAxis>& axes, const T* x, T* y,
                     double extrapolation_value, int64_t row_lo, int64_t row_hi);

}  // namespace nibble
