// Convolution driver over the int8 GEMM micro-kernels: weights packed once,
// activation panels gathered per task from NCHW input (implicit im2col).
#include "kernels/x86/conv_q8_fast.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "kernels/x86/gemm_q8_microkernel.h"
#include "kernels/x86/gemm_q8_pack.h"
#include "nibble/error.h"

namespace nibble {
namespace {

// Panel budget per task: positions x depth bytes kept in L2 while every
// output-channel tile of the task streams over them.
constexpr int64_t kPanelBytes = 512 << 10;
constexpr int64_t kMaxSubPanels = 4;
// Output channels per task (rounded to tiles): the task's weights stay in L2.
constexpr int64_t kChannelsPerTask = 256;

// 1-D convolutions are 2-D ones with H = 1.
struct Geo2 {
  int64_t ih, iw, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
};

Geo2 ToGeo2(const WindowGeometry& g) {
  const size_t d = g.in.size() - 1;  // the last axis is W
  Geo2 r;
  r.iw = g.in[d], r.ow = g.out[d], r.kw = g.kernel[d], r.sw = g.stride[d], r.dw = g.dilation[d], r.pl = g.pad_begin[d];
  if (d == 1) r.ih = g.in[0], r.oh = g.out[0], r.kh = g.kernel[0], r.sh = g.stride[0], r.dh = g.dilation[0], r.pt = g.pad_begin[0];
  else r.ih = 1, r.oh = 1, r.kh = 1, r.sh = 1, r.dh = 1, r.pt = 0;
  return r;
}

struct ConvPlan {
  int64_t out_sz, in_sz, positions, pos_blocks, tiles_per_block, m_blocks;
};

ConvPlan MakePlan(const ConvQ8Packed& pk, const ConvQ8Params& p) {
  ConvPlan pl;
  pl.out_sz = p.geo.spatial_size_out();
  pl.in_sz = p.geo.spatial_size_in();
  int64_t q = std::clamp<int64_t>(kPanelBytes / std::max<int64_t>(1, pk.k4 * 4 * pk.nr), 1, kMaxSubPanels);
  q = std::max<int64_t>(1, std::min(q, (pl.out_sz + pk.nr - 1) / pk.nr));
  // Spread the sub-panels evenly over the blocks (no block of a few positions).
  const int64_t subs = std::max<int64_t>(1, (pl.out_sz + pk.nr - 1) / pk.nr);
  pl.pos_blocks = (subs + q - 1) / q;
  pl.positions = (subs + pl.pos_blocks - 1) / pl.pos_blocks * pk.nr;
  pl.pos_blocks = (pl.out_sz + pl.positions - 1) / pl.positions;
  pl.tiles_per_block = std::max<int64_t>(1, kChannelsPerTask / pk.mr);
  pl.m_blocks = (pk.m_tiles + pl.tiles_per_block - 1) / pl.tiles_per_block;
  return pl;
}

// out[4 j + t] = row t[j] ^ flip for j < n: the vector operand layout
// [lanes][4] of one k4 step, from four rows of n positions (rows are `stride`
// apart and readable up to n).
void Interleave4(const uint8_t* r, int64_t stride, int64_t n, uint8_t flip, uint8_t* out) {
  int64_t j = 0;
#if defined(__SSE2__)
  const __m128i f = _mm_set1_epi8(static_cast<char>(flip));
  for (; j + 16 <= n; j += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + j));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + stride + j));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + 2 * stride + j));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + 3 * stride + j));
    const __m128i ab_lo = _mm_unpacklo_epi8(a, b), ab_hi = _mm_unpackhi_epi8(a, b);
    const __m128i cd_lo = _mm_unpacklo_epi8(c, d), cd_hi = _mm_unpackhi_epi8(c, d);
    __m128i* o = reinterpret_cast<__m128i*>(out + 4 * j);
    _mm_storeu_si128(o + 0, _mm_xor_si128(_mm_unpacklo_epi16(ab_lo, cd_lo), f));
    _mm_storeu_si128(o + 1, _mm_xor_si128(_mm_unpackhi_epi16(ab_lo, cd_lo), f));
    _mm_storeu_si128(o + 2, _mm_xor_si128(_mm_unpacklo_epi16(ab_hi, cd_hi), f));
    _mm_storeu_si128(o + 3, _mm_xor_si128(_mm_unpackhi_epi16(ab_hi, cd_hi), f));
  }
#endif
  for (; j < n; ++j)
    for (int t = 0; t < 4; ++t) out[4 * j + t] = static_cast<uint8_t>(r[t * stride + j] ^ flip);
}

// Short runs are the common case on small feature maps (7 or 14 wide): a loop
// beats a libc call there.
inline void FillBytes(uint8_t* dst, uint8_t v, int64_t n) {
  if (n > 32) return void(std::memset(dst, v, n));
  for (int64_t i = 0; i < n; ++i) dst[i] = v;
}
inline void CopyBytes(uint8_t* dst, const uint8_t* src, int64_t n) {
  if (n > 32) return void(std::memcpy(dst, src, n));
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}

// Where a tap column kx lands: output columns [lo, hi) read input column
// o * sw + off inside the row; the others read padding.
struct TapCols {
  int64_t off, lo, hi;
};

TapCols ColsOfTap(const Geo2& g, int64_t kx) {
  TapCols t;
  t.off = kx * g.dw - g.pl;
  t.lo = t.off >= 0 ? 0 : (-t.off + g.sw - 1) / g.sw;
  t.hi = std::min(g.ow, g.iw - t.off > 0 ? (g.iw - t.off + g.sw - 1) / g.sw : 0);
  return t;
}

// One row of the implicit im2col matrix (input channel plane xc, tap row ky,
// tap column tc) for np positions starting at output (oy, ox); taps in the
// padding read the zero point.
void GatherRow(const uint8_t* xc, const Geo2& g, int64_t ky, const TapCols& tc, int64_t oy, int64_t ox,
               int64_t np, uint8_t zp, uint8_t* out) {
  for (int64_t left = np; left > 0; ++oy, ox = 0) {
    const int64_t seg = std::min(g.ow - ox, left), end = ox + seg;
    const int64_t iy = oy * g.sh - g.pt + ky * g.dh;
    if (iy < 0 || iy >= g.ih || tc.lo >= tc.hi) {
      FillBytes(out, zp, seg);
    } else {
      const uint8_t* xr = xc + iy * g.iw;  // tap of column o: xr[o * sw + off]
      const int64_t a = std::clamp(tc.lo, ox, end), b = std::clamp(tc.hi, a, end);
      FillBytes(out, zp, a - ox);
      if (g.sw == 1) {
        CopyBytes(out + (a - ox), xr + a + tc.off, b - a);
      } else {
        int64_t o = a;
#if defined(__SSE2__)
        if (g.sw == 2)  // even bytes of 32: mask to 16 bits, pack with unsigned saturation (exact)
          for (; o + 16 <= b && 2 * o + tc.off + 32 <= g.iw; o += 16) {
            const __m128i m = _mm_set1_epi16(0xff);
            const uint8_t* src = xr + 2 * o + tc.off;
            const __m128i lo = _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)), m);
            const __m128i hi = _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16)), m);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(out + (o - ox)), _mm_packus_epi16(lo, hi));
          }
#endif
        for (; o < b; ++o) out[o - ox] = xr[o * g.sw + tc.off];
      }
      FillBytes(out + (b - ox), zp, end - b);
    }
    out += seg;
    left -= seg;
  }
}

}  // namespace

bool ConvQ8FastSupports(const ConvQ8Params& p, const int8_t* w, const int32_t* bias, bool x_signed) {
  const WindowGeometry& g = p.geo;
  const size_t r = g.in.size();
  if (r < 1 || r > 2 || g.out.size() != r || g.kernel.size() != r || g.stride.size() != r ||
      g.dilation.size() != r || g.pad_begin.size() != r)
    return false;
  if (p.group <= 0 || p.in_channels <= 0 || p.out_channels <= 0 || p.in_channels % p.group != 0 ||
      p.out_channels % p.group != 0 || p.batch < 0)
    return false;
  for (int32_t z : p.w_zero_point)
    if (z != 0) return false;
  const int32_t zx = p.x_zero_point;
  if (x_signed ? (zx < -128 || zx > 127) : (zx < 0 || zx > 255)) return false;
  if (!q8::MultipliersOk(p.multiplier, p.out_channels) || std::abs(p.y_zero_point) > (1 << 16)) return false;
  const int64_t x_max = x_signed ? MaxAbsOffset<int8_t>(zx) : MaxAbsOffset<uint8_t>(zx);
  const int64_t k = p.in_channels / p.group * g.kernel_size();
  for (int64_t m = 0; m < p.out_channels; ++m) {
    int64_t sum = 0;
    for (int64_t l = 0; l < k; ++l) sum += std::abs(int{w[m * k + l]});
    if (x_max * sum + (bias ? std::llabs(bias[m]) : 0) > std::numeric_limits<int32_t>::max()) return false;
  }
  return true;
}

ConvQ8Packed PackConvQ8(const ConvQ8Params& p, const int8_t* w, const int32_t* bias, Isa isa) {
  NIBBLE_CHECK(p.group > 0 && p.in_channels % p.group == 0 && p.out_channels % p.group == 0,
               "PackConvQ8: channels do not split into ", p.group, " groups");
  NIBBLE_CHECK(q8::MultipliersOk(p.multiplier, p.out_channels), "PackConvQ8: ", p.multiplier.size(),
               " multipliers for ", p.out_channels, " output channels");
  const q8::KernelTable& kt = q8::KernelsFor(isa);
  ConvQ8Packed pk;
  pk.isa = kt.isa;
  pk.mr = kt.mr;
  pk.nr = kt.nr;
  pk.wide = kt.wide;
  pk.in_channels = p.in_channels;
  pk.out_channels = p.out_channels;
  pk.group = p.group;
  pk.cg = p.in_channels / p.group;
  pk.mg = p.out_channels / p.group;
  pk.kernel = p.geo.kernel;
  pk.k = pk.cg * p.geo.kernel_size();
  pk.k4 = (pk.k + 3) / 4;
  pk.m_tiles = (pk.mg + kt.mr - 1) / kt.mr;
  const int64_t k = pk.k;
  for (int64_t grp = 0; grp < p.group; ++grp) {
    const int8_t* wg = w + grp * pk.mg * k;
    auto value = [&](int64_t m, int64_t l) { return wg[m * k + l]; };
    if (kt.wide) {
      const std::vector<int16_t> part = q8::PackUnits<int16_t>(pk.mg, k, kt.mr, value);
      pk.w16.insert(pk.w16.end(), part.begin(), part.end());
    } else {
      const std::vector<int8_t> part = q8::PackUnits<int8_t>(pk.mg, k, kt.mr, value);
      pk.w8.insert(pk.w8.end(), part.begin(), part.end());
    }
  }
  pk.x_zero_point = p.x_zero_point;
  pk.bias_u8.resize(p.out_channels);
  pk.bias_s8.resize(p.out_channels);
  for (int64_t m = 0; m < p.out_channels; ++m) {
    int64_t sum = 0;
    for (int64_t l = 0; l < k; ++l) sum += w[m * k + l];
    const int32_t bm = bias ? bias[m] : 0;
    pk.bias_u8[m] = q8::FoldZeroPoint(bm, p.x_zero_point, sum);
    pk.bias_s8[m] = q8::FoldZeroPoint(bm, int64_t{p.x_zero_point} + 128, sum);
  }
  for (const FixedPointMultiplier& m : p.multiplier) {
    pk.mult.push_back(m.multiplier);
    pk.shift.push_back(m.shift);
  }
  pk.y_zero_point = p.y_zero_point;
  pk.y_min = p.y_min;
  pk.y_max = p.y_max;
  return pk;
}

int64_t ConvQ8FastTaskCount(const ConvQ8Packed& pk, const ConvQ8Params& p) {
  const ConvPlan pl = MakePlan(pk, p);
  if (pl.out_sz == 0 || p.batch == 0) return 0;
  return p.batch * pk.group * pl.m_blocks * pl.pos_blocks;
}

template <class TX, class TY>
void ConvQ8FastRun(const ConvQ8Packed& pk, const ConvQ8Params& p, const TX* x, TY* y, int64_t task_lo,
                   int64_t task_hi) {
  NIBBLE_CHECK(p.in_channels == pk.in_channels && p.out_channels == pk.out_channels && p.group == pk.group &&
                   p.geo.kernel == pk.kernel,
               "ConvQ8FastRun: params do not match the packed weights");
  const q8::KernelTable& kt = q8::KernelsFor(pk.isa);
  NIBBLE_CHECK(kt.mr == pk.mr && kt.nr == pk.nr && kt.wide == pk.wide, "ConvQ8FastRun: weights packed for another ISA");
  const q8::MicroFn fn = std::is_same_v<TY, uint8_t> ? kt.conv_u8 : kt.conv_s8;
  int32_t lo = pk.y_min, hi = pk.y_max;
  IntersectWithTypeRange<TY>(lo, hi);
  constexpr bool kSigned = std::is_same_v<TX, int8_t>;
  const uint8_t flip = kSigned ? 0x80 : 0;
  const uint8_t zp_code = static_cast<uint8_t>(pk.x_zero_point);  // the raw code; flipped with the data
  const int32_t* bias = kSigned ? pk.bias_s8.data() : pk.bias_u8.data();
  const bool per_channel = pk.mult.size() > 1;
  const ConvPlan pl = MakePlan(pk, p);
  const Geo2 geo = ToGeo2(p.geo);
  const int mr = pk.mr, nr = pk.nr;
  const int64_t k = pk.k, k4 = pk.k4, elem = pk.wide ? 2 : 1;
  const int64_t a_tile = k4 * mr * 4;  // elements per packed weight tile

  thread_local std::vector<uint8_t> panel, rows;
  if (panel.size() < static_cast<size_t>(pl.positions * k4 * 4)) panel.resize(pl.positions * k4 * 4);
  if (rows.size() < static_cast<size_t>(pl.positions * 4)) rows.resize(pl.positions * 4);
  const int64_t P = pl.positions;
  thread_local std::vector<TapCols> cols;
  cols.resize(geo.kw);
  for (int64_t kx = 0; kx < geo.kw; ++kx) cols[kx] = ColsOfTap(geo, kx);

  for (int64_t t = task_lo; t < task_hi; ++t) {
    int64_t rest = t;
    const int64_t pb = rest % pl.pos_blocks;
    rest /= pl.pos_blocks;
    const int64_t mb = rest % pl.m_blocks;
    rest /= pl.m_blocks;
    const int64_t grp = rest % pk.group, n = rest / pk.group;
    const uint8_t* xg = reinterpret_cast<const uint8_t*>(x + (n * pk.in_channels + grp * pk.cg) * pl.in_sz);
    const int64_t pos0 = pb * P, np = std::min(P, pl.out_sz - pos0);
    const int64_t subs = (np + nr - 1) / nr;

    // The panel: `subs` sub-panels [k4][nr][4] of nr positions each. Depth
    // index kk = (c * kh + ky) * kw + kx, walked with counters.
    uint8_t* pan = panel.data();
    const int64_t oy0 = pos0 / geo.ow, ox0 = pos0 % geo.ow;
    int64_t c = 0, ky = 0, kx = 0;
    for (int64_t s = 0; s < k4; ++s) {
      for (int tt = 0; tt < 4; ++tt) {
        uint8_t* row = rows.data() + tt * P;
        const int64_t kk = 4 * s + tt;
        if (kk < k) {
          GatherRow(xg + c * pl.in_sz, geo, ky, cols[kx], oy0, ox0, np, zp_code, row);
          FillBytes(row + np, zp_code, subs * nr - np);
          if (++kx == geo.kw) {
            kx = 0;
            if (++ky == geo.kh) ky = 0, ++c;
          }
        } else {
          std::memset(row, 0, subs * nr);  // padded depth: its weights are 0
        }
      }
      for (int64_t sp = 0; sp < subs; ++sp)
        Interleave4(rows.data() + sp * nr, P, nr, flip, pan + (sp * k4 + s) * nr * 4);
    }

    q8::MicroArgs g;
    g.a_stride = mr * 4 * elem;
    g.b_stride = nr * 4;
    g.k4 = k4;
    g.per_lane = false;
    g.zp = pk.y_zero_point;
    g.lo = lo;
    g.hi = hi;
    g.ldc = pl.out_sz;
    g.mult_stride = per_channel ? 1 : 0;
    const int64_t mt_end = std::min(pk.m_tiles, (mb + 1) * pl.tiles_per_block);
    for (int64_t mt = mb * pl.tiles_per_block; mt < mt_end; ++mt) {
      const int64_t m0 = grp * pk.mg + mt * mr;  // first output channel of the tile
      const int64_t wt = (grp * pk.m_tiles + mt) * a_tile;
      g.a = pk.wide ? static_cast<const void*>(pk.w16.data() + wt) : static_cast<const void*>(pk.w8.data() + wt);
      g.rows = static_cast<int>(std::min<int64_t>(mr, pk.mg - mt * mr));
      g.bias = bias + m0;
      g.mult = per_channel ? pk.mult.data() + m0 : pk.mult.data();
      g.shift = per_channel ? pk.shift.data() + m0 : pk.shift.data();
      for (int64_t sp = 0; sp < subs; ++sp) {
        g.b = pan + sp * k4 * nr * 4;
        g.lanes = static_cast<int>(std::min<int64_t>(nr, np - sp * nr));
        g.c = y + (n * pk.out_channels + m0) * pl.out_sz + pos0 + sp * nr;
        fn(g);
      }
    }
  }
}

template void ConvQ8FastRun<uint8_t, uint8_t>(const ConvQ8Packed&, const ConvQ8Params&, const uint8_t*, uint8_t*,
                                              int64_t, int64_t);
template void ConvQ8FastRun<uint8_t, int8_t>(const ConvQ8Packed&, const ConvQ8Params&, const uint8_t*, int8_t*,
                                             int64_t, int64_t);
template void ConvQ8FastRun<int8_t, uint8_t>(const ConvQ8Packed&, const ConvQ8Params&, const int8_t*, uint8_t*,
                                             int64_t, int64_t);
template void ConvQ8FastRun<int8_t, int8_t>(const ConvQ8Packed&, const ConvQ8Params&, const int8_t*, int8_t*,
                                            int64_t, int64_t);

}  // namespace nibble
