// Calibration observers and the scale/zero point they lead to, checked against
// numbers worked out by hand (ParamsFromRange) or computed independently in the
// test (coverage of the chosen range, the quantization error it causes).
#include "quant/observer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace nibble {
namespace {

QuantSpec Uint8() { return QuantSpec{8, false, false, false}; }
QuantSpec Int8Symmetric() { return QuantSpec{8, true, true, false}; }

// Both calibration passes over the same data, as Calibrate runs them.
ValueObserver Observe(const std::vector<float>& x) {
  ValueObserver ob;
  ob.ObserveMinMax(x.data(), static_cast<int64_t>(x.size()));
  ob.StartHistogram();
  ob.ObserveHistogram(x.data(), static_cast<int64_t>(x.size()));
  return ob;
}

double FractionInside(const std::vector<float>& x, Range r) {
  int64_t in = 0;
  for (float v : x) in += v >= r.lo && v <= r.hi;
  return static_cast<double>(in) / x.size();
}

// Mean squared error of quantize-then-dequantize with params `p`, computed
// here from the definition (real = scale * (q - zp), q rounded half to even
// and saturated), independent of the observer's histogram estimate.
double FakeQuantMse(const std::vector<float>& x, const QuantParams& p) {
  const double s = p.scale.at(0), z = p.zero_point.at(0);
  const double qmin = p.is_signed ? -std::ldexp(1.0, p.bits - 1) : 0.0;
  const double qmax = p.is_signed ? std::ldexp(1.0, p.bits - 1) - 1 : std::ldexp(1.0, p.bits) - 1;
  double err = 0;
  for (float v : x) {
    double q = std::clamp(std::nearbyint(v / s) + z, qmin, qmax);
    double d = v - s * (q - z);
    err += d * d;
  }
  return err / x.size();
}

// A standard normal bulk with a few planted far outliers on both sides.
std::vector<float> GaussianWithOutliers(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> x(n);
  for (float& v : x) v = g(rng);
  x.push_back(40.f);
  x.push_back(-25.f);
  return x;
}

// ---- ParamsFromRange ----

TEST(ParamsFromRange, AsymmetricUint8ByHand) {
  // [-1, 3]: scale 4/255, zero point round(0 - (-1) / (4/255)) = round(63.75) = 64.
  QuantParams p = ParamsFromRange({-1.f, 3.f}, Uint8());
  ASSERT_EQ(p.scale.size(), 1u);
  ASSERT_EQ(p.zero_point.size(), 1u);
  EXPECT_FLOAT_EQ(p.scale[0], 4.f / 255.f);
  EXPECT_EQ(p.zero_point[0], 64);
  EXPECT_FALSE(p.is_signed);
  EXPECT_EQ(p.bits, 8);
  EXPECT_EQ(p.qmin(), 0);
  EXPECT_EQ(p.qmax(), 255);
}

TEST(ParamsFromRange, RangeIsWidenedToIncludeZero) {
  // [0.5, 2] -> [0, 2]: scale 2/255, zero point 0 (0 is exact).
  QuantParams pos = ParamsFromRange({0.5f, 2.f}, Uint8());
  EXPECT_FLOAT_EQ(pos.scale[0], 2.f / 255.f);
  EXPECT_EQ(pos.zero_point[0], 0);
  // [-3, -1] -> [-3, 0]: scale 3/255, zero point 255.
  QuantParams neg = ParamsFromRange({-3.f, -1.f}, Uint8());
  EXPECT_FLOAT_EQ(neg.scale[0], 3.f / 255.f);
  EXPECT_EQ(neg.zero_point[0], 255);
}

TEST(ParamsFromRange, AsymmetricInt8ByHand) {
  // [-1, 3] on [-128, 127]: scale 4/255, zero point round(-128 + 63.75) = -64.
  QuantParams p = ParamsFromRange({-1.f, 3.f}, QuantSpec{8, true, false, false});
  EXPECT_FLOAT_EQ(p.scale[0], 4.f / 255.f);
  EXPECT_EQ(p.zero_point[0], -64);
}

TEST(ParamsFromRange, SymmetricInt8IsAmaxOver127WithZeroPointZero) {
  QuantParams p = ParamsFromRange({-2.f, 1.5f}, Int8Symmetric());
  EXPECT_FLOAT_EQ(p.scale[0], 2.f / 127.f);
  EXPECT_EQ(p.zero_point[0], 0);
  // The larger side decides, whichever sign it has.
  QuantParams q = ParamsFromRange({-0.5f, 3.f}, Int8Symmetric());
  EXPECT_FLOAT_EQ(q.scale[0], 3.f / 127.f);
  EXPECT_EQ(q.zero_point[0], 0);
}

TEST(ParamsFromRange, SymmetricUint8CentresTheZeroPoint) {
  // Unsigned symmetric: [-amax, amax] onto [0, 254] around the middle code 127.
  QuantParams p = ParamsFromRange({-2.f, 1.f}, QuantSpec{8, false, true, false});
  EXPECT_FLOAT_EQ(p.scale[0], 2.f / 127.f);
  EXPECT_EQ(p.zero_point[0], 127);
}

TEST(ParamsFromRange, AllZeroRangeStillGivesAValidScale) {
  for (QuantSpec spec : {Uint8(), Int8Symmetric(), QuantSpec{8, true, false, false}, QuantSpec{4, false, false, false}}) {
    QuantParams p = ParamsFromRange({0.f, 0.f}, spec);
    ASSERT_EQ(p.scale.size(), 1u);
    EXPECT_TRUE(std::isfinite(p.scale[0]) && p.scale[0] > 0) << p.scale[0];
    EXPECT_GE(p.zero_point[0], p.qmin());
    EXPECT_LE(p.zero_point[0], p.qmax());
    EXPECT_NO_THROW(p.Validate("all-zero"));
    // Zero is represented exactly: it quantizes to the zero point.
    EXPECT_EQ(std::nearbyint(0.f / p.scale[0]) + p.zero_point[0], p.zero_point[0]);
  }
}

TEST(ParamsFromRange, FourBitUnsignedByHand) {
  // [-1, 2] on [0, 15]: scale 3/15 = 0.2, zero point round(1 / 0.2) = 5.
  QuantParams p = ParamsFromRange({-1.f, 2.f}, QuantSpec{4, false, false, false});
  EXPECT_FLOAT_EQ(p.scale[0], 0.2f);
  EXPECT_EQ(p.zero_point[0], 5);
}

// ---- ValueObserver ----

TEST(ValueObserver, NoDataMeansNoRange) {
  ValueObserver ob;
  EXPECT_FALSE(ob.has_data());
  Range r = ob.Choose(CalibMethod::kMinMax, Uint8());
  EXPECT_EQ(r.lo, 0.f);
  EXPECT_EQ(r.hi, 0.f);
}

TEST(ValueObserver, MinMaxAccumulatesOverBatchesAndSkipsNonFinite) {
  ValueObserver ob;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> a = {0.25f, -0.5f, 1.75f, nan};
  std::vector<float> b = {inf, -3.125f, 0.f, -inf};
  std::vector<float> c = {nan, inf};  // nothing finite: changes nothing
  ob.ObserveMinMax(a.data(), a.size());
  EXPECT_TRUE(ob.has_data());
  EXPECT_EQ(ob.minmax().lo, -0.5f);
  EXPECT_EQ(ob.minmax().hi, 1.75f);
  ob.ObserveMinMax(b.data(), b.size());
  ob.ObserveMinMax(c.data(), c.size());
  EXPECT_EQ(ob.minmax().lo, -3.125f);
  EXPECT_EQ(ob.minmax().hi, 1.75f);
  Range r = ob.Choose(CalibMethod::kMinMax, Uint8());
  EXPECT_EQ(r.lo, -3.125f);
  EXPECT_EQ(r.hi, 1.75f);
}

TEST(ValueObserver, OnlyNonFiniteDataIsNoData) {
  ValueObserver ob;
  std::vector<float> c = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()};
  ob.ObserveMinMax(c.data(), c.size());
  EXPECT_FALSE(ob.has_data());
}

TEST(ValueObserver, AllZeroDataGivesValidParamsForEveryMethod) {
  std::vector<float> x(1000, 0.f);
  ValueObserver ob = Observe(x);
  for (CalibMethod m : {CalibMethod::kMinMax, CalibMethod::kPercentile, CalibMethod::kEntropy, CalibMethod::kMse}) {
    Range r = ob.Choose(m, Uint8());
    EXPECT_EQ(r.lo, 0.f) << CalibMethodName(m);
    EXPECT_EQ(r.hi, 0.f) << CalibMethodName(m);
    QuantParams p = ParamsFromRange(r, Uint8());
    EXPECT_TRUE(std::isfinite(p.scale[0]) && p.scale[0] > 0) << CalibMethodName(m);
    EXPECT_NO_THROW(p.Validate(CalibMethodName(m)));
  }
}

TEST(ValueObserver, PercentileDropsAPlantedOutlier) {
  // 10000 values in [0, 1] and one 1000: the 99.99th percentile drops the 1000.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> x(10000);
  for (float& v : x) v = u(rng);
  x.push_back(1000.f);
  ValueObserver ob = Observe(x);
  Range r = ob.Choose(CalibMethod::kPercentile, Uint8(), 99.99);
  const double bin = 1000.0 / ValueObserver::kBins;  // the histogram's resolution over [min, max]
  EXPECT_GE(r.hi, 0.99f);
  // Well below the outlier: within one histogram bin of the true maximum of the bulk.
  EXPECT_LE(r.hi, 1.0 + bin + 1e-3);
  EXPECT_GE(r.lo, 0.f);
  EXPECT_LE(r.lo, bin);
  // minmax, for contrast, keeps the outlier.
  EXPECT_EQ(ob.Choose(CalibMethod::kMinMax, Uint8()).hi, 1000.f);
}

TEST(ValueObserver, PercentileOnUniformDataCutsEachTail) {
  // 100000 values uniform in [-1, 1], p = 99: the .cc drops up to 1% of the mass on
  // each side, so the range is [-0.98, 0.98] to within two histogram bins.
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> x(100000);
  for (float& v : x) v = u(rng);
  ValueObserver ob = Observe(x);
  Range r = ob.Choose(CalibMethod::kPercentile, Uint8(), 99.0);
  const double bin = 2.0 / ValueObserver::kBins;
  EXPECT_NEAR(r.hi, 0.98, 2 * bin);
  EXPECT_NEAR(r.lo, -0.98, 2 * bin);
  // Each side drops at most 1% of the values.
  int64_t above = 0, below = 0;
  for (float v : x) {
    above += v > r.hi;
    below += v < r.lo;
  }
  EXPECT_LE(above, 1000);
  EXPECT_LE(below, 1000);
}

TEST(ValueObserver, EntropyThresholdIsInsideTheRange) {
  std::vector<float> x = GaussianWithOutliers(100000, 3);
  ValueObserver ob = Observe(x);
  Range mm = ob.minmax();
  ASSERT_EQ(mm.lo, -25.f);
  ASSERT_EQ(mm.hi, 40.f);
  for (QuantSpec spec : {Uint8(), Int8Symmetric()}) {
    Range r = ob.Choose(CalibMethod::kEntropy, spec);
    // Strictly inside [min, max], on both sides, and far from the outliers.
    EXPECT_GT(r.lo, mm.lo);
    EXPECT_LT(r.hi, mm.hi);
    EXPECT_LT(r.lo, 0.f);
    EXPECT_GT(r.hi, 0.f);
    EXPECT_LT(r.hi, 0.5 * mm.hi);
  }
}

// The entropy threshold keeps the bulk of the distribution. (A bug built Q
// from P with the clipped tail folded in, so the first candidate always won
// with KL 0 and clipped N(0,1) at about +-0.28; ORT's entropy calibrator
// clips N(0,1) + {40, -25} at about +-5.2.)
TEST(ValueObserver, EntropyKeepsTheBulkOfAGaussianWithOutliers) {
  std::vector<float> x = GaussianWithOutliers(100000, 3);
  ValueObserver ob = Observe(x);
  for (QuantSpec spec : {Uint8(), Int8Symmetric()}) {
    Range r = ob.Choose(CalibMethod::kEntropy, spec);
    EXPECT_GT(FractionInside(x, r), 0.995) << "[" << r.lo << ", " << r.hi << "]";
  }
}

TEST(ValueObserver, EntropyKeepsTheBulkOfAGaussian) {
  std::mt19937 rng(17);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> two(100000), one(100000);
  for (size_t i = 0; i < two.size(); ++i) {
    two[i] = g(rng);
    one[i] = std::fabs(two[i]);  // one-sided, like a ReLU output
  }
  for (const std::vector<float>* x : {&two, &one}) {
    ValueObserver ob = Observe(*x);
    Range r = ob.Choose(CalibMethod::kEntropy, Uint8());
    EXPECT_GT(FractionInside(*x, r), 0.99) << "[" << r.lo << ", " << r.hi << "] of [" << ob.minmax().lo << ", "
                                           << ob.minmax().hi << "]";
  }
}

TEST(ValueObserver, EntropyOnOneSidedData) {
  // A ReLU-like value: |N(0,1)| with one outlier at 30.
  std::mt19937 rng(5);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> x(50000);
  for (float& v : x) v = std::fabs(g(rng));
  x.push_back(30.f);
  ValueObserver ob = Observe(x);
  Range r = ob.Choose(CalibMethod::kEntropy, Uint8());
  EXPECT_GE(r.lo, 0.f);
  EXPECT_LT(r.hi, 15.f);
  EXPECT_GT(FractionInside(x, r), 0.995) << "[" << r.lo << ", " << r.hi << "]";
}

TEST(ValueObserver, MseClipsOutliersAndBeatsMinMax) {
  std::vector<float> x = GaussianWithOutliers(100000, 3);
  ValueObserver ob = Observe(x);
  Range mm = ob.minmax();
  for (QuantSpec spec : {Uint8(), Int8Symmetric()}) {
    Range r = ob.Choose(CalibMethod::kMse, spec);
    EXPECT_GT(r.lo, mm.lo);
    EXPECT_LT(r.hi, mm.hi);
    EXPECT_GT(FractionInside(x, r), 0.999) << "[" << r.lo << ", " << r.hi << "]";
    // The error it was chosen for, computed here on the samples themselves.
    double e_mse = FakeQuantMse(x, ParamsFromRange(r, spec));
    double e_minmax = FakeQuantMse(x, ParamsFromRange(mm, spec));
    EXPECT_LT(e_mse, e_minmax) << "[" << r.lo << ", " << r.hi << "]";
    // And not just marginally (measured: 0.81x for uint8, 0.66x for symmetric int8).
    EXPECT_LT(e_mse, 0.9 * e_minmax);
    // Near the best shrink of [min, max] on the same grid (1 down to 0.307 in steps of 0.007),
    // judged by the samples' own error rather than the observer's histogram estimate.
    double best = std::numeric_limits<double>::infinity();
    for (int step = 0; step < 100; ++step) {
      const double alpha = 1.0 - step * 0.007;
      Range a{static_cast<float>(mm.lo * alpha), static_cast<float>(mm.hi * alpha)};
      best = std::min(best, FakeQuantMse(x, ParamsFromRange(a, spec)));
    }
    EXPECT_LE(e_mse, 1.02 * best) << "[" << r.lo << ", " << r.hi << "]";
  }
}

TEST(ValueObserver, MseKeepsTheFullRangeWithoutOutliers) {
  // Uniform data has no tail to trade: clipping only adds error, so MSE keeps
  // (nearly) the min/max range.
  std::mt19937 rng(13);
  std::uniform_real_distribution<float> u(-1.f, 2.f);
  std::vector<float> x(50000);
  for (float& v : x) v = u(rng);
  ValueObserver ob = Observe(x);
  Range r = ob.Choose(CalibMethod::kMse, Uint8());
  Range mm = ob.minmax();
  EXPECT_GE(r.hi, 0.97 * mm.hi);
  EXPECT_LE(r.lo, 0.97 * mm.lo);
  EXPECT_LE(FakeQuantMse(x, ParamsFromRange(r, Uint8())), 1.01 * FakeQuantMse(x, ParamsFromRange(mm, Uint8())));
}

TEST(CalibMethod, NamesRoundTripAndUnknownFails) {
  for (CalibMethod m : {CalibMethod::kMinMax, CalibMethod::kPercentile, CalibMethod::kEntropy, CalibMethod::kMse})
    EXPECT_EQ(ParseCalibMethod(CalibMethodName(m)), m);
  EXPECT_ANY_THROW(ParseCalibMethod("kl"));
}

}  // namespace
}  // namespace nibble
