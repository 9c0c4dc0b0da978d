// Numpy-style multidirectional broadcasting for elementwise kernels.
#pragma once
#include <cstdint>
#include <vector>

#include "nibble/tensor.h"

namespace nibble {

// The broadcast shape of several shapes, or fails naming both.
Shape BroadcastShapes(const std::vector<Shape>& shapes);

// Element strides of `in` when read as `out` (0 along broadcast dims).
std::vector<int64_t> BroadcastStrides(const Shape& in, const Shape& out);

// Calls f(out_index, idx_0, ..., idx_{N-1}) for every output element, where
// idx_k is the matching element of input k. Walks the innermost dim with
// constant steps so compilers can vectorize the common cases.
template <size_t N, class F>
void ForEachBroadcast(const Shape& out, const std::vector<int64_t> (&strides)[N], F&& f) {
  const int64_t rank = static_cast<int64_t>(out.size());
  int64_t total = 1;
  for (int64_t d : out) total *= d;
  if (total == 0) return;
  if (rank == 0) {
    int64_t idx[N] = {};
    f(0, idx);
    return;
  }
  const int64_t inner = out[rank - 1];
  int64_t step[N];
  for (size_t k = 0; k < N; ++k) step[k] = strides[k][rank - 1];
  std::vector<int64_t> counter(rank, 0);
  int64_t base[N] = {};
  for (int64_t o = 0; o < total; o += inner) {
    int64_t idx[N];
    for (size_t k = 0; k < N; ++k) idx[k] = base[k];
    for (int64_t i = 0; i < inner; ++i) {
      f(o + i, idx);
      for (size_t k = 0; k < N; ++k) idx[k] += step[k];
    }
    for (int64_t d = rank - 2; d >= 0; --d) {
      if (++counter[d] < out[d]) {
        for (size_t k = 0; k < N; ++k) base[k] += strides[k][d];
        break;
      }
      for (size_t k = 0; k < N; ++k) base[k] -= strides[k][d] * (out[d] - 1);
      counter[d] = 0;
    }
  }
}

}  // namespace nibble
