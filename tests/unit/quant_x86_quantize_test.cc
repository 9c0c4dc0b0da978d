// Vectorized QuantizeLinear against QuantizeValue, bit for bit, at every ISA
// level this CPU runs: ties, huge values, infinities, NaN, denormals, every
// tail length, buffers ending at an unmapped page.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/reference/requantize.h"
#include "kernels/x86/quantize_linear_x86.h"
#include "unit/guard_page.h"

namespace nibble {
namespace {

template <class T>
void CheckAgainstReference(const std::vector<float>& x, float scale, int32_t zp, Isa isa) {
  constexpr int32_t qmin = std::numeric_limits<T>::min(), qmax = std::numeric_limits<T>::max();
  testing::GuardedBuffer<float> in(x.size());
  in.CopyFrom(x.data());
  testing::GuardedBuffer<T> out(x.size());
  QuantizeLinearX86<T>(in.data(), out.data(), static_cast<int64_t>(x.size()), scale, zp, isa);
  for (size_t i = 0; i < x.size(); ++i)
    ASSERT_EQ(static_cast<int32_t>(out[i]), QuantizeValue(x[i], scale, zp, qmin, qmax))
        << IsaName(isa) << " x=" << x[i] << " scale=" << scale << " zp=" << zp << " i=" << i << " n=" << x.size();
}

TEST(X86QuantizeLinear, MatchesQuantizeValueOnSpecialAndRandomValues) {
  std::mt19937 rng(11);
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (Isa isa : SupportedIsas()) {
    for (int trial = 0; trial < 300; ++trial) {
      const size_t n = trial < 70 ? trial : 1 + rng() % 300;  // every short tail, then random lengths
      // Scales with short mantissas, then any mantissa (the AVX-512 path divides
      // by multiplying with RN(1 / scale) and correcting, exact for all).
      const float scale = trial % 2 ? std::ldexp(1.0f + (rng() % 1000) / 1000.f, static_cast<int>(rng() % 12) - 8)
                                    : std::ldexp(1.0f + static_cast<float>(rng() % (1u << 23)) / (1u << 23),
                                                 static_cast<int>(rng() % 40) - 30);
      std::vector<float> x(n);
      for (size_t i = 0; i < n; ++i) {
        switch (rng() % 9) {
          case 0: x[i] = scale * (static_cast<float>(static_cast<int>(rng() % 600) - 300) + 0.5f); break;  // ties
          case 4: {  // a few ulps either side of a tie
            float v = scale * (static_cast<float>(static_cast<int>(rng() % 600) - 300) + 0.5f);
            const float dir = rng() % 2 ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity();
            for (int k = static_cast<int>(rng() % 4); k > 0; --k) v = std::nextafter(v, dir);
            x[i] = v;
            break;
          }
          case 1: x[i] = (rng() % 2 ? 1 : -1) * std::ldexp(1.f, static_cast<int>(rng() % 140)); break;       // huge
          case 2: x[i] = rng() % 3 == 0 ? nan : (rng() % 2 ? inf : -inf); break;
          case 3: x[i] = std::numeric_limits<float>::denorm_min() * static_cast<float>(rng() % 100); break;
          default: x[i] = scale * std::uniform_real_distribution<float>(-400.f, 400.f)(rng);
        }
      }
      CheckAgainstReference<uint8_t>(x, scale, static_cast<int32_t>(rng() % 256), isa);
      CheckAgainstReference<int8_t>(x, scale, static_cast<int32_t>(rng() % 256) - 128, isa);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace nibble
