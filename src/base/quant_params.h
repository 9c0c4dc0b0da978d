// Quantization of one value, the same facts a QONNX Quant node carries:
// real = scale * (q - zero_point), q in [qmin, qmax] for `bits` bits.
// Per-tensor when scale has one entry; per-channel along `axis` otherwise.
// Any width from 8 down to 1 is held in int8/uint8 codes: the width only
// narrows [qmin, qmax]. Signed 1-bit is bipolar (codes -1 and +1, never 0, as
// QONNX's BipolarQuant and 1-bit signed Quant); its bounds are [-1, 1].
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nibble {

struct QuantParams {
  int bits = 8;
  bool is_signed = true;
  bool narrow = false;  // signed: [-(2^(b-1)-1), 2^(b-1)-1], unsigned: [0, 2^b - 2]
  std::vector<float> scale;
  std::vector<int32_t> zero_point;
  int64_t axis = -1;  // channel axis for per-channel, -1 when per-tensor

  bool per_channel() const { return scale.size() > 1 || axis >= 0; }
  bool bipolar() const { return is_signed && bits == 1; }
  int32_t qmin() const { return bipolar() ? -1 : is_signed ? -(1 << (bits - 1)) + (narrow ? 1 : 0) : 0; }
  int32_t qmax() const {
    return bipolar() ? 1 : is_signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1 - (narrow ? 1 : 0);
  }
  bool operator==(const QuantParams& o) const {
    return bits == o.bits && is_signed == o.is_signed && narrow == o.narrow && scale == o.scale &&
           zero_point == o.zero_point && axis == o.axis;
  }
  // Fails with a reason when scales are not finite positive numbers, zero points
  // are outside [qmin, qmax], or per-channel lengths disagree (`what` names the value).
  void Validate(const std::string& what, int64_t channels = -1) const;
  std::string ToString() const;
};

// A code width as stated by a Clip's integer bounds or held by constant codes.
struct CodeWidth {
  int bits = 0;  // 0: not a standard range
  bool narrow = false;
};
// The width the bounds [lo, hi] state for codes in int8 (is_signed) or uint8:
// the QCDQ form writes a width under 8 bits as Clip(qmin, qmax). Signed bounds
// [-1, 1] read as 2 bits narrow (ternary; bipolar is told apart by the codes).
CodeWidth WidthOfBounds(bool is_signed, int64_t lo, int64_t hi);
// The narrowest signed width holding int8 codes: 1 (bipolar) when every code is
// -1 or +1, else the least b >= 2 whose narrow or full range holds them.
CodeWidth WidthOfSignedCodes(const int8_t* codes, int64_t n);

}  // namespace nibble
