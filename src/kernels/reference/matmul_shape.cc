#include "kernels/reference/matmul_shape.h"

#include "kernels/reference/broadcast.h"

namespace nibble {

MatMulGeometry MatMulShapes(const Shape& a0, const Shape& b0) {
  NIBBLE_CHECK(!a0.empty() && !b0.empty(), "matmul inputs must have rank >= 1, got ", ShapeStr(a0), " and ",
               ShapeStr(b0));
  Shape a = a0, b = b0;
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  MatMulGeometry g;
  g.m = a[a.size() - 2];
  g.k = a[a.size() - 1];
  g.n = b[b.size() - 1];
  NIBBLE_CHECK(b[b.size() - 2] == g.k, "inner dimensions differ: ", ShapeStr(a0), " x ", ShapeStr(b0));
  g.batch_a.assign(a.begin(), a.end() - 2);
  g.batch_b.assign(b.begin(), b.end() - 2);
  g.batch = BroadcastShapes({g.batch_a, g.batch_b});
  g.out = g.batch;
  if (a0.size() > 1) g.out.push_back(g.m);
  if (b0.size() > 1) g.out.push_back(g.n);
  return g;
}

}  // namespace nibble
