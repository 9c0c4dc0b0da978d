// Gemm (Y = alpha*A'B' + beta*C) and MatMul (numpy semantics: batched,
// broadcast, 1-D promotion). Float32 goes to BLAS; other numeric types run a
// plain loop (they only appear in conformance tests).
#include "kernels/reference/matmul_shape.h"
#include "kernels/blas/sgemm.h"
#include "kernels/reference/broadcast.h"
#include "kernels/reference/gemm_q8.h"
#include "kernels/x86/bitserial_gemm.h"
#include "kernels/x86/gemm_q8_fast.h"
#include "kernels/x86/lowbit_gemv.h"
#include "kernels/x86/lowbit_select.h"
#include "runtime/op_registry.h"
#include "runtime/ops/quant_util.h"
#include "runtime/ops/dispatch.h"

namespace nibble {
namespace {

template <class T>
void NaiveGemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, const T* b, T* c) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      T acc = 0;
      for (int64_t p = 0; p < k; ++p) acc += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
      c[i * n + j] = acc;
    }
}

class GemmKernel : public OpKernel {
 public:
  explicit GemmKernel(const OpEnv& env) : where_(env.where()), act_(env.node.fused) {
    const Attributes& a = env.node.attrs;
    alpha_ = a.GetFloat("alpha", 1.f);
    beta_ = a.GetFloat("beta", 1.f);
    ta_ = a.GetInt("transA", 0) != 0;
    tb_ = a.GetInt("transB", 0) != 0;
  }

  void Infer(InferContext& ctx) override {
    const Shape& a = ctx.shape(0);
    const Shape& b = ctx.shape(1);
    if (a.size() != 2 || b.size() != 2) ctx.Fail("A and B must be 2-D, got ", ShapeStr(a), " and ", ShapeStr(b));
    if (ctx.dtype(0) != ctx.dtype(1)) ctx.Fail("A and B have different types");
    int64_t m = ta_ ? a[1] : a[0], k = ta_ ? a[0] : a[1];
    int64_t kb = tb_ ? b[1] : b[0], n = tb_ ? b[0] : b[1];
    if (k != kb) ctx.Fail("inner dimensions differ: A ", ShapeStr(a), " B ", ShapeStr(b), " (transA=", ta_, ", transB=", tb_, ")");
    if (ctx.has_input(2)) {
      try {
        if (BroadcastShapes({ctx.shape(2), {m, n}}) != Shape{m, n}) ctx.Fail("C does not broadcast to [", m, ",", n, "]");
      } catch (const Error& e) {
        ctx.Fail("C ", ShapeStr(ctx.shape(2)), " does not broadcast to [", m, ",", n, "]");
      }
    }
    ctx.set_output(0, ctx.dtype(0), {m, n});
  }

  void Run(RunContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    Tensor& y = ctx.output(0);
    const int64_t m = y.dim(0), n = y.dim(1), k = ta_ ? a.dim(0) : a.dim(1);
    DispatchNumeric(a.dtype(), where_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* py = y.data<T>();
      if constexpr (std::is_same_v<T, float>) {
        float beta = 0.f;
        if (ctx.has_input(2)) {
          BroadcastInto<T>(ctx.input(2), y);
          beta = beta_;
        }
        Sgemm(ta_, tb_, m, n, k, alpha_, a.data<float>(), a.dim(1), b.data<float>(), b.dim(1), beta, py, n);
        act_.ApplyInPlace(py, m * n);
      } else {
        NaiveGemm<T>(ta_, tb_, m, n, k, a.data<T>(), b.data<T>(), py);
        Tensor c;
        if (ctx.has_input(2)) {
          c = Tensor(y.dtype(), y.shape());
          BroadcastInto<T>(ctx.input(2), c);
        }
        for (int64_t i = 0; i < m * n; ++i)
          py[i] = static_cast<T>(alpha_ * py[i] + (c.empty() ? 0 : beta_ * c.data<T>()[i]));
      }
    });
  }

 private:
  template <class T>
  static void BroadcastInto(const Tensor& c, Tensor& y) {
    const T* pc = c.data<T>();
    T* py = y.data<T>();
    std::vector<int64_t> st[1] = {BroadcastStrides(c.shape(), y.shape())};
    ForEachBroadcast(y.shape(), st, [&](int64_t o, const int64_t* idx) { py[o] = pc[idx[0]]; });
  }

  std::string where_;
  Activation act_;
  float alpha_, beta_;
  bool ta_, tb_;
};


class MatMulKernel : public OpKernel {
 public:
  explicit MatMulKernel(const OpEnv& env) : where_(env.where()), act_(env.node.fused) {}

  void Infer(InferContext& ctx) override {
    if (ctx.dtype(0) != ctx.dtype(1)) ctx.Fail("inputs have different types");
    try {
      ctx.set_output(0, ctx.dtype(0), MatMulShapes(ctx.shape(0), ctx.shape(1)).out);
    } catch (const Error& e) {
      ctx.Fail(e.what());
    }
  }

  void Run(RunContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    MatMulGeometry g = MatMulShapes(a.shape(), b.shape());
    std::vector<int64_t> st[2] = {BroadcastStrides(g.batch_a, g.batch), BroadcastStrides(g.batch_b, g.batch)};
    std::vector<std::pair<int64_t, int64_t>> pairs;  // (a matrix, b matrix) per output matrix
    ForEachBroadcast(g.batch, st, [&](int64_t, const int64_t* idx) { pairs.push_back({idx[0], idx[1]}); });
    const int64_t mk = g.m * g.k, kn = g.k * g.n, mn = g.m * g.n;
    DispatchNumeric(a.dtype(), where_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* pa = a.data<T>();
      const T* pb = b.data<T>();
      T* py = ctx.output(0).data<T>();
      const AsyncSignalsBlocked blocked;  // the signal mask set once for all the batch's Sgemm calls
      for (size_t i = 0; i < pairs.size(); ++i) {
        if constexpr (std::is_same_v<T, float>)
          Sgemm(false, false, g.m, g.n, g.k, 1.f, pa + pairs[i].first * mk, g.k, pb + pairs[i].second * kn, g.n, 0.f,
                py + i * mn, g.n);
        else
          NaiveGemm<T>(false, false, g.m, g.n, g.k, pa + pairs[i].first * mk, pb + pairs[i].second * kn, py + i * mn);
      }
      if constexpr (std::is_same_v<T, float>) act_.ApplyInPlace(py, ctx.output(0).numel());
    });
  }

 private:
  std::string where_;
  Activation act_;
};

// Gemm (transA = 0, alpha = beta = 1) and MatMul with a constant 2-D second
// operand, over quantized codes: A uint8/int8 per tensor, B int8 per output
// column or per tensor (zero point 0), int32 bias, requantized per column with
// the fused Relu/Clip as the clamp. MatMul's leading dims of A fold into rows.
class QGemmKernel : public OpKernel {
 public:
  explicit QGemmKernel(const OpEnv& env) : where_(env.where()), matmul_(env.node.op_type == "MatMul") {
    const Node& n = env.node;
    trans_b_ = !matmul_ && n.attrs.GetInt("transB", 0) != 0;
    NIBBLE_CHECK(matmul_ || n.attrs.GetInt("transA", 0) == 0, where_, ": quantized Gemm needs transA = 0");
    b_ = env.constant_input(1);
    NIBBLE_CHECK(b_ && b_->dtype() == DType::kInt8 && b_->rank() == 2, where_,
                 ": quantized ", n.op_type, " needs a constant int8 matrix as second operand");
    n_ = trans_b_ ? b_->dim(0) : b_->dim(1);
    k_ = trans_b_ ? b_->dim(1) : b_->dim(0);
    a_ = QuantOf(env, n.inputs[0], "input");
    b_params_ = QuantOf(env, n.inputs[1], "weights", n_);
    y_ = QuantOf(env, n.outputs[0], "output");
    if (!matmul_ && n.inputs.size() > 2 && n.inputs[2] >= 0) {
      bias_ = env.constant_input(2);
      NIBBLE_CHECK(bias_ && bias_->dtype() == DType::kInt32 && bias_->numel() == n_, where_,
                   ": quantized bias must be a constant int32 vector of ", n_, " values");
    }
    // A 32-bit output is the accumulators themselves (+ bias), for a DQ after
    // it (fold-qdq's form of a layer whose float output no Q reads).
    accumulators_ = y_.bits == 32;
    if (accumulators_) {
      NIBBLE_CHECK(env.node.fused.kind == Activation::Kind::kNone, where_,
                   ": an int32 accumulator output takes no fused activation");
      return;
    }
    multipliers_ = ChannelMultipliers(env, a_, b_params_, y_);
    clamp_ = OutputClamp(env, y_);
  }

  void Infer(InferContext& ctx) override {
    if (ctx.dtype(0) != CodeType(a_)) ctx.Fail("quantized input must be ", DTypeName(CodeType(a_)));
    const Shape& a = ctx.shape(0);
    if (a.empty() || a.back() != k_ || (!matmul_ && a.size() != 2))
      ctx.Fail("input ", ShapeStr(a), " does not match the weights ", ShapeStr(b_->shape()));
    Shape y(a.begin(), a.end() - 1);
    y.push_back(n_);
    ctx.set_output(0, accumulators_ ? DType::kInt32 : CodeType(y_), y);
  }

  void Run(RunContext& ctx) override {
    const Tensor& a = ctx.input(0);
    GemmQ8Params p = Params(a.numel() / k_);
    const int32_t* bias = bias_ ? bias_->data<int32_t>() : nullptr;
    Tensor& y = ctx.output(0);
    const int8_t* b = b_->data<int8_t>();
    if (accumulators_) {
      // Small by nature (a model's last layer): the exact reference loop.
      int32_t* py = y.data<int32_t>();
      DispatchCode(a.dtype(), [&](auto atag) {
        using TA = decltype(atag);
        GemmQ8Int32Reference(p, a.data<TA>(), b, py);
      });
      if (bias)
        for (int64_t i = 0; i < p.m; ++i)
          for (int64_t j = 0; j < n_; ++j) py[i * n_ + j] += bias[j];
      return;
    }
    DispatchCode(a.dtype(), [&](auto atag) {
      using TA = decltype(atag);
      DispatchCode(y.dtype(), [&](auto ytag) {
        using TY = decltype(ytag);
        const TA* pa = a.data<TA>();
        TY* py = y.data<TY>();
        if (!fast_prepared_) {  // once: the weights are constants, the ISA fixed per process
          Prepare(p, b, bias, std::is_same_v<TA, int8_t>);
          fast_prepared_ = true;
        }
        switch (path_) {
          case Path::kW4A8:
            ctx.pool().ParallelFor(LowBitGemvTaskCount(gemv_),
                                   [&](int64_t lo, int64_t hi) { LowBitGemvRun(gemv_, p.m, pa, py, lo, hi); });
            break;
          case Path::kLowBit: LowBitGemm(lowbit_, p.m, pa, py, &ctx.pool()); break;
          case Path::kInt8:
            ctx.pool().ParallelForTasks(GemmQ8FastTaskCount(packed_, p.m),
                                        [&](int64_t lo, int64_t hi) { GemmQ8FastRun(packed_, p.m, pa, py, lo, hi); });
            break;
          case Path::kReference: GemmQ8Reference(p, pa, b, bias, py); break;
        }
      });
    });
  }

  std::string KernelName() const override {
    if (accumulators_) return "gemm_q8_int32_accumulators_reference";
    if (!fast_prepared_) return "";
    switch (path_) {
      case Path::kW4A8: return std::string("gemv_w") + std::to_string(gemv_.w_bits) + "a8_" + IsaName(gemv_.isa) + " (" + lowbit_choice_ + ")";
      case Path::kLowBit:
        return std::string(lowbit_.binary ? "binary_xnor_popcount_" : "bitserial_and_popcount_") +
               IsaName(ActiveIsa()) + " (" + lowbit_choice_ + ")";
      case Path::kInt8:
        return std::string("gemm_q8_") + IsaName(packed_.isa) + (lowbit_choice_.empty() ? "" : " (" + lowbit_choice_ + ")");
      case Path::kReference: return "gemm_q8_reference";
    }
    return "";
  }

 private:
  enum class Path { kW4A8, kLowBit, kInt8, kReference };

  // Sub-8-bit weights or activations: the kernel the selector measured
  // fastest on this CPU among those exact for the widths (lowbit_select.h);
  // otherwise the packed int8 GEMM, or the reference when it cannot match.
  void Prepare(const GemmQ8Params& p, const int8_t* b, const int32_t* bias, bool a_signed) {
    if (b_params_.bits <= 4) {
      LowBitProblem prob;
      prob.m = p.m;
      prob.n = p.n;
      prob.k = p.k;
      prob.w_bits = SerialBits(b_params_);
      prob.a_bits = SerialBits(a_);
      prob.w_signed = b_params_.is_signed;
      prob.a_signed = a_.is_signed;
      prob.bipolar = b_params_.bipolar() && a_.bipolar();
      const LowBitKernel kind = SelectLowBitKernel(prob);
      lowbit_choice_ = DescribeLowBitChoice(prob);
      if (kind == LowBitKernel::kW4A8 && (b_params_.bits == 4 || b_params_.bits == 2) &&
          LowBitGemvSupports(p, b, bias, b_params_.bits, b_params_.is_signed, a_signed)) {
        gemv_ = PackLowBitGemv(p, b, bias, b_params_.bits, b_params_.is_signed, ActiveIsa());
        path_ = Path::kW4A8;
        return;
      }
      if (kind == LowBitKernel::kBinary && BinaryGemmSupports(p, b, bias)) {
        lowbit_ = PackBinaryGemm(p, b, bias);
        path_ = Path::kLowBit;
        return;
      }
      const BitSerialSpec spec{SerialBits(a_), SerialBits(b_params_), a_.is_signed, b_params_.is_signed};
      if (kind == LowBitKernel::kBitSerial && BitSerialGemmSupports(p, b, bias, spec)) {
        lowbit_ = PackBitSerialGemm(p, b, bias, spec);
        path_ = Path::kLowBit;
        return;
      }
    }
    if (GemmQ8FastSupports(p, b, bias, a_signed)) {
      packed_ = PackGemmQ8(p, b, bias, ActiveIsa());
      path_ = Path::kInt8;
    } else {
      path_ = Path::kReference;
    }
  }

  GemmQ8Params Params(int64_t m) const {
    GemmQ8Params p;
    p.m = m;
    p.n = n_;
    p.k = k_;
    p.transpose_b = trans_b_;
    p.a_zero_point = {ZeroPoint(a_)};
    p.multiplier = multipliers_;
    p.c_zero_point = ZeroPoint(y_);
    p.c_min = clamp_.lo;
    p.c_max = clamp_.hi;
    return p;
  }

 private:
  std::string where_;
  bool matmul_, trans_b_ = false;
  const Tensor* b_ = nullptr;
  const Tensor* bias_ = nullptr;
  int64_t n_ = 0, k_ = 0;
  QuantParams a_, b_params_, y_;
  std::vector<FixedPointMultiplier> multipliers_;
  ClampRange clamp_;
  bool fast_prepared_ = false, accumulators_ = false;
  Path path_ = Path::kReference;
  GemmQ8Packed packed_;
  LowBitGemvPacked gemv_;
  LowBitPacked lowbit_;
  std::string lowbit_choice_;
};

}  // namespace

void RegisterGemmOps(OpRegistry& r) {
  r.Add("Gemm", MakeFactory<GemmKernel>());
  r.Add("MatMul", MakeFactory<MatMulKernel>());
  r.AddQuantized("Gemm", MakeFactory<QGemmKernel>());
  r.AddQuantized("MatMul", MakeFactory<QGemmKernel>());
}

}  // namespace nibble
