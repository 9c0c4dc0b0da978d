#include "kernels/reference/conv_transpose_f32.h"

#include "nibble/error.h"

namespace nibble {
namespace {

int64_t Product(const std::vector<int64_t>& v) {
  int64_t n = 1;
  for (int64_t d : v) n *= d;
  return n;
}

int64_t FloorDiv2(int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

}  // namespace

int64_t ConvTransposeParams::in_size() const { return Product(in); }
int64_t ConvTransposeParams::out_size() const { return Product(out); }
int64_t ConvTransposeParams::kernel_size() const { return Product(kernel); }

void ComputeConvTransposeWindow(ConvTransposeParams& p, const std::vector<int64_t>& pads,
                                const std::vector<int64_t>& output_padding, const std::vector<int64_t>& output_shape,
                                const std::string& auto_pad) {
  const size_t r = p.in.size();
  NIBBLE_CHECK(p.kernel.size() == r, "kernel has ", p.kernel.size(), " dims for ", r, " spatial dims");
  if (p.stride.empty()) p.stride.assign(r, 1);
  if (p.dilation.empty()) p.dilation.assign(r, 1);
  NIBBLE_CHECK(p.stride.size() == r && p.dilation.size() == r, "strides/dilations must have ", r, " values");
  NIBBLE_CHECK(output_padding.empty() || output_padding.size() == r, "output_padding must have ", r, " values, got ",
               output_padding.size());
  NIBBLE_CHECK(pads.empty() || pads.size() == 2 * r, "pads must have ", 2 * r, " values, got ", pads.size());
  NIBBLE_CHECK(output_shape.empty() || output_shape.size() == r || output_shape.size() == r + 2,
               "output_shape must have ", r, " (or ", r + 2, ") values, got ", output_shape.size());
  const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
  NIBBLE_CHECK(same || auto_pad == "NOTSET" || auto_pad == "VALID" || auto_pad.empty(), "unknown auto_pad '",
               auto_pad, "'");
  p.out.assign(r, 0);
  p.pad_begin.assign(r, 0);
  for (size_t i = 0; i < r; ++i) {
    NIBBLE_CHECK(p.stride[i] > 0 && p.dilation[i] > 0 && p.kernel[i] > 0 && p.in[i] > 0,
                 "kernel, strides, dilations and input sizes must be positive");
    const int64_t adj = output_padding.empty() ? 0 : output_padding[i];
    NIBBLE_CHECK(adj >= 0 && (adj < p.stride[i] || adj < p.dilation[i]), "output_padding ", adj,
                 " must be non-negative and smaller than the stride or the dilation");
    const int64_t natural = p.stride[i] * (p.in[i] - 1) + adj + (p.kernel[i] - 1) * p.dilation[i] + 1;
    if (!output_shape.empty() || same) {
      p.out[i] = !output_shape.empty() ? output_shape[output_shape.size() - r + i] : p.in[i] * p.stride[i];
      const int64_t total = natural - p.out[i];
      p.pad_begin[i] = auto_pad == "SAME_UPPER" ? FloorDiv2(total) : total - FloorDiv2(total);
    } else {
      int64_t begin = 0, end = 0;
      if (!pads.empty() && auto_pad != "VALID") {
        begin = pads[i];
        end = pads[i + r];
      }
      NIBBLE_CHECK(begin >= 0 && end >= 0, "pads must be non-negative");
      p.pad_begin[i] = begin;
      p.out[i] = natural - begin - end;
    }
    NIBBLE_CHECK(p.out[i] > 0, "the output size on spatial axis ", i, " would be ", p.out[i]);
  }
}

void ConvTransposeF32Reference(const ConvTransposeParams& p, const float* x, const float* w, const float* bias,
                               float* y) {
  const int64_t r = static_cast<int64_t>(p.in.size());
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group;
  const int64_t in_sz = p.in_size(), out_sz = p.out_size(), k_sz = p.kernel_size();
  std::vector<int64_t> i_idx(r), k_idx(r);
  std::vector<double> acc(out_sz);
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t m = 0; m < p.out_channels; ++m) {
      const int64_t grp = m / mg, mm = m % mg;
      acc.assign(out_sz, bias ? bias[m] : 0.0);
      for (int64_t c = grp * cg; c < (grp + 1) * cg; ++c)
        for (int64_t i = 0; i < in_sz; ++i) {
          for (int64_t t = i, d = r - 1; d >= 0; --d) {
            i_idx[d] = t % p.in[d];
            t /= p.in[d];
          }
          const double xv = x[(n * p.in_channels + c) * in_sz + i];
          for (int64_t k = 0; k < k_sz; ++k) {
            for (int64_t t = k, d = r - 1; d >= 0; --d) {
              k_idx[d] = t % p.kernel[d];
              t /= p.kernel[d];
            }
            int64_t off = 0;
            bool inside = true;
            for (int64_t d = 0; d < r && inside; ++d) {
              const int64_t pos = i_idx[d] * p.stride[d] - p.pad_begin[d] + k_idx[d] * p.dilation[d];
              inside = pos >= 0 && pos < p.out[d];
              off = off * p.out[d] + pos;
            }
            if (inside) acc[off] += xv * w[(c * mg + mm) * k_sz + k];
          }
        }
      float* yp = y + (n * p.out_channels + m) * out_sz;
      for (int64_t o = 0; o < out_sz; ++o) yp[o] = static_cast<float>(acc[o]);
    }
}

}  // namespace nibble
