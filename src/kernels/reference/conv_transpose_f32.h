// Float transposed convolution (ONNX ConvTranspose), NCHW, 1 to 3 spatial
// dims, grouped, dilated: the adjoint of Conv. Input position i and kernel tap
// k add x[i] * w[k] into output position i * stride - pad_begin + k * dilation
// when that lies inside the output.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nibble {

struct ConvTransposeParams {
  int64_t batch = 1, in_channels = 0, out_channels = 0, group = 1;
  // Per spatial axis. pad_begin may be negative (an output_shape larger than
  // the natural size).
  std::vector<int64_t> in, out, kernel, stride, dilation, pad_begin;
  int64_t in_size() const;
  int64_t out_size() const;
  int64_t kernel_size() const;
};

// Fills out and pad_begin (and defaults for empty stride/dilation) from ONNX's
// attributes, following the spec: explicit pads give
//   out = stride * (in - 1) + output_padding + (kernel - 1) * dilation + 1 - pad_begin - pad_end;
// output_shape (spatial, or with N and C in front) or SAME_UPPER/SAME_LOWER
// (out = in * stride) fix the output size and split the total padding, the
// odd unit at the end for SAME_UPPER and at the beginning otherwise. Fails
// with a reason on inconsistent attributes.
void ComputeConvTransposeWindow(ConvTransposeParams& p, const std::vector<int64_t>& pads,
                                const std::vector<int64_t>& output_padding, const std::vector<int64_t>& output_shape,
                                const std::string& auto_pad);

// Ground truth: the scatter loop above, accumulated in double.
// x: [N, C, *in], w: [C, M/group, *kernel], bias: [M] or nullptr, y: [N, M, *out].
void ConvTransposeF32Reference(const ConvTransposeParams& p, const float* x, const float* w, const float* bias,
                               float* y);

}  // namespace nibble
