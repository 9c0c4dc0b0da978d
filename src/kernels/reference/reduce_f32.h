// Reductions over any set of axes (ONNX ReduceSum, ReduceMean, ...). Floats
// accumulate in double, signed ints in int64, unsigned ints in uint64, bool as
// 0/1 (Max is "any", Min is "all"). An empty reduction gives the identity:
// 0 for Sum/L1/L2/SumSquare, 1 for Prod, -inf/+inf (or the type's limits) for
// Max/Min, -inf for LogSum/LogSumExp and NaN (floats) or 0 (ints) for Mean.
#pragma once
#include <cstdint>
#include <vector>

namespace nibble {

enum class ReduceKind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kSumSquare, kLogSum, kLogSumExp };

// Ground truth: for each output element (row-major over the kept dims, in
// [out_lo, out_hi)), walks every reduced index with an odometer.
// `reduce[d]` says whether dim d of `shape` is reduced.
template <class T>
void ReduceReference(ReduceKind kind, const std::vector<int64_t>& shape, const std::vector<bool>& reduce, const T* x,
                     T* y, int64_t out_lo, int64_t out_hi);

// The common case once adjacent dims are merged: x viewed as [outer, n, inner],
// reduced over n. Rows [outer_lo, outer_hi), columns [inner_lo, inner_hi).
// With inner > 1 whole rows are accumulated at a time (contiguous reads).
template <class T>
void ReduceOuterInner(ReduceKind kind, const T* x, T* y, int64_t n, int64_t inner, int64_t outer_lo,
                      int64_t outer_hi, int64_t inner_lo, int64_t inner_hi);

}  // namespace nibble
