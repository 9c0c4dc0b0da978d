// Padding in the four ONNX Pad modes, with negative pads cropping.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace nibble {

enum class PadMode {
  kConstant,  // fill with a value
  kReflect,   // mirror without repeating the edge: 1 2 3 -> 3 2 | 1 2 3 | 2 1
  kEdge,      // repeat the edge: 1 2 3 -> 1 1 | 1 2 3 | 3 3
  kWrap,      // continue periodically: 1 2 3 -> 2 3 | 1 2 3 | 1 2
};

// Which element of an axis of size n (n > 0) the padded position p (p < 0 or
// p >= n are in the padding) reads; -1 means the constant. Reflect repeats
// its mirror as often as needed (numpy.pad), so any p is valid.
int64_t PadSourceIndex(int64_t p, int64_t n, PadMode mode);

// out has dims in_shape[d] + begin[d] + end[d] (each >= 0). Negative pads
// first crop that side; then the cropped axis is padded. For modes other
// than kConstant, an axis whose cropped size is 0 must get no padding (the
// caller checks). value points to one element, used by kConstant.
void PadElements(const void* in, void* out, const std::vector<int64_t>& in_shape, const std::vector<int64_t>& begin,
                 const std::vector<int64_t>& end, PadMode mode, const void* value, size_t elem_size);

}  // namespace nibble
