// Cast between every element type nibble holds (numeric, bool, float16).
// float -> integer truncates toward zero like C++, with NaN -> 0 and values
// beyond int64 clamped (so nothing is undefined behaviour); narrower integer
// targets then wrap like numpy's astype. Anything -> bool is x != 0.
#include <cmath>
#include <iterator>
#include <limits>

#include "base/float16.h"
#include "runtime/op_registry.h"
#include "runtime/ops/tensor_op_util.h"

namespace nibble {
namespace {
using namespace tensor_ops;

// The 'to' attribute holds an ONNX TensorProto.DataType number; the runtime
// does not see protobuf, so the few codes nibble can hold are listed here.
DType DTypeFromOnnxCode(int64_t code) {
  switch (code) {
    case 1: return DType::kFloat32;
    case 2: return DType::kUInt8;
    case 3: return DType::kInt8;
    case 4: return DType::kUInt16;
    case 5: return DType::kInt16;
    case 6: return DType::kInt32;
    case 7: return DType::kInt64;
    case 9: return DType::kBool;
    case 10: return DType::kFloat16;
    case 11: return DType::kFloat64;
    case 12: return DType::kUInt32;
    case 13: return DType::kUInt64;
    default: return DType::kUndefined;
  }
}

const char* OnnxCodeName(int64_t code) {
  static const char* const kNames[] = {"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64",
                                       "STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64",
                                       "COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
                                       "FLOAT8E5M2FNUZ", "UINT4", "INT4", "FLOAT4E2M1"};
  return code >= 0 && code < static_cast<int64_t>(std::size(kNames)) ? kNames[code] : "unknown";
}

struct Half {  // tag type: float16 bit patterns
  uint16_t bits;
};

template <class F>
void DispatchCastType(DType t, const std::string& where, F&& f) {
  if (t == DType::kFloat16) return f(TypeTag<Half>{});
  if (t == DType::kBool) return f(TypeTag<bool>{});
  DispatchNumeric(t, where, f);
}

template <class To>
To FloatToInteger(double x) {
  if (std::isnan(x)) return To(0);
  if constexpr (std::is_same_v<To, uint64_t>) {
    if (x >= 18446744073709551616.0) return ~uint64_t{0};
    if (x >= 9223372036854775808.0) return static_cast<uint64_t>(x);
  }
  if (x >= 9223372036854775808.0) return static_cast<To>(std::numeric_limits<int64_t>::max());
  if (x < -9223372036854775808.0) return static_cast<To>(std::numeric_limits<int64_t>::min());
  return static_cast<To>(static_cast<int64_t>(x));
}

template <class To, class From>
To Convert(From v) {
  if constexpr (std::is_same_v<From, Half>) {
    return Convert<To>(HalfBitsToFloat(v.bits));
  } else if constexpr (std::is_same_v<To, Half>) {
    return Half{DoubleToHalfBits(static_cast<double>(v))};
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    return FloatToInteger<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

class CastKernel : public OpKernel {
 public:
  explicit CastKernel(const OpEnv& env) : where_(env.where()) {
    CheckArity(env, 1, 1);
    ParseAttributes(env, [&] {
      NIBBLE_CHECK(env.node.attrs.Has("to"), "the 'to' attribute is required");
      int64_t code = env.node.attrs.GetInt("to", 0);
      to_ = DTypeFromOnnxCode(code);
      NIBBLE_CHECK(to_ != DType::kUndefined, "cannot cast to ", OnnxCodeName(code), " (type code ", code,
                   "): nibble holds float32/64, float16, bool and 8- to 64-bit integers");
    });
  }

  void Infer(InferContext& ctx) override { ctx.set_output(0, to_, ctx.shape(0)); }

  void Run(RunContext& ctx) override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    if (x.dtype() == y.dtype()) return CopyBytes(x, y, where_);
    DispatchCastType(x.dtype(), where_, [&](auto from_tag) {
      using From = typename decltype(from_tag)::type;
      DispatchCastType(y.dtype(), where_, [&](auto to_tag) {
        using To = typename decltype(to_tag)::type;
        const From* src = static_cast<const From*>(x.raw());
        To* dst = static_cast<To*>(y.raw());
        for (int64_t i = 0; i < x.numel(); ++i) dst[i] = Convert<To>(src[i]);
      });
    });
  }

 private:
  std::string where_;
  DType to_ = DType::kUndefined;
};

}  // namespace

void RegisterCastOp(OpRegistry& r) { r.Add("Cast", MakeFactory<CastKernel>()); }

}  // namespace nibble
