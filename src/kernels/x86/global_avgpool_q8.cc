// int8 GlobalAveragePool: the dispatch (global_avgpool_q8.h).
#include "kernels/x86/global_avgpool_q8.h"

#include <algorithm>
#include <vector>

namespace nibble {

template <class T>
void GlobalAvgPoolQ8X86(const GlobalAvgPoolQ8Params& p, const T* x, T* y, int64_t plane_lo, int64_t plane_hi,
                        Isa isa) {
  if (isa == Isa::kScalar) {
    GlobalAvgPoolQ8Reference(p, x, y, plane_lo, plane_hi);
    return;
  }
  GlobalAvgPoolQ8Check<T>(p);
  constexpr int64_t kChunk = 256;  // planes per batch of sums, on the stack
  int32_t sums[kChunk];
  for (int64_t b = plane_lo; b < plane_hi; b += kChunk) {
    const int64_t n = std::min(kChunk, plane_hi - b);
    if (isa >= Isa::kAvx512Vnni) gapq8_detail::SumsAvx512(x + b * p.spatial, p.spatial, n, sums);
    else gapq8_detail::SumsAvx2(x + b * p.spatial, p.spatial, n, sums);
    GlobalAvgPoolQ8FromSums(p, sums, y + b, n);
  }
}

template <class T>
void GlobalAvgPoolQ8ChannelsLast(const GlobalAvgPoolQ8Params& p, const T* x, int64_t channels, T* y,
                                 int64_t image_lo, int64_t image_hi) {
  GlobalAvgPoolQ8Check<T>(p);
  thread_local std::vector<int32_t> sums;
  sums.resize(static_cast<size_t>(channels));
  for (int64_t n = image_lo; n < image_hi; ++n) {
    std::fill(sums.begin(), sums.end(), 0);
    int32_t* s = sums.data();
    for (int64_t i = 0; i < p.spatial; ++i) {
      const T* px = x + (n * p.spatial + i) * channels;
      for (int64_t c = 0; c < channels; ++c) s[c] += px[c];
    }
    GlobalAvgPoolQ8FromSums(p, s, y + n * channels, channels);
  }
}

template void GlobalAvgPoolQ8ChannelsLast<uint8_t>(const GlobalAvgPoolQ8Params&, const uint8_t*, int64_t, uint8_t*,
                                                   int64_t, int64_t);
template void GlobalAvgPoolQ8ChannelsLast<int8_t>(const GlobalAvgPoolQ8Params&, const int8_t*, int64_t, int8_t*,
                                                  int64_t, int64_t);

template void GlobalAvgPoolQ8X86<uint8_t>(const GlobalAvgPoolQ8Params&, const uint8_t*, uint8_t*, int64_t, int64_t,
                                          Isa);
template void GlobalAvgPoolQ8X86<int8_t>(const GlobalAvgPoolQ8Params&, const int8_t*, int8_t*, int64_t, int64_t, Isa);

}  // namespace nibble
