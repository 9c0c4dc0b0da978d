// Depthwise int8 conv: packing, the portable scalar loop (every shape the fast
// paths do not take, and Isa::kScalar), and the dispatch to the per-ISA files.
#include "kernels/x86/dwconv_q8.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <type_traits>

#include "nibble/error.h"

namespace nibble {
namespace {

int32_t PerChannel(const std::vector<int32_t>& v, int64_t m) { return v.empty() ? 0 : v[v.size() == 1 ? 0 : m]; }

// The 2-D view of a 1-D or 2-D geometry (1-D is a single row).
struct Geo2 {
  int64_t ih, iw, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw;
};

Geo2 View2d(const WindowGeometry& g) {
  if (g.in.size() == 1)
    return {1, g.in[0], 1, g.out[0], 1, g.kernel[0], 1, g.stride[0], 1, g.dilation[0], 0, g.pad_begin[0]};
  return {g.in[0],     g.in[1],     g.out[0],       g.out[1],      g.kernel[0],    g.kernel[1],
          g.stride[0], g.stride[1], g.dilation[0], g.dilation[1], g.pad_begin[0], g.pad_begin[1]};
}

// Output columns [lo, hi) whose tap at input offset `off` (ix = ox * sw + off)
// lands inside [0, iw).
void ValidColumns(int64_t off, int64_t sw, int64_t iw, int64_t ow, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
  hi = iw - 1 - off < 0 ? 0 : std::min(ow, (iw - 1 - off) / sw + 1);
  if (lo > hi) lo = hi;
}

// The scalar loop: per output row, for each valid kernel row and column, a
// contiguous (or strided) multiply-add over the output columns the tap covers.
// Accumulates (x - x_zero_point) * (w - w_zero_point) in int32 (exact: Pack
// checked the bound), then Requantize, exactly as ConvQ8Reference.
template <class TX, class TY>
void RunScalar(const DwConvQ8Packed& pk, const ConvQ8Params& p, const TX* x, TY* y, int64_t plane_lo,
               int64_t plane_hi, int32_t lo, int32_t hi) {
  const Geo2 g = View2d(p.geo);
  const int64_t M = pk.out_channels, mult = pk.channel_multiplier, C = p.in_channels;
  const int32_t zx = p.x_zero_point;
  thread_local std::vector<int32_t> acc;
  if (static_cast<int64_t>(acc.size()) < g.ow) acc.resize(g.ow);
  for (int64_t plane = plane_lo; plane < plane_hi; ++plane) {
    const int64_t n = plane / M, m = plane % M, c = m / mult;
    const TX* xp = x + (n * C + c) * g.ih * g.iw;
    TY* yp = y + plane * g.oh * g.ow;
    const int16_t* w = pk.w16.data() + m * g.kh * g.kw;
    const FixedPointMultiplier fm{pk.multiplier[m], pk.shift[m]};
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      std::fill(acc.begin(), acc.begin() + g.ow, pk.bias[m]);
      for (int64_t ky = 0; ky < g.kh; ++ky) {
        const int64_t iy = oy * g.sh - g.ph + ky * g.dh;
        if (iy < 0 || iy >= g.ih) continue;  // padding row: x - x_zero_point == 0
        const TX* row = xp + iy * g.iw;
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          const int32_t wv = w[ky * g.kw + kx];
          const int64_t off = kx * g.dw - g.pw;
          int64_t c0, c1;
          ValidColumns(off, g.sw, g.iw, g.ow, c0, c1);
          for (int64_t ox = c0; ox < c1; ++ox) acc[ox] += (int32_t{row[ox * g.sw + off]} - zx) * wv;
        }
      }
      TY* dst = yp + oy * g.ow;
      for (int64_t ox = 0; ox < g.ow; ++ox) dst[ox] = static_cast<TY>(Requantize(acc[ox], fm, p.y_zero_point, lo, hi));
    }
  }
}

// The byte quads and starting bias of the 3x3 vpdpbusd path for plane m
// (DwConvQ8Packed::q3), from w16 and bias_folded.
void PackQ3Plane(DwConvQ8Packed& pk, int64_t m) {
  const int16_t* w = pk.w16.data() + m * 9;
  if (pk.shift[m] < 33) return;  // q3_fits[m] stays 0: the high-dword requantization needs it
  for (int i = 0; i < 9; ++i)
    if (w[i] < -128 || w[i] > 127) return;
  pk.q3_fits[m] = 1;
  int32_t* q = pk.q3.data() + m * 4;
  int32_t wsum = 0;
  for (int ky = 0; ky < 3; ++ky) {
    uint32_t quad = 0;
    for (int kx = 0; kx < 3; ++kx) quad |= uint32_t{static_cast<uint8_t>(w[3 * ky + kx])} << (8 * kx);
    q[ky] = static_cast<int32_t>(quad);
    wsum += w[3 * ky] + w[3 * ky + 1] + w[3 * ky + 2];
  }
  const uint32_t off = pk.x_signed ? 128u : 0u;  // int8 x enters as x + 128
  q[3] = static_cast<int32_t>(static_cast<uint32_t>(pk.bias_folded[m]) - off * static_cast<uint32_t>(wsum));
}

}  // namespace

bool DwConvQ8Supports(const ConvQ8Params& p) {
  const WindowGeometry& g = p.geo;
  const int64_t r = static_cast<int64_t>(g.in.size());
  if (r < 1 || r > 2 || static_cast<int64_t>(g.out.size()) != r) return false;
  if (p.group != p.in_channels || p.in_channels <= 0 || p.out_channels % p.in_channels != 0) return false;
  if (!(p.multiplier.size() == 1 || static_cast<int64_t>(p.multiplier.size()) == p.out_channels)) return false;
  if (!(p.w_zero_point.size() <= 1 || static_cast<int64_t>(p.w_zero_point.size()) == p.out_channels)) return false;
  return true;
}

bool DwConvQ8FastSupports(const ConvQ8Params& p, Isa isa) {
  if (!DwConvQ8Supports(p) || isa == Isa::kScalar || !IsaSupported(isa)) return false;
  const WindowGeometry& g = p.geo;
  if (g.in.size() != 2) return false;
  const int64_t k = g.kernel[0];
  if (g.kernel[1] != k || (k != 3 && k != 5)) return false;
  if (g.stride[0] != g.stride[1] || (g.stride[0] != 1 && g.stride[0] != 2)) return false;
  if (g.dilation[0] != 1 || g.dilation[1] != 1) return false;
  // Padding is free in the row buffer; keep it sane (ONNX allows any pad, but a
  // pad >= kernel only adds rows/columns of pure padding).
  for (int d = 0; d < 2; ++d)
    if (g.pad_begin[d] < 0 || g.pad_begin[d] > k - 1 || g.pad_end[d] < 0 || g.pad_end[d] > k - 1) return false;
  return g.out[0] > 0 && g.out[1] > 0;
}

template <class TX, class TW>
DwConvQ8Packed PackDwConvQ8(const ConvQ8Params& p, const TW* w, const int32_t* bias, Isa isa) {
  NIBBLE_CHECK(DwConvQ8Supports(p), "DwConvQ8: not a 1-D/2-D depthwise convolution (group ", p.group, ", ",
               p.in_channels, " input and ", p.out_channels, " output channels, ", p.geo.in.size(),
               " spatial dims, ", p.multiplier.size(), " multipliers, ", p.w_zero_point.size(),
               " weight zero points)");
  NIBBLE_CHECK(p.x_zero_point >= std::numeric_limits<TX>::min() && p.x_zero_point <= std::numeric_limits<TX>::max(),
               "DwConvQ8: input zero point ", p.x_zero_point, " is outside the input type");
  if (!IsaSupported(isa)) isa = BestIsa();
  DwConvQ8Packed pk;
  pk.x_signed = std::is_signed_v<TX>;
  pk.out_channels = p.out_channels;
  pk.channel_multiplier = p.out_channels / p.in_channels;
  pk.fast = DwConvQ8FastSupports(p, isa);
  pk.isa = pk.fast ? isa : Isa::kScalar;
  const Geo2 g = View2d(p.geo);
  pk.kh = static_cast<int>(g.kh);
  pk.kw = static_cast<int>(g.kw);
  const int64_t M = p.out_channels, K = g.kh * g.kw, pairs = (g.kw + 1) / 2;
  const int64_t x_max = MaxAbsOffset<TX>(p.x_zero_point);
  pk.w16.resize(M * K);
  pk.bias.resize(M);
  pk.bias_folded.resize(M);
  pk.multiplier.resize(M);
  pk.shift.resize(M);
  pk.narrow.assign(M, 0);
  if (pk.fast) pk.wpair.assign(M * g.kh * pairs, 0);
  const bool q3 = pk.fast && g.kh == 3 && g.kw == 3;
  if (q3) {
    pk.q3.assign(M * 4, 0);
    pk.q3_fits.assign(M, 0);
  }
  for (int64_t m = 0; m < M; ++m) {
    const int32_t zw = PerChannel(p.w_zero_point, m);
    NIBBLE_CHECK(zw >= std::numeric_limits<TW>::min() && zw <= std::numeric_limits<TW>::max(),
                 "DwConvQ8: weight zero point ", zw, " of output channel ", m, " is outside the weight type");
    int64_t w_sum = 0, w_abs = 0;
    for (int64_t k = 0; k < K; ++k) {
      const int32_t v = int32_t{w[m * K + k]} - zw;  // |v| <= 255: fits int16
      pk.w16[m * K + k] = static_cast<int16_t>(v);
      w_sum += v;
      w_abs += std::llabs(v);
    }
    const int64_t b = bias ? bias[m] : 0;
    const int64_t bound = x_max * w_abs + std::llabs(b);
    NIBBLE_CHECK(bound <= std::numeric_limits<int32_t>::max(), "DwConvQ8: output channel ", m,
                 " can overflow the int32 accumulator (worst case ", bound, " over ", K, " products)");
    pk.bias[m] = static_cast<int32_t>(b);
    // The fast paths accumulate raw x * w (padding reads x_zero_point) with
    // wrapping int32 adds; acc + bias fits int32, so subtracting
    // x_zero_point * sum(w) modulo 2^32 recovers it exactly.
    pk.bias_folded[m] = static_cast<int32_t>(static_cast<uint32_t>(b - int64_t{p.x_zero_point} * w_sum));
    const FixedPointMultiplier& fm = p.multiplier[p.multiplier.size() == 1 ? 0 : m];
    NIBBLE_CHECK(fm.shift >= 1 && fm.shift <= 62 && fm.multiplier >= 0, "DwConvQ8: bad multiplier (",
                 fm.multiplier, ", shift ", fm.shift, ") for output channel ", m);
    pk.multiplier[m] = fm.multiplier;
    pk.shift[m] = fm.shift;
    // bound < 2^31 and multiplier < 2^31: the product stays below 2^62.
    pk.narrow[m] = fm.shift >= 33 && fm.shift <= 45 && ((bound * fm.multiplier) >> fm.shift) < (int64_t{1} << 30) - 2;
    if (pk.fast)
      for (int64_t ky = 0; ky < g.kh; ++ky)
        for (int64_t j = 0; j < pairs; ++j) {
          const int64_t kx = 2 * j;
          const uint32_t w0 = static_cast<uint16_t>(pk.w16[m * K + ky * g.kw + kx]);
          const uint32_t w1 = kx + 1 < g.kw ? static_cast<uint16_t>(pk.w16[m * K + ky * g.kw + kx + 1]) : 0u;
          pk.wpair[(m * g.kh + ky) * pairs + j] = static_cast<int32_t>(w0 | (w1 << 16));
        }
    if (q3) PackQ3Plane(pk, m);
  }
  return pk;
}

template <class TX, class TY>
void DwConvQ8Run(const DwConvQ8Packed& pk, const ConvQ8Params& p, const TX* x, TY* y, int64_t plane_lo,
                 int64_t plane_hi) {
  NIBBLE_CHECK(pk.x_signed == std::is_signed_v<TX> && pk.out_channels == p.out_channels,
               "DwConvQ8Run: packed for another input type or channel count");
  int32_t lo = p.y_min, hi = p.y_max;
  IntersectWithTypeRange<TY>(lo, hi);
  if (!pk.fast || pk.isa == Isa::kScalar) {
    RunScalar(pk, p, x, y, plane_lo, plane_hi, lo, hi);
    return;
  }
  const WindowGeometry& g = p.geo;
  dwq8_detail::FastArgs a{&pk,         g.in[0],        g.in[1],        g.out[0],       g.out[1], g.pad_begin[0],
                          g.pad_begin[1], p.in_channels, p.x_zero_point, p.y_zero_point, lo,       hi};
  const int k = static_cast<int>(g.kernel[0]), s = static_cast<int>(g.stride[0]);
  if (pk.isa >= Isa::kAvx512Vnni) dwq8_detail::RunAvx512(a, x, y, plane_lo, plane_hi, k, s);
  else dwq8_detail::RunAvx2(a, x, y, plane_lo, plane_hi, k, s);
}

#define NIBBLE_DWQ8_PACK(TX, TW) \
  template DwConvQ8Packed PackDwConvQ8<TX, TW>(const ConvQ8Params&, const TW*, const int32_t*, Isa);
NIBBLE_DWQ8_PACK(uint8_t, int8_t)
NIBBLE_DWQ8_PACK(int8_t, int8_t)
NIBBLE_DWQ8_PACK(uint8_t, uint8_t)
NIBBLE_DWQ8_PACK(int8_t, uint8_t)
#undef NIBBLE_DWQ8_PACK
#define NIBBLE_DWQ8_RUN(TX, TY)                                                                                \
  template void DwConvQ8Run<TX, TY>(const DwConvQ8Packed&, const ConvQ8Params&, const TX*, TY*, int64_t, \
                                    int64_t);
NIBBLE_DWQ8_RUN(uint8_t, uint8_t)
NIBBLE_DWQ8_RUN(uint8_t, int8_t)
NIBBLE_DWQ8_RUN(int8_t, uint8_t)
NIBBLE_DWQ8_RUN(int8_t, int8_t)
#undef NIBBLE_DWQ8_RUN

}  // namespace nibble
