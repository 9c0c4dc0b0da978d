#include "onnx/weight_storage.h"

#include <algorithm>
#include <set>
#include <vector>

#include "base/limits.h"
#include "base/packed_bits.h"
#include "base/quant_params.h"
#include "nibble/error.h"

namespace nibble {
namespace {

bool IsConst(const Graph& g, int v) { return v >= 0 && g.values[v].is_constant(); }

// Default-domain ops whose meaning at opset 21 is the same as at any opset
// from 13 on (later versions only added types, or attributes and optional
// inputs whose defaults keep the old behaviour). Raising such a graph to 21,
// which INT4 needs, changes nothing else.
const std::set<std::string> kSameFrom13To21 = {
    "Abs", "Add", "AveragePool", "BatchNormalization", "Cast", "Ceil", "Clip", "Concat", "Constant", "Conv",
    "ConvTranspose", "DequantizeLinear", "Div", "Dropout", "Elu", "Equal", "Erf", "Exp", "Expand", "Flatten", "Floor",
    "Gather", "Gemm", "GlobalAveragePool", "GlobalMaxPool", "Greater", "HardSigmoid", "HardSwish", "Identity",
    "LeakyRelu", "Less", "Log", "LogSoftmax", "MatMul", "Max", "MaxPool", "Min", "Mul", "Neg", "Pad", "Pow", "PRelu",
    "QuantizeLinear", "Reciprocal", "ReduceSum", "Relu", "Reshape", "Resize", "Selu", "Shape", "Sigmoid", "Slice",
    "Softmax", "Softplus", "Split", "Sqrt", "Squeeze", "Sub", "Sum", "Tanh", "Tile", "Transpose", "Unsqueeze", "Where"};

// Reductions moved `axes` from an attribute to an input at 18.
bool SameAt21(const Node& n) {
  if (!n.domain.empty()) return true;  // other domains keep their own versions
  if (kSameFrom13To21.count(n.op_type)) return true;
  return n.op_type.rfind("Reduce", 0) == 0 && !n.attrs.Has("axes");
}

// Why the graph cannot be raised to opset 21 ("" when it can).
std::string Opset21Blocker(const Graph& g) {
  if (g.opset >= 21) return "";
  if (g.opset < 13)
    return Cat("the model imports opset ", g.opset, " and INT4 needs 21 (nibble raises opsets from 13 only)");
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!SameAt21(g.nodes[i]))
      return Cat(g.Where(static_cast<int>(i)), " is written differently at opset 21, which INT4 needs");
  return "";
}

// Weight codes of 4 bits or fewer read by DQs: codes -> Clip(lo, hi) -> DQ(s)
// (QCDQ, the width stated by the bounds) or codes -> DQ(s) (a file already
// compact, read back: the width is what the codes need).
struct Site {
  int clip;   // -1 when the DQs read the codes directly
  int codes;  // the constant codes
  CodeWidth width;
  bool is_signed;
  int readers;  // the value the DQs read: the Clip's output, or the codes
};

// DQs reading `v` at slot 0, all of them, with zero points that fit beside
// `t` codes of 4 bits.
bool OnlyCompactableDqs(const Graph& g, const std::vector<std::vector<int>>& consumers, int v, DType t) {
  if (consumers[v].empty() || g.IsGraphOutput(v)) return false;
  for (int r : consumers[v]) {
    const Node& d = g.nodes[r];
    if (d.op_type != "DequantizeLinear" || !d.domain.empty() || d.inputs[0] != v) return false;
    if (d.inputs.size() > 2 && d.inputs[2] >= 0) {
      if (!IsConst(g, d.inputs[2]) || g.values[d.inputs[2]].constant.dtype() != t) return false;
      const Tensor& z = g.values[d.inputs[2]].constant;
      for (int64_t k = 0; k < z.numel(); ++k) {
        const int64_t zk = z.AsInt64(k);
        if (t == DType::kInt8 ? zk < -8 || zk > 7 : zk > 15) return false;
      }
    }
  }
  return true;
}

std::vector<Site> FindSites(const Graph& g) {
  const auto consumers = g.Consumers();
  std::vector<Site> sites;
  for (size_t x = 0; x < g.values.size(); ++x) {
    if (!g.values[x].is_constant() || consumers[x].empty() || g.IsGraphOutput(static_cast<int>(x))) continue;
    const Tensor& codes = g.values[x].constant;
    const DType t = codes.dtype();
    if (t != DType::kInt8 && t != DType::kUInt8) continue;
    const int c_i = consumers[x][0];
    const Node& c = g.nodes[c_i];
    const bool via_clip = consumers[x].size() == 1 && c.op_type == "Clip" && c.domain.empty() &&
                          c.inputs.size() == 3 && c.inputs[0] == static_cast<int>(x) && c.outputs.size() == 1 &&
                          c.outputs[0] >= 0;
    Site site{-1, static_cast<int>(x), {}, t == DType::kInt8, static_cast<int>(x)};
    if (via_clip) {
      if (!IsConst(g, c.inputs[1]) || !IsConst(g, c.inputs[2])) continue;
      const Tensor &lo_t = g.values[c.inputs[1]].constant, &hi_t = g.values[c.inputs[2]].constant;
      if (lo_t.dtype() != t || hi_t.dtype() != t || lo_t.numel() != 1 || hi_t.numel() != 1) continue;
      const int64_t lo = lo_t.AsInt64(0), hi = hi_t.AsInt64(0);
      site.width = WidthOfBounds(t == DType::kInt8, lo, hi);
      bool inside = true;  // dropping the Clip must not change a code
      for (int64_t k = 0; k < codes.numel() && inside; ++k) inside = codes.AsInt64(k) >= lo && codes.AsInt64(k) <= hi;
      if (!inside) continue;
      site.clip = c_i;
      site.readers = c.outputs[0];
    } else if (t == DType::kInt8) {
      site.width = WidthOfSignedCodes(codes.data<int8_t>(), codes.numel());
    } else {
      continue;  // unsigned codes without bounds: nothing states their width
    }
    if (site.width.bits == 0 || site.width.bits > 4) continue;
    if (!OnlyCompactableDqs(g, consumers, site.readers, t)) continue;
    sites.push_back(site);
  }
  return sites;
}

// Signed codes pack at the width they need (bipolar when all are +-1): the
// importer reads widths back from the codes, so that is all the file must hold.
PackedFormat FormatFor(const Site& s, const Tensor& codes) {
  if (!s.is_signed) return PackedFormat::UInt(s.width.bits, s.width.narrow);
  const CodeWidth w = WidthOfSignedCodes(codes.data<int8_t>(), codes.numel());
  return w.bits == 1 ? PackedFormat::Bipolar() : PackedFormat::Int(w.bits, w.narrow);
}

const char* KindName(PackedFormat::Kind k) {
  switch (k) {
    case PackedFormat::Kind::kUInt: return "uint";
    case PackedFormat::Kind::kBipolar: return "bipolar";
    default: return "int";
  }
}

// codes -> packed uint8 constant -> ai.nibble.UnpackBits -> a new value of the codes' type and shape.
int AddPacked(Graph& g, const Site& s, std::vector<Node>& added) {
  const Value& cv = g.values[s.codes];
  const Tensor codes = cv.constant;
  const std::string base = cv.name;
  const PackedFormat f = FormatFor(s, codes);
  const int64_t n = codes.numel();
  Tensor packed(DType::kUInt8, {PackedBytes(f, 1, n)});
  if (s.is_signed) PackBits(codes.data<int8_t>(), 1, n, f, packed.data<uint8_t>(), packed.numel());
  else PackBits(codes.data<uint8_t>(), 1, n, f, packed.data<uint8_t>(), packed.numel());
  const int pv = g.AddConstant(g.UniqueName(base + "_packed"), std::move(packed));
  const int out = g.AddValue(g.UniqueName(base + "_unpacked"));
  g.values[out].dtype = codes.dtype();
  g.values[out].has_shape = true;
  g.values[out].shape = codes.shape();
  g.values[out].dim_params.assign(codes.shape().size(), "");
  Node u;
  u.op_type = "UnpackBits";
  u.domain = kNibbleDomain;
  u.name = g.UniqueName(base + "_UnpackBits");
  u.inputs = {pv};
  u.outputs = {out};
  u.attrs.SetInt("bits", f.bits);
  u.attrs.SetString("kind", KindName(f.kind));
  u.attrs.SetInt("narrow", f.narrow ? 1 : 0);
  u.attrs.SetInts("shape", std::vector<int64_t>(codes.shape().begin(), codes.shape().end()));
  added.push_back(std::move(u));
  return out;
}

}  // namespace

WeightStorage ParseWeightStorage(const std::string& s) {
  if (s == "int8") return WeightStorage::kInt8;
  if (s == "int4") return WeightStorage::kInt4;
  if (s == "packed") return WeightStorage::kPacked;
  Fail("weight storage '", s, "' is not one of int8, int4, packed");
}

const char* WeightStorageName(WeightStorage s) {
  switch (s) {
    case WeightStorage::kInt8: return "int8";
    case WeightStorage::kInt4: return "int4";
    default: return "packed";
  }
}

WeightStorageReport StoreWeightsCompactly(Graph& g, WeightStorage s, ExportOptions& eo) {
  WeightStorageReport r;
  if (s == WeightStorage::kInt8) return r;
  const std::vector<Site> sites = FindSites(g);
  if (sites.empty()) return r;
  if (s == WeightStorage::kInt4) {
    const std::string why = Opset21Blocker(g);
    if (!why.empty()) {
      r.note = Cat("weights under 8 bits kept one code per byte: ", why);
      return r;
    }
    g.opset = std::max<int64_t>(g.opset, 21);
  }
  const auto consumers = g.Consumers();
  std::vector<bool> remove(g.nodes.size(), false);
  std::vector<Node> added;
  for (const Site& site : sites) {
    const int y = site.readers;
    int src = site.codes;
    if (s == WeightStorage::kPacked) {
      src = AddPacked(g, site, added);
      ++r.packed;
    } else {
      eo.int4_initializers.insert(g.values[site.codes].name);
      ++r.int4;
    }
    for (int d : consumers[y]) {
      Node& dq = g.nodes[d];
      dq.inputs[0] = src;
      if (s == WeightStorage::kInt4 && dq.inputs.size() > 2 && dq.inputs[2] >= 0) {
        // The zero point goes INT4 with its codes: its own copy, in case other DQs share it.
        Tensor z = g.values[dq.inputs[2]].constant;
        const int zv = g.AddConstant(g.UniqueName(g.values[site.codes].name + "_zero_point"), std::move(z));
        eo.int4_initializers.insert(g.values[zv].name);
        g.nodes[d].inputs[2] = zv;
      }
    }
    if (site.clip >= 0) remove[site.clip] = true;
  }
  // The new nodes go in before the removal, which renumbers values and drops unreferenced ones.
  for (Node& n : added) g.AddNode(std::move(n));
  remove.resize(g.nodes.size(), false);
  g.RemoveNodes(remove);
  g.TopologicalSort();
  if (s == WeightStorage::kPacked) eo.domain_versions[kNibbleDomain] = 1;
  return r;
}

Tensor UnpackBitsNodeValue(const Node& n, const Tensor& packed, const std::string& where) {
  NIBBLE_CHECK(packed.dtype() == DType::kUInt8 && packed.rank() == 1, where,
               ": UnpackBits reads a 1-D uint8 tensor of packed bytes, not ", DTypeName(packed.dtype()), " of shape ",
               ShapeStr(packed.shape()));
  const int64_t bits = n.attrs.GetInt("bits", 0);
  NIBBLE_CHECK(bits >= 1 && bits <= 8, where, ": UnpackBits bits=", bits, " is outside 1..8");
  const std::string kind = n.attrs.GetString("kind", "");
  const bool narrow = n.attrs.GetInt("narrow", 0) != 0;
  PackedFormat f;
  if (kind == "int") f = PackedFormat::Int(static_cast<int>(bits), narrow);
  else if (kind == "uint") f = PackedFormat::UInt(static_cast<int>(bits), narrow);
  else if (kind == "bipolar") f = PackedFormat::Bipolar();
  else Fail(where, ": UnpackBits kind '", kind, "' is not int, uint or bipolar");
  NIBBLE_CHECK(f.bits == bits, where, ": UnpackBits kind ", kind, " is stored in ", f.bits, " bits, not ", bits);
  NIBBLE_CHECK(kind != "int" || bits >= 2, where, ": UnpackBits signed codes need 2 bits or more (1 bit is bipolar)");
  NIBBLE_CHECK(n.attrs.Has("shape"), where, ": UnpackBits has no shape attribute");
  const std::vector<int64_t> dims = n.attrs.GetInts("shape");
  NIBBLE_CHECK(dims.size() <= kMaxRank, where, ": UnpackBits shape has rank ", dims.size(), ", over ", kMaxRank);
  // The element count is bounded by the bytes present (at least one bit each),
  // so a size field cannot ask for more memory than 8x the file holds.
  const int64_t max_elems = packed.numel() * 8;
  int64_t numel = 1;
  for (int64_t d : dims) {
    NIBBLE_CHECK(d >= 0, where, ": UnpackBits shape has a negative dimension");
    NIBBLE_CHECK(d == 0 || numel <= max_elems / d, where, ": UnpackBits shape ", ShapeStr(Shape(dims)), " needs more than ",
                 max_elems, " elements, more than ", packed.numel(), " bytes can hold");
    numel *= d;
  }
  const int64_t need = PackedBytes(f, 1, numel);
  NIBBLE_CHECK(need == packed.numel(), where, ": UnpackBits shape ", ShapeStr(Shape(dims)), " of ", f.Name(),
               " packs into ", need, " bytes, the input holds ", packed.numel());
  Tensor t(kind == "uint" ? DType::kUInt8 : DType::kInt8, Shape(dims));
  try {
    if (kind == "uint") UnpackBits(packed.data<uint8_t>(), packed.numel(), 1, numel, f, t.data<uint8_t>());
    else UnpackBits(packed.data<uint8_t>(), packed.numel(), 1, numel, f, t.data<int8_t>());
  } catch (const Error& e) {
    Fail(where, ": UnpackBits: ", e.what());
  }
  return t;
}

}  // namespace nibble
