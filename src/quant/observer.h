// Calibration statistics of one float value over a calibration set, and the
// range each calibration method picks from them.
//
// Calibration runs in two passes: the first records min/max, the second fills
// histograms over that fixed range (2048 bins of the signed values, and of
// |x| for the entropy method). Methods:
//   minmax      the observed [min, max]
//   percentile  drops the (100-p)% most extreme values (p = 99.99 by default)
//   entropy     the clipping threshold minimizing the KL divergence between
//               the |x| histogram and its quantized version (TensorRT's method)
//   mse         the clipping (a shrink factor of the min/max range) minimizing the
//               expected squared quantization error over the histogram
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/quant_params.h"

namespace nibble {

enum class CalibMethod { kMinMax, kPercentile, kEntropy, kMse };
CalibMethod ParseCalibMethod(const std::string& s);
const char* CalibMethodName(CalibMethod m);

// How a value is to be quantized: width, signedness, symmetry.
struct QuantSpec {
  int bits = 8;
  bool is_signed = false;
  bool symmetric = false;
  bool narrow = false;
};

struct Range {
  float lo = 0, hi = 0;
};

// scale/zero point covering [lo, hi] (widened to include 0, so 0 is exact).
QuantParams ParamsFromRange(Range r, const QuantSpec& spec);

class ValueObserver {
 public:
  static constexpr int kBins = 2048;
  void ObserveMinMax(const float* x, int64_t n);
  // Call once between the passes; fixes the histogram range.
  void StartHistogram();
  void ObserveHistogram(const float* x, int64_t n);
  bool has_data() const { return seen_; }
  Range minmax() const { return {min_, max_}; }
  Range Choose(CalibMethod m, const QuantSpec& spec, double percentile = 99.99) const;

 private:
  Range Percentile(double p) const;
  Range Entropy(const QuantSpec& spec) const;
  Range Mse(const QuantSpec& spec) const;
  bool seen_ = false;
  float min_ = 0, max_ = 0;
  std::vector<double> hist_, abs_hist_;
  float amax_ = 0;
};

}  // namespace nibble
