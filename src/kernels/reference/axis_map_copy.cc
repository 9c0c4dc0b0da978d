#include "kernels/reference/axis_map_copy.h"

#include <algorithm>
#include <cstring>

namespace nibble {
namespace {

// A run of the innermost map: `count` elements read contiguously from
// `offset` on, or filled when offset < 0.
struct Run {
  int64_t offset, count;
};

// Splits the innermost map into runs; long runs (step-1 slices, padding,
// transposes that keep the last axis) are then copied with memcpy.
std::vector<Run> InnerRuns(const std::vector<int64_t>& last) {
  std::vector<Run> runs;
  for (int64_t off : last) {
    if (!runs.empty()) {
      Run& r = runs.back();
      if ((off < 0 && r.offset < 0) || (off >= 0 && r.offset >= 0 && off == r.offset + r.count)) {
        ++r.count;
        continue;
      }
    }
    runs.push_back({off < 0 ? -1 : off, 1});
  }
  return runs;
}

template <class E>
void CopyTyped(const E* in, E* out, const std::vector<std::vector<int64_t>>& maps, const E* fill) {
  const size_t rank = maps.size();
  if (rank == 0) {
    out[0] = in[0];
    return;
  }
  int64_t total = 1;
  for (const auto& m : maps) total *= static_cast<int64_t>(m.size());
  if (total == 0) return;
  const std::vector<int64_t>& last = maps[rank - 1];
  const int64_t inner = static_cast<int64_t>(last.size());
  const std::vector<Run> runs = InnerRuns(last);
  const bool use_runs = static_cast<int64_t>(runs.size()) * 4 <= inner;
  std::vector<int64_t> counter(rank - 1, 0);
  for (int64_t o = 0; o < total; o += inner) {
    int64_t base = 0;
    bool filled_row = false;
    for (size_t d = 0; d + 1 < rank; ++d) {
      int64_t off = maps[d][counter[d]];
      if (off < 0) filled_row = true;
      base += off;
    }
    E* row = out + o;
    if (filled_row) {
      std::fill(row, row + inner, *fill);
    } else if (use_runs) {
      for (const Run& r : runs) {
        if (r.offset < 0) std::fill(row, row + r.count, *fill);
        else std::memcpy(row, in + base + r.offset, static_cast<size_t>(r.count) * sizeof(E));
        row += r.count;
      }
    } else {
      for (int64_t i = 0; i < inner; ++i) row[i] = last[i] < 0 ? *fill : in[base + last[i]];
    }
    for (size_t d = rank - 1; d-- > 0;) {
      if (++counter[d] < static_cast<int64_t>(maps[d].size())) break;
      counter[d] = 0;
    }
  }
}

}  // namespace

std::vector<int64_t> ContiguousStrides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> st(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) st[i - 1] = st[i] * shape[i];
  return st;
}

void CopyByAxisMaps(const void* in, void* out, const std::vector<std::vector<int64_t>>& maps, size_t elem_size,
                    const void* fill) {
  switch (elem_size) {
    case 1:
      return CopyTyped(static_cast<const uint8_t*>(in), static_cast<uint8_t*>(out), maps,
                       static_cast<const uint8_t*>(fill));
    case 2:
      return CopyTyped(static_cast<const uint16_t*>(in), static_cast<uint16_t*>(out), maps,
                       static_cast<const uint16_t*>(fill));
    case 4:
      return CopyTyped(static_cast<const uint32_t*>(in), static_cast<uint32_t*>(out), maps,
                       static_cast<const uint32_t*>(fill));
    case 8:
      return CopyTyped(static_cast<const uint64_t*>(in), static_cast<uint64_t*>(out), maps,
                       static_cast<const uint64_t*>(fill));
    default: break;
  }
  // Generic path: copy element by element through an index walk.
  const size_t rank = maps.size();
  const uint8_t* src = static_cast<const uint8_t*>(in);
  uint8_t* dst = static_cast<uint8_t*>(out);
  const uint8_t* pad = static_cast<const uint8_t*>(fill);
  if (rank == 0) {
    std::memcpy(dst, src, elem_size);
    return;
  }
  int64_t total = 1;
  for (const auto& m : maps) total *= static_cast<int64_t>(m.size());
  std::vector<int64_t> counter(rank, 0);
  for (int64_t o = 0; o < total; ++o) {
    int64_t off = 0;
    bool is_fill = false;
    for (size_t d = 0; d < rank; ++d) {
      int64_t v = maps[d][counter[d]];
      is_fill |= v < 0;
      off += v;
    }
    std::memcpy(dst + o * elem_size, is_fill ? pad : src + off * elem_size, elem_size);
    for (size_t d = rank; d-- > 0;) {
      if (++counter[d] < static_cast<int64_t>(maps[d].size())) break;
      counter[d] = 0;
    }
  }
}

}  // namespace nibble
