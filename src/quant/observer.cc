#include "quant/observer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "nibble/error.h"

namespace nibble {

CalibMethod ParseCalibMethod(const std::string& s) {
  if (s == "minmax") return CalibMethod::kMinMax;
  if (s == "percentile") return CalibMethod::kPercentile;
  if (s == "entropy") return CalibMethod::kEntropy;
  if (s == "mse") return CalibMethod::kMse;
  Fail("unknown calibration method '", s, "' (expected minmax, percentile, entropy or mse)");
}

const char* CalibMethodName(CalibMethod m) {
  switch (m) {
    case CalibMethod::kMinMax: return "minmax";
    case CalibMethod::kPercentile: return "percentile";
    case CalibMethod::kEntropy: return "entropy";
    case CalibMethod::kMse: return "mse";
  }
  return "?";
}

QuantParams ParamsFromRange(Range r, const QuantSpec& spec) {
  QuantParams p;
  p.bits = spec.bits;
  p.is_signed = spec.is_signed;
  p.narrow = spec.narrow;
  float lo = std::min(r.lo, 0.f), hi = std::max(r.hi, 0.f);
  const double qmin = p.qmin(), qmax = p.qmax();
  double scale;
  int32_t zp;
  if (spec.symmetric) {
    double amax = std::max(-lo, hi);
    // Signed: zero at 0, [-amax, amax] onto [-qmax, qmax]. Unsigned: zero at the middle code.
    double half = spec.is_signed ? qmax : std::floor((qmax - qmin) / 2);
    scale = amax / half;
    zp = spec.is_signed ? 0 : static_cast<int32_t>(qmin + half);
  } else {
    scale = (static_cast<double>(hi) - lo) / (qmax - qmin);
    zp = scale > 0 ? static_cast<int32_t>(std::lround(qmin - lo / scale)) : 0;
    zp = static_cast<int32_t>(std::clamp<double>(zp, qmin, qmax));
  }
  // An all-zero value still needs a valid scale.
  if (!(scale > 0) || !std::isfinite(scale)) scale = 1.0;
  p.scale = {static_cast<float>(scale)};
  p.zero_point = {zp};
  return p;
}

void ValueObserver::ObserveMinMax(const float* x, int64_t n) {
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) continue;
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  if (lo > hi) return;
  if (!seen_) {
    min_ = lo;
    max_ = hi;
    seen_ = true;
  } else {
    min_ = std::min(min_, lo);
    max_ = std::max(max_, hi);
  }
}

void ValueObserver::StartHistogram() {
  hist_.assign(kBins, 0);
  abs_hist_.assign(kBins, 0);
  amax_ = std::max(std::fabs(min_), std::fabs(max_));
}

void ValueObserver::ObserveHistogram(const float* x, int64_t n) {
  if (!seen_ || hist_.empty()) return;
  const double width = (static_cast<double>(max_) - min_) / kBins;
  const double awidth = static_cast<double>(amax_) / kBins;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) continue;
    int b = width > 0 ? static_cast<int>((x[i] - min_) / width) : 0;
    hist_[std::clamp(b, 0, kBins - 1)] += 1;
    int a = awidth > 0 ? static_cast<int>(std::fabs(x[i]) / awidth) : 0;
    abs_hist_[std::clamp(a, 0, kBins - 1)] += 1;
  }
}

Range ValueObserver::Choose(CalibMethod m, const QuantSpec& spec, double percentile) const {
  if (!seen_) return {0, 0};
  if (m == CalibMethod::kMinMax || hist_.empty() || min_ == max_) return {min_, max_};
  switch (m) {
    case CalibMethod::kPercentile: return Percentile(percentile);
    case CalibMethod::kEntropy: return Entropy(spec);
    case CalibMethod::kMse: return Mse(spec);
    default: return {min_, max_};
  }
}

Range ValueObserver::Percentile(double p) const {
  double total = 0;
  for (double c : hist_) total += c;
  const double width = (static_cast<double>(max_) - min_) / kBins;
  const double tail = total * (100.0 - p) / 100.0;
  // Each side drops at most `tail` of the mass; a side that holds the zero stays put.
  double acc = 0;
  int lo_bin = 0;
  while (lo_bin < kBins - 1 && acc + hist_[lo_bin] <= tail) acc += hist_[lo_bin++];
  acc = 0;
  int hi_bin = kBins - 1;
  while (hi_bin > lo_bin && acc + hist_[hi_bin] <= tail) acc += hist_[hi_bin--];
  return {static_cast<float>(min_ + lo_bin * width), static_cast<float>(min_ + (hi_bin + 1) * width)};
}

Range ValueObserver::Entropy(const QuantSpec& spec) const {
  // Levels available on the magnitude: half the codes when the data has both signs.
  const bool one_sided = min_ >= 0 || max_ <= 0;
  const int levels = one_sided && !spec.symmetric ? (1 << spec.bits) - 1 : (1 << (spec.bits - 1)) - 1;
  const double awidth = static_cast<double>(amax_) / kBins;
  double best_kl = std::numeric_limits<double>::infinity();
  int best_i = kBins;
  std::vector<double> p, q;
  // Exact zeros (ReLU outputs, padding) are represented exactly at any
  // threshold; left in, their spike dominates the divergence and drives the
  // threshold down. They are left out of the comparison.
  std::vector<double> hist = abs_hist_;
  if (one_sided) hist[0] = 0;
  for (int i = std::max(levels, 16); i <= kBins; ++i) {
    // P: the first i bins, with everything beyond folded into the last.
    p.assign(hist.begin(), hist.begin() + i);
    for (int k = i; k < kBins; ++k) p[i - 1] += hist[k];
    // Q: the first i bins *without* the folded tail, merged into `levels` groups, then
    // spread back evenly over each group's nonzero bins of P. (Building Q from P
    // itself makes the first candidate a perfect match, KL 0, and always wins.)
    q.assign(i, 0);
    const double per = static_cast<double>(i) / levels;
    for (int l = 0; l < levels; ++l) {
      int a = static_cast<int>(std::floor(l * per)), b = static_cast<int>(std::floor((l + 1) * per));
      if (l == levels - 1) b = i;
      double sum = 0;
      int nonzero = 0;
      for (int k = a; k < b; ++k) {
        sum += hist[k];
        nonzero += p[k] > 0;
      }
      for (int k = a; k < b; ++k)
        if (p[k] > 0) q[k] = sum / nonzero;
    }
    double ps = 0, qs = 0;
    for (int k = 0; k < i; ++k) {
      ps += p[k];
      qs += q[k];
    }
    if (ps <= 0 || qs <= 0) continue;
    double kl = 0;
    for (int k = 0; k < i; ++k) {
      if (p[k] <= 0) continue;
      double pk = p[k] / ps, qk = q[k] / qs;
      kl += qk > 0 ? pk * std::log(pk / qk) : pk * 30.0;  // a bin Q cannot represent: a large penalty
    }
    if (kl < best_kl) {
      best_kl = kl;
      best_i = i;
    }
  }
  const float t = static_cast<float>(best_i * awidth);
  return {std::max(min_, -t), std::min(max_, t)};
}

Range ValueObserver::Mse(const QuantSpec& spec) const {
  const double width = (static_cast<double>(max_) - min_) / kBins;
  Range best{min_, max_};
  double best_err = std::numeric_limits<double>::infinity();
  for (int step = 0; step < 100; ++step) {
    const double alpha = 1.0 - step * 0.007;  // shrink the range down to 30%
    Range r{static_cast<float>(min_ * alpha), static_cast<float>(max_ * alpha)};
    QuantParams qp = ParamsFromRange(r, spec);
    const double s = qp.scale[0], z = qp.zero_point[0];
    double err = 0;
    for (int b = 0; b < kBins; ++b) {
      if (hist_[b] == 0) continue;
      double x = min_ + (b + 0.5) * width;
      double q = std::clamp(std::nearbyint(x / s) + z, static_cast<double>(qp.qmin()), static_cast<double>(qp.qmax()));
      double d = x - (q - z) * s;
      err += hist_[b] * d * d;
    }
    if (err < best_err) {
      best_err = err;
      best = r;
    }
  }
  return best;
}

}  // namespace nibble
