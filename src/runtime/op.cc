#include "runtime/op.h"

namespace nibble {

const ValueInfo& InferContext::input(int i) const {
  if (!has_input(i)) Fail("input ", i, " is required but missing");
  return *in_[i];
}

const Tensor& InferContext::value(int i) const {
  const ValueInfo& v = input(i);
  if (!v.value)
    throw ValueRequired(Cat(where(), ": input ", i, " must be known before running (its contents set a shape)"));
  return *v.value;
}

void InferContext::set_output(int i, DType t, Shape s) {
  NIBBLE_CHECK(i < num_outputs(), where(), ": output ", i, " does not exist");
  for (int64_t d : s) NIBBLE_CHECK(d >= 0, where(), ": inferred a negative dimension in output shape ", ShapeStr(s));
  ShapeNumel(s);  // fails on overflow
  out_[i].dtype = t;
  out_[i].shape = std::move(s);
}

void InferContext::set_output_value(int i, Tensor t) {
  set_output(i, t.dtype(), t.shape());
  values_[i] = std::move(t);
  out_[i].value = &values_[i];
}

const Tensor* OpEnv::constant_input(int i) const {
  if (i >= static_cast<int>(node.inputs.size()) || node.inputs[i] < 0) return nullptr;
  const Value& v = graph.values[node.inputs[i]];
  return v.is_constant() ? &v.constant : nullptr;
}

}  // namespace nibble
