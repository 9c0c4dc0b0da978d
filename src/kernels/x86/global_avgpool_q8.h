// Vectorized int8 GlobalAveragePool: the per-plane code sums with vpsadbw
// (AVX-512 BW: a masked 64-byte load per 64 codes; AVX2: 32 at a time and a
// scalar tail), then GlobalAvgPoolQ8FromSums, the reference's own
// requantization, so the result is GlobalAvgPoolQ8Reference's bit for bit.
// int8 codes are flipped to uint8 (x + 128) for vpsadbw and 128 per code taken
// back off. Isa::kScalar runs the reference.
#pragma once
#include <cstdint>

#include "kernels/reference/pool_q8.h"
#include "kernels/x86/isa.h"

namespace nibble {

// x: [planes, p.spatial], y: [planes]; computes planes [plane_lo, plane_hi).
template <class T>
void GlobalAvgPoolQ8X86(const GlobalAvgPoolQ8Params& p, const T* x, T* y, int64_t plane_lo, int64_t plane_hi,
                        Isa isa = ActiveIsa());

// Channels-last input (runtime/channels_last.h): x: [images, p.spatial,
// channels], y: [images, channels]; computes images [image_lo, image_hi). The
// sums run along each position's contiguous channels (a loop the compiler
// vectorizes), then GlobalAvgPoolQ8FromSums as above.
template <class T>
void GlobalAvgPoolQ8ChannelsLast(const GlobalAvgPoolQ8Params& p, const T* x, int64_t channels, T* y,
                                 int64_t image_lo, int64_t image_hi);

namespace gapq8_detail {
// sums[i] = the sum of the codes of plane i of x, i in [0, n).
template <class T>
void SumsAvx512(const T* x, int64_t spatial, int64_t n, int32_t* sums);
template <class T>
void SumsAvx2(const T* x, int64_t spatial, int64_t n, int32_t* sums);
}  // namespace gapq8_detail

}  // namespace nibble
