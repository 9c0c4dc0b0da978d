// Drivers of the bit-serial and binary GEMM / convolution (bitserial_gemm.h):
// weight packing with the folded correction terms, activation packing per
// task, and the requantizing epilogue. The inner loop is bitserial_core's.
#include "kernels/x86/bitserial_gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <type_traits>

#include "base/thread_pool.h"
#include "nibble/error.h"

namespace nibble {
namespace {

using bitserial::BitOp;
using bitserial::kLanes;
using bitserial::PopcountPath;

constexpr int64_t kRowTile = 48;    // activation rows (GEMM rows / output positions) per task
constexpr int64_t kBlockGroup = 8;  // weight blocks (8 features each) per task
constexpr int64_t kPixelTile = 1024;

int32_t CodeMin(int bits, bool is_signed) { return is_signed ? -(1 << (bits - 1)) : 0; }
int32_t CodeMax(int bits, bool is_signed) { return is_signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1; }
int32_t At(const std::vector<int32_t>& v, int64_t i) { return v.empty() ? 0 : v[v.size() == 1 ? 0 : i]; }

bool Reject(std::string* why, const std::string& reason) {
  if (why) *why = reason;
  return false;
}

bool CheckMultipliers(const std::vector<FixedPointMultiplier>& m, int64_t n, std::string* why) {
  if (m.size() != 1 && static_cast<int64_t>(m.size()) != n)
    return Reject(why, Cat(m.size(), " multipliers where 1 or ", n, " are expected"));
  for (const FixedPointMultiplier& f : m)
    if (f.shift < 1 || f.shift > 62) return Reject(why, Cat("multiplier shift ", f.shift, " outside [1, 62]"));
  return true;
}

bool CheckSpec(const BitSerialSpec& s, std::string* why) {
  if (s.a_bits < 1 || s.a_bits > 4 || s.w_bits < 1 || s.w_bits > 4)
    return Reject(why, Cat("bit widths W", s.w_bits, "A", s.a_bits, " outside 1..4"));
  return true;
}

// Weight access shared by GEMM and conv: feature q, element e in [0, k) ->
// code, and e -> bit position in the padded vector.
struct WeightView {
  const int8_t* w;
  int64_t n, k;
  bool transpose;       // GEMM B as [N, K]
  bool conv;            // [M, C, taps], bit position tap * cw * 64 + c
  int64_t channels = 0, taps = 0, cw = 0;
  int32_t Code(int64_t q, int64_t e) const {
    if (conv) return w[q * k + e];
    return transpose ? w[q * k + e] : w[e * n + q];
  }
  int64_t BitPos(int64_t e) const {
    if (!conv) return e;
    const int64_t c = e / taps, t = e % taps;
    return t * cw * 64 + c;
  }
  int64_t Words() const { return conv ? taps * cw : (k + 63) / 64; }
};

// Shared checks: codes within the declared range, the int32 bound of the
// reference restricted to the declared activation codes.
bool CheckWeights(const WeightView& v, const std::vector<int32_t>& wzp, const int32_t* bias, bool binary,
                  const BitSerialSpec& s, int64_t a_max_abs, std::string* why) {
  if (wzp.size() > 1 && static_cast<int64_t>(wzp.size()) != v.n)
    return Reject(why, Cat(wzp.size(), " weight zero points where 1 or ", v.n, " are expected"));
  const int32_t wmin = binary ? -1 : CodeMin(s.w_bits, s.w_signed), wmax = binary ? 1 : CodeMax(s.w_bits, s.w_signed);
  for (int64_t q = 0; q < v.n; ++q) {
    const int32_t zw = At(wzp, q);
    if (binary && zw != 0) return Reject(why, "binary weights need zero point 0");
    if (zw < wmin || zw > wmax) return Reject(why, Cat("weight zero point ", zw, " outside [", wmin, ", ", wmax, "]"));
    int64_t wsum = 0;
    for (int64_t e = 0; e < v.k; ++e) {
      const int32_t c = v.Code(q, e);
      if (c < wmin || c > wmax || (binary && c == 0))
        return Reject(why, Cat("weight code ", c, " of feature ", q, " outside the ",
                               binary ? "bipolar {-1, +1}" : Cat(s.w_bits, "-bit"), " range"));
      wsum += std::llabs(int64_t{c} - zw);
    }
    const int64_t bound = a_max_abs * wsum + (bias ? std::llabs(bias[q]) : 0);
    if (bound > std::numeric_limits<int32_t>::max())
      return Reject(why, Cat("feature ", q, " can overflow the int32 accumulator (worst case ", bound, ")"));
  }
  if (v.k > (int64_t{1} << 22)) return Reject(why, "depth above 2^22");
  return true;
}

// Packs the weight planes and folds everything per feature.
LowBitPacked PackWeights(const WeightView& v, const std::vector<int32_t>& wzp, const int32_t* bias, bool binary,
                         const BitSerialSpec& s, int32_t a_zero_point, const std::vector<FixedPointMultiplier>& mult,
                         int32_t out_zp, int32_t out_min, int32_t out_max) {
  LowBitPacked pk;
  pk.binary = binary;
  pk.spec = binary ? BitSerialSpec{1, 1, false, false} : s;
  pk.n = v.n;
  pk.k = v.k;
  pk.words = v.Words();
  pk.blocks = (v.n + kLanes - 1) / kLanes;
  const int wb = pk.spec.w_bits;
  pk.planes.assign(static_cast<size_t>(pk.blocks * pk.words * wb * kLanes), 0);
  const size_t lanes = static_cast<size_t>(pk.blocks * kLanes);
  pk.const_term.assign(lanes, 0);
  pk.zu.assign(lanes, 0);
  pk.lane_mult.assign(lanes, 0);
  pk.lane_round.assign(lanes, 0);
  pk.lane_shift.assign(lanes, 1);
  pk.mult.resize(v.n);
  const int32_t w_off = !binary && s.w_signed ? (1 << (s.w_bits - 1)) : 0;
  pk.a_offset = !binary && s.a_signed ? (1 << (s.a_bits - 1)) : 0;
  pk.za = binary ? 0 : a_zero_point + pk.a_offset;
  pk.threshold = binary ? a_zero_point : 0;
  for (int64_t q = 0; q < v.n; ++q) {
    const int64_t blk = q / kLanes, lane = q % kLanes;
    int64_t usum = 0;
    for (int64_t e = 0; e < v.k; ++e) {
      const int32_t code = v.Code(q, e);
      const uint32_t u = binary ? (code > 0 ? 1u : 0u) : static_cast<uint32_t>(code + w_off);
      usum += u;
      const int64_t pos = v.BitPos(e);
      for (int j = 0; j < wb; ++j)
        if ((u >> j) & 1)
          pk.planes[static_cast<size_t>(((blk * pk.words + pos / 64) * wb + j) * kLanes + lane)] |= uint64_t{1}
                                                                                                      << (pos % 64);
    }
    const int64_t b = bias ? bias[q] : 0;
    if (binary) {
      pk.const_term[q] = b + v.k;
    } else {
      const int64_t zu = At(wzp, q) + w_off;
      pk.zu[q] = zu;
      pk.const_term[q] = b - int64_t{pk.za} * usum + v.k * int64_t{pk.za} * zu;
    }
    pk.mult[q] = mult.empty() ? FixedPointMultiplier{} : mult[mult.size() == 1 ? 0 : q];
    pk.lane_mult[q] = pk.mult[q].multiplier;
    pk.lane_round[q] = int64_t{1} << (pk.mult[q].shift - 1);
    pk.lane_shift[q] = pk.mult[q].shift;
  }
  pk.out_zp = out_zp;
  pk.out_min = out_min;
  pk.out_max = out_max;
  return pk;
}

template <class TC>
inline void StoreValue(TC* dst, int64_t v, FixedPointMultiplier m, int32_t zp, int32_t lo, int32_t hi) {
  if constexpr (std::is_same_v<TC, int32_t>) {
    *dst = static_cast<int32_t>(v);
  } else {
    *dst = static_cast<TC>(Requantize(static_cast<int32_t>(v), m, zp, lo, hi));
  }
}

// The scalar twin of lowbit_detail::EpilogueAvx512.
template <class TY>
void EpilogueScalar(const LowBitPacked& pk, const lowbit_detail::EpilogueRows& e, TY* y, int32_t lo, int32_t hi) {
  for (int l = 0; l < e.lanes; ++l) {
    const int64_t q = e.blk * kLanes + l;
    for (int64_t r = 0; r < e.rows; ++r) {
      const int64_t dot = e.tile[r * kLanes + l];
      int64_t v;
      if (pk.binary) {
        v = pk.const_term[q] - 2 * dot;
        if (e.pad_count && e.pad_count[r] > 0) v += e.corr[r * kLanes + l];
      } else {
        v = dot + pk.const_term[q] - pk.zu[q] * e.row_sum[r];
      }
      StoreValue(y + l * e.lane_stride + r * e.row_stride, v, pk.mult[q], pk.out_zp, lo, hi);
    }
  }
}

template <class TY>
void Epilogue(PopcountPath path, const LowBitPacked& pk, const lowbit_detail::EpilogueRows& e, TY* y, int32_t lo,
              int32_t hi) {
  if (path == PopcountPath::kAvx512 && std::abs(pk.out_zp) <= (1 << 16))
    lowbit_detail::EpilogueAvx512(pk, e, y, lo, hi);
  else
    EpilogueScalar(pk, e, y, lo, hi);
}

template <class TC>
void OutputRange(const LowBitPacked& pk, int32_t& lo, int32_t& hi) {
  lo = pk.out_min;
  hi = pk.out_max;
  if constexpr (!std::is_same_v<TC, int32_t>) IntersectWithTypeRange<TC>(lo, hi);
}

int32_t PlaneSum(const uint64_t* row, int64_t words, int bits) {
  int32_t s = 0;
  for (int64_t w = 0; w < words; ++w)
    for (int i = 0; i < bits; ++i) s += __builtin_popcountll(row[w * bits + i]) << i;
  return s;
}

struct Scratch {
  std::vector<uint64_t> panel;
  std::vector<int32_t> tile, row_sum, pad_taps, pad_count, corr;
  std::vector<int64_t> tap_off, word_off;
  std::vector<const uint64_t*> rows_at;  // conv: where an interior row's window starts in the image, else null
  std::vector<int64_t> run_start;         // conv: first row of each run of in-place / panel rows, then the end
  std::vector<int32_t> padded_rows;       // conv: rows whose window touches the padding
};
Scratch& ThreadScratch() {
  thread_local Scratch s;
  return s;
}

template <class T>
void Grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

// 2-D view of a 1-D or 2-D conv geometry.
struct Geo2 {
  int64_t ih, iw, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw;
};
Geo2 MakeGeo2(const WindowGeometry& g) {
  if (g.in.size() == 1)
    return {1, g.in[0], 1, g.out[0], 1, g.kernel[0], 1, g.stride[0], 1, g.dilation[0], 0, g.pad_begin[0]};
  return {g.in[0],     g.in[1],     g.out[0],      g.out[1],      g.kernel[0],    g.kernel[1],
          g.stride[0], g.stride[1], g.dilation[0], g.dilation[1], g.pad_begin[0], g.pad_begin[1]};
}

bool CheckConvGeometry(const ConvQ8Params& p, std::string* why) {
  if (p.group != 1) return Reject(why, "only group 1");
  const WindowGeometry& g = p.geo;
  if (g.in.size() < 1 || g.in.size() > 2 || g.out.size() != g.in.size() || g.kernel.size() != g.in.size())
    return Reject(why, "only 1 or 2 spatial dims with a computed window");
  if (p.in_channels <= 0 || p.out_channels <= 0) return Reject(why, "empty channels");
  return true;
}

WeightView ConvView(const ConvQ8Params& p, const int8_t* w) {
  WeightView v{w, p.out_channels, 0, false, true};
  v.channels = p.in_channels;
  v.taps = p.geo.kernel_size();
  v.k = v.channels * v.taps;
  v.cw = (v.channels + 63) / 64;
  return v;
}

void FinishConvPack(LowBitPacked& pk, const ConvQ8Params& p, const int8_t* w) {
  pk.conv = true;
  pk.channels = p.in_channels;
  pk.cw = (p.in_channels + 63) / 64;
  pk.taps = p.geo.kernel_size();
  const Geo2 g = MakeGeo2(p.geo);
  pk.kh = g.kh;
  pk.kwid = g.kw;
  const int ab = pk.spec.a_bits;
  pk.pad_pixel.assign(static_cast<size_t>(pk.cw * ab), 0);
  if (!pk.binary) {
    for (int64_t c = 0; c < pk.channels; ++c)
      for (int i = 0; i < ab; ++i)
        if ((pk.za >> i) & 1) pk.pad_pixel[(c / 64) * ab + i] |= uint64_t{1} << (c % 64);
  } else {
    // [block][tap][8 lanes]: a padded window's correction is a sum of 8-lane rows.
    pk.tap_wsum.assign(static_cast<size_t>(pk.blocks * pk.taps * kLanes), 0);
    for (int64_t m = 0; m < pk.n; ++m)
      for (int64_t c = 0; c < pk.channels; ++c)
        for (int64_t t = 0; t < pk.taps; ++t)
          pk.tap_wsum[((m / kLanes) * pk.taps + t) * kLanes + m % kLanes] += w[(m * pk.channels + c) * pk.taps + t];
  }
}

}  // namespace

// ---- GEMM --------------------------------------------------------------------

bool BitSerialGemmSupports(const GemmQ8Params& p, const int8_t* b, const int32_t* bias, const BitSerialSpec& s,
                           std::string* why) {
  if (!CheckSpec(s, why)) return false;
  if (p.transpose_a) return Reject(why, "transposed A");
  if (p.a_zero_point.size() > 1) return Reject(why, "per-row A zero points");
  const int32_t za = At(p.a_zero_point, 0);
  const int32_t amin = CodeMin(s.a_bits, s.a_signed), amax = CodeMax(s.a_bits, s.a_signed);
  if (za < amin || za > amax) return Reject(why, Cat("A zero point ", za, " outside the activation code range"));
  if (!CheckMultipliers(p.multiplier, p.n, why)) return false;
  const WeightView v{b, p.n, p.k, p.transpose_b, false};
  return CheckWeights(v, p.b_zero_point, bias, false, s, std::max(za - amin, amax - za), why);
}

LowBitPacked PackBitSerialGemm(const GemmQ8Params& p, const int8_t* b, const int32_t* bias, const BitSerialSpec& s) {
  std::string why;
  NIBBLE_CHECK(BitSerialGemmSupports(p, b, bias, s, &why), "bit-serial GEMM: ", why);
  const WeightView v{b, p.n, p.k, p.transpose_b, false};
  return PackWeights(v, p.b_zero_point, bias, false, s, At(p.a_zero_point, 0), p.multiplier, p.c_zero_point, p.c_min,
                     p.c_max);
}

bool BinaryGemmSupports(const GemmQ8Params& p, const int8_t* b, const int32_t* bias, std::string* why) {
  if (p.transpose_a) return Reject(why, "transposed A");
  if (p.a_zero_point.size() > 1) return Reject(why, "per-row A zero points");
  if (!CheckMultipliers(p.multiplier, p.n, why)) return false;
  const WeightView v{b, p.n, p.k, p.transpose_b, false};
  return CheckWeights(v, p.b_zero_point, bias, true, BitSerialSpec{1, 1, false, true}, 1, why);
}

LowBitPacked PackBinaryGemm(const GemmQ8Params& p, const int8_t* b, const int32_t* bias) {
  std::string why;
  NIBBLE_CHECK(BinaryGemmSupports(p, b, bias, &why), "binary GEMM: ", why);
  const WeightView v{b, p.n, p.k, p.transpose_b, false};
  return PackWeights(v, p.b_zero_point, bias, true, BitSerialSpec{1, 1, false, true}, At(p.a_zero_point, 0),
                     p.multiplier, p.c_zero_point, p.c_min, p.c_max);
}

int64_t LowBitGemmTaskCount(const LowBitPacked& pk, int64_t m) {
  return ((m + kRowTile - 1) / kRowTile) * ((pk.blocks + kBlockGroup - 1) / kBlockGroup);
}

template <class TA, class TC>
void LowBitGemmRun(const LowBitPacked& pk, int64_t m, const TA* a, TC* c, int64_t task_lo, int64_t task_hi,
                   PopcountPath path) {
  NIBBLE_CHECK(!pk.conv, "LowBitGemmRun: packed for a convolution");
  if (pk.binary)
    NIBBLE_CHECK(pk.threshold >= std::numeric_limits<TA>::min() && pk.threshold <= std::numeric_limits<TA>::max(),
                 "binary GEMM: threshold (A zero point) ", pk.threshold, " outside A's type");
  int32_t lo, hi;
  OutputRange<TC>(pk, lo, hi);
  const int ab = pk.spec.a_bits, wb = pk.spec.w_bits;
  const int64_t groups = (pk.blocks + kBlockGroup - 1) / kBlockGroup;
  const int64_t row_words = pk.words * ab;
  Scratch& s = ThreadScratch();
  Grow(s.panel, static_cast<size_t>(kRowTile * row_words));
  Grow(s.tile, static_cast<size_t>(kRowTile * kLanes));
  Grow(s.row_sum, static_cast<size_t>(kRowTile));
  const bool vec_pack = path == PopcountPath::kAvx512;
  for (int64_t t = task_lo; t < task_hi; ++t) {
    const int64_t r0 = (t / groups) * kRowTile, r1 = std::min(m, r0 + kRowTile), rows = r1 - r0;
    const int64_t b0 = (t % groups) * kBlockGroup, b1 = std::min(pk.blocks, b0 + kBlockGroup);
    for (int64_t r = 0; r < rows; ++r) {
      const TA* ar = a + (r0 + r) * pk.k;
      uint64_t* dst = s.panel.data() + r * row_words;
      if (pk.binary) {
        if (vec_pack)
          bitserial::PackSignRowAvx512(reinterpret_cast<const uint8_t*>(ar), pk.k, pk.threshold,
                                       std::is_signed_v<TA>, dst);
        else
          bitserial::PackSignRow(ar, 1, pk.k, pk.threshold, dst);
      } else {
        if (vec_pack)
          bitserial::PackPlanesRowAvx512U8(reinterpret_cast<const uint8_t*>(ar), pk.k, ab, pk.a_offset, dst);
        else
          bitserial::PackPlanesRow(ar, 1, pk.k, ab, pk.a_offset, dst);
        s.row_sum[r] = PlaneSum(dst, pk.words, ab);
      }
    }
    for (int64_t blk = b0; blk < b1; ++blk) {
      bitserial::BitDotRows(path, pk.binary ? BitOp::kXor : BitOp::kAnd, ab, wb, s.panel.data(), rows, pk.words,
                            pk.planes.data() + blk * pk.words * wb * kLanes, s.tile.data());
      lowbit_detail::EpilogueRows e;
      e.tile = s.tile.data();
      e.rows = rows;
      e.blk = blk;
      e.lanes = static_cast<int>(std::min<int64_t>(kLanes, pk.n - blk * kLanes));
      e.row_sum = s.row_sum.data();
      e.lane_stride = 1;
      e.row_stride = pk.n;
      Epilogue(path, pk, e, c + r0 * pk.n + blk * kLanes, lo, hi);
    }
  }
}

// ---- Convolution --------------------------------------------------------------

bool BitSerialConvSupports(const ConvQ8Params& p, const int8_t* w, const int32_t* bias, const BitSerialSpec& s,
                           std::string* why) {
  if (!CheckSpec(s, why) || !CheckConvGeometry(p, why)) return false;
  const int32_t amin = CodeMin(s.a_bits, s.a_signed), amax = CodeMax(s.a_bits, s.a_signed);
  const int32_t za = p.x_zero_point;
  if (za < amin || za > amax) return Reject(why, Cat("x zero point ", za, " outside the activation code range"));
  if (!CheckMultipliers(p.multiplier, p.out_channels, why)) return false;
  return CheckWeights(ConvView(p, w), p.w_zero_point, bias, false, s, std::max(za - amin, amax - za), why);
}

LowBitPacked PackBitSerialConv(const ConvQ8Params& p, const int8_t* w, const int32_t* bias, const BitSerialSpec& s) {
  std::string why;
  NIBBLE_CHECK(BitSerialConvSupports(p, w, bias, s, &why), "bit-serial conv: ", why);
  LowBitPacked pk = PackWeights(ConvView(p, w), p.w_zero_point, bias, false, s, p.x_zero_point, p.multiplier,
                                p.y_zero_point, p.y_min, p.y_max);
  FinishConvPack(pk, p, w);
  return pk;
}

bool BinaryConvSupports(const ConvQ8Params& p, const int8_t* w, const int32_t* bias, std::string* why) {
  if (!CheckConvGeometry(p, why)) return false;
  if (p.x_zero_point < -128 || p.x_zero_point > 255) return Reject(why, "x zero point outside 8 bits");
  if (!CheckMultipliers(p.multiplier, p.out_channels, why)) return false;
  return CheckWeights(ConvView(p, w), p.w_zero_point, bias, true, BitSerialSpec{1, 1, false, true}, 1, why);
}

LowBitPacked PackBinaryConv(const ConvQ8Params& p, const int8_t* w, const int32_t* bias) {
  std::string why;
  NIBBLE_CHECK(BinaryConvSupports(p, w, bias, &why), "binary conv: ", why);
  LowBitPacked pk = PackWeights(ConvView(p, w), p.w_zero_point, bias, true, BitSerialSpec{1, 1, false, true},
                                p.x_zero_point, p.multiplier, p.y_zero_point, p.y_min, p.y_max);
  FinishConvPack(pk, p, w);
  return pk;
}

void LowBitConvPrepareInput(const LowBitPacked& pk, const ConvQ8Params& p, LowBitConvInput& in) {
  NIBBLE_CHECK(pk.conv && p.in_channels == pk.channels && p.out_channels == pk.n &&
                   p.geo.kernel_size() == pk.taps,
               "LowBitConv: params do not match the packed weights");
  const int64_t pixels = p.batch * p.geo.spatial_size_in();
  Grow(in.pixels, static_cast<size_t>(pixels * pk.cw * pk.spec.a_bits));
  Grow(in.pixel_sum, static_cast<size_t>(pixels));
}

int64_t LowBitConvPackTaskCount(const LowBitPacked& pk, const ConvQ8Params& p) {
  return p.batch * ((p.geo.spatial_size_in() + kPixelTile - 1) / kPixelTile);
}

template <class TX>
void LowBitConvPackInput(const LowBitPacked& pk, const ConvQ8Params& p, const TX* x, LowBitConvInput& in,
                         int64_t task_lo, int64_t task_hi, PopcountPath path) {
  if (pk.binary)
    NIBBLE_CHECK(pk.threshold >= std::numeric_limits<TX>::min() && pk.threshold <= std::numeric_limits<TX>::max(),
                 "binary conv: threshold ", pk.threshold, " outside the input type");
  const int64_t hw = p.geo.spatial_size_in(), per = (hw + kPixelTile - 1) / kPixelTile;
  const int64_t pw = pk.cw * pk.spec.a_bits;
  bitserial::PixelPackSpec spec;
  spec.channels = pk.channels;
  spec.pixels = hw;
  spec.bits = pk.spec.a_bits;
  spec.binarize = pk.binary;
  spec.offset = pk.a_offset;
  spec.threshold = pk.threshold;
  for (int64_t t = task_lo; t < task_hi; ++t) {
    const int64_t b = t / per, p0 = (t % per) * kPixelTile, p1 = std::min(hw, p0 + kPixelTile);
    const TX* xb = x + b * pk.channels * hw;
    uint64_t* dst = in.pixels.data() + b * hw * pw;
    int32_t* sum = pk.binary ? nullptr : in.pixel_sum.data() + b * hw;
    if (path == PopcountPath::kAvx512)
      bitserial::PackPixelsAvx512(spec, xb, p0, p1, dst, sum);
    else
      bitserial::PackPixelsScalar(spec, xb, p0, p1, dst, sum);
  }
}

int64_t LowBitConvTaskCount(const LowBitPacked& pk, const ConvQ8Params& p) {
  const int64_t positions = p.geo.spatial_size_out();
  return p.batch * ((positions + kRowTile - 1) / kRowTile) * ((pk.blocks + kBlockGroup - 1) / kBlockGroup);
}

template <class TY>
void LowBitConvRun(const LowBitPacked& pk, const ConvQ8Params& p, const LowBitConvInput& in, TY* y, int64_t task_lo,
                   int64_t task_hi, PopcountPath path) {
  int32_t lo, hi;
  OutputRange<TY>(pk, lo, hi);
  const Geo2 g = MakeGeo2(p.geo);
  const int ab = pk.spec.a_bits, wb = pk.spec.w_bits;
  const int64_t hw = g.ih * g.iw, positions = g.oh * g.ow;
  const int64_t pw = pk.cw * ab;         // words per pixel (all planes)
  const int64_t row_words = pk.taps * pw;
  const int64_t tiles = (positions + kRowTile - 1) / kRowTile;
  const int64_t groups = (pk.blocks + kBlockGroup - 1) / kBlockGroup;
  const int32_t pad_sum = static_cast<int32_t>(pk.channels) * pk.za;
  Scratch& s = ThreadScratch();
  Grow(s.panel, static_cast<size_t>(kRowTile * row_words));
  Grow(s.tile, static_cast<size_t>(kRowTile * kLanes));
  Grow(s.row_sum, static_cast<size_t>(kRowTile));
  Grow(s.pad_taps, static_cast<size_t>(kRowTile * pk.taps));
  Grow(s.pad_count, static_cast<size_t>(kRowTile));
  Grow(s.corr, static_cast<size_t>(kRowTile * kLanes));
  Grow(s.tap_off, static_cast<size_t>(pk.taps));
  for (int64_t ky = 0; ky < g.kh; ++ky)
    for (int64_t kx = 0; kx < g.kw; ++kx) s.tap_off[ky * g.kw + kx] = ky * g.dh * g.iw + kx * g.dw;
  // The AVX-512 dot kernel reads interior windows straight from the packed
  // image: word (tap, c) of a window at pixel `base` is at (base + tap_off) * pw + c * ab.
  const bool in_place = path == PopcountPath::kAvx512;
  Grow(s.rows_at, static_cast<size_t>(kRowTile));
  Grow(s.word_off, static_cast<size_t>(pk.taps * pk.cw));
  for (int64_t tap = 0; tap < pk.taps; ++tap)
    for (int64_t c = 0; c < pk.cw; ++c) s.word_off[tap * pk.cw + c] = s.tap_off[tap] * pw + c * ab;
  for (int64_t t = task_lo; t < task_hi; ++t) {
    const int64_t b = t / (tiles * groups), rem = t % (tiles * groups);
    const int64_t o0 = (rem / groups) * kRowTile, o1 = std::min(positions, o0 + kRowTile), rows = o1 - o0;
    const int64_t b0 = (rem % groups) * kBlockGroup, b1 = std::min(pk.blocks, b0 + kBlockGroup);
    const uint64_t* img = in.pixels.data() + b * hw * pw;
    const int32_t* img_sum = in.pixel_sum.data() + b * hw;
    // im2col of bit words: one pixel's planes per tap. Windows fully inside
    // the image (most of them) take the unchecked path. Positions advance
    // without a division per row.
    bool any_pad = false;
    int64_t oy = o0 / g.ow, ox = o0 % g.ow;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t iy0 = oy * g.sh - g.ph, ix0 = ox * g.sw - g.pw;
      if (++ox == g.ow) ox = 0, ++oy;
      uint64_t* dst = s.panel.data() + r * row_words;
      int32_t sum = 0, npad = 0;
      if (iy0 >= 0 && iy0 + (g.kh - 1) * g.dh < g.ih && ix0 >= 0 && ix0 + (g.kw - 1) * g.dw < g.iw) {
        const int64_t base = iy0 * g.iw + ix0;
        s.rows_at[r] = img + base * pw;
        if (in_place) {
          // Read in place by the dot kernel: no panel row.
        } else if (pw == 1) {
          const uint64_t* src = img + base;
          for (int64_t tap = 0; tap < pk.taps; ++tap) dst[tap] = src[s.tap_off[tap]];
        } else {
          for (int64_t tap = 0; tap < pk.taps; ++tap)
            std::memcpy(dst + tap * pw, img + (base + s.tap_off[tap]) * pw, static_cast<size_t>(pw) * sizeof(uint64_t));
        }
        if (!pk.binary)
          for (int64_t tap = 0; tap < pk.taps; ++tap) sum += img_sum[base + s.tap_off[tap]];
      } else {
        for (int64_t ky = 0, tap = 0; ky < g.kh; ++ky) {
          const int64_t iy = iy0 + ky * g.dh;
          for (int64_t kx = 0; kx < g.kw; ++kx, ++tap) {
            const int64_t ix = ix0 + kx * g.dw;
            uint64_t* d = dst + tap * pw;
            if (iy >= 0 && iy < g.ih && ix >= 0 && ix < g.iw) {
              const int64_t pix = iy * g.iw + ix;
              std::memcpy(d, img + pix * pw, static_cast<size_t>(pw) * sizeof(uint64_t));
              if (!pk.binary) sum += img_sum[pix];
            } else {
              std::memcpy(d, pk.pad_pixel.data(), static_cast<size_t>(pw) * sizeof(uint64_t));
              sum += pad_sum;
              s.pad_taps[r * pk.taps + npad++] = static_cast<int32_t>(tap);
            }
          }
        }
        any_pad |= npad > 0;
        s.rows_at[r] = nullptr;
      }
      s.row_sum[r] = sum;
      s.pad_count[r] = npad;
    }
    // Once per task, not per weight block: where the in-place and panel runs
    // start (and the end), and which rows touch the padding.
    s.run_start.clear();
    s.padded_rows.clear();
    for (int64_t r = 0; r < rows; ++r) {
      if (r == 0 || (s.rows_at[r] != nullptr) != (s.rows_at[r - 1] != nullptr)) s.run_start.push_back(r);
      if (s.pad_count[r] > 0) s.padded_rows.push_back(static_cast<int32_t>(r));
    }
    s.run_start.push_back(rows);
    for (int64_t blk = b0; blk < b1; ++blk) {
      const BitOp op = pk.binary ? BitOp::kXor : BitOp::kAnd;
      const uint64_t* wblk = pk.planes.data() + blk * pk.words * wb * kLanes;
      const int64_t words = pk.taps * pk.cw;
      if (!in_place) {
        bitserial::BitDotRows(path, op, ab, wb, s.panel.data(), rows, words, wblk, s.tile.data());
      } else {
        // Runs of interior positions read the image in place; windows that
        // touch the padding read their panel rows.
        for (size_t run = 0; run + 1 < s.run_start.size(); ++run) {
          const int64_t r0 = s.run_start[run], r1 = s.run_start[run + 1];
          if (s.rows_at[r0] != nullptr)
            bitserial::BitDotRowsGatherAvx512(op, ab, wb, s.rows_at.data() + r0, s.word_off.data(), r1 - r0, words,
                                              wblk, s.tile.data() + r0 * kLanes);
          else
            bitserial::BitDotRows(path, op, ab, wb, s.panel.data() + r0 * row_words, r1 - r0, words, wblk,
                                  s.tile.data() + r0 * kLanes);
        }
      }
      const int lanes = static_cast<int>(std::min<int64_t>(kLanes, pk.n - blk * kLanes));
      if (pk.binary && any_pad) {
        // Padding taps were read as -1: add back sum_c w[m, c, t] for each of them.
        const int32_t* wsum = pk.tap_wsum.data() + blk * pk.taps * kLanes;
        for (const int32_t r : s.padded_rows) {
          const int32_t np = s.pad_count[r];
          const int32_t* taps = s.pad_taps.data() + r * pk.taps;
          int32_t corr[kLanes] = {};
          for (int32_t i = 0; i < np; ++i)
            for (int l = 0; l < kLanes; ++l) corr[l] += wsum[taps[i] * kLanes + l];
          std::copy_n(corr, kLanes, s.corr.data() + r * kLanes);
        }
      }
      lowbit_detail::EpilogueRows e;
      e.tile = s.tile.data();
      e.rows = rows;
      e.blk = blk;
      e.lanes = lanes;
      e.row_sum = s.row_sum.data();
      e.pad_count = pk.binary && any_pad ? s.pad_count.data() : nullptr;
      e.corr = s.corr.data();
      e.lane_stride = positions;
      e.row_stride = 1;
      Epilogue(path, pk, e, y + (b * pk.n + blk * kLanes) * positions + o0, lo, hi);
    }
  }
}

template <class TX, class TY>
void LowBitConv(const LowBitPacked& pk, const ConvQ8Params& p, const TX* x, TY* y, LowBitConvInput& in,
                ThreadPool* pool) {
  const PopcountPath path = bitserial::PopcountPathFor(ActiveIsa());
  LowBitConvPrepareInput(pk, p, in);
  const int64_t np = LowBitConvPackTaskCount(pk, p), nc = LowBitConvTaskCount(pk, p);
  if (pool && pool->num_threads() > 1) {
    pool->ParallelFor(np, [&](int64_t lo, int64_t hi) { LowBitConvPackInput(pk, p, x, in, lo, hi, path); });
    pool->ParallelFor(nc, [&](int64_t lo, int64_t hi) { LowBitConvRun(pk, p, in, y, lo, hi, path); });
  } else {
    LowBitConvPackInput(pk, p, x, in, 0, np, path);
    LowBitConvRun(pk, p, in, y, 0, nc, path);
  }
}

template <class TA, class TC>
void LowBitGemm(const LowBitPacked& pk, int64_t m, const TA* a, TC* c, ThreadPool* pool) {
  const PopcountPath path = bitserial::PopcountPathFor(ActiveIsa());
  const int64_t n = LowBitGemmTaskCount(pk, m);
  if (pool && pool->num_threads() > 1)
    pool->ParallelFor(n, [&](int64_t lo, int64_t hi) { LowBitGemmRun(pk, m, a, c, lo, hi, path); });
  else
    LowBitGemmRun(pk, m, a, c, 0, n, path);
}

#define NIBBLE_LOWBIT_INSTANTIATE_IO(TA, TC)                                                                       \
  template void LowBitGemmRun<TA, TC>(const LowBitPacked&, int64_t, const TA*, TC*, int64_t, int64_t,             \
                                      PopcountPath);                                                              \
  template void LowBitGemm<TA, TC>(const LowBitPacked&, int64_t, const TA*, TC*, ThreadPool*);                    \
  template void LowBitConv<TA, TC>(const LowBitPacked&, const ConvQ8Params&, const TA*, TC*, LowBitConvInput&,    \
                                   ThreadPool*);
NIBBLE_LOWBIT_INSTANTIATE_IO(uint8_t, uint8_t)
NIBBLE_LOWBIT_INSTANTIATE_IO(uint8_t, int8_t)
NIBBLE_LOWBIT_INSTANTIATE_IO(uint8_t, int32_t)
NIBBLE_LOWBIT_INSTANTIATE_IO(int8_t, uint8_t)
NIBBLE_LOWBIT_INSTANTIATE_IO(int8_t, int8_t)
NIBBLE_LOWBIT_INSTANTIATE_IO(int8_t, int32_t)
#undef NIBBLE_LOWBIT_INSTANTIATE_IO
template void LowBitConvPackInput<uint8_t>(const LowBitPacked&, const ConvQ8Params&, const uint8_t*,
                                           LowBitConvInput&, int64_t, int64_t, PopcountPath);
template void LowBitConvPackInput<int8_t>(const LowBitPacked&, const ConvQ8Params&, const int8_t*,
                                          LowBitConvInput&, int64_t, int64_t, PopcountPath);
template void LowBitConvRun<uint8_t>(const LowBitPacked&, const ConvQ8Params&, const LowBitConvInput&, uint8_t*,
                                     int64_t, int64_t, PopcountPath);
template void LowBitConvRun<int8_t>(const LowBitPacked&, const ConvQ8Params&, const LowBitConvInput&, int8_t*,
                                    int64_t, int64_t, PopcountPath);
template void LowBitConvRun<int32_t>(const LowBitPacked&, const ConvQ8Params&, const LowBitConvInput&, int32_t*,
                                     int64_t, int64_t, PopcountPath);

}  // namespace nibble
