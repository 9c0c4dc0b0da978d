// Vectorized 2-D MaxPool on int8 / uint8 codes, bit-exact with
// MaxPoolQ8Reference (same signature plus the ISA level).
//
// Vectorized when MaxPoolQ8X86Vectorizes(geo): 2 spatial dims, dilation 1,
// stride 1 or 2 along the width, and every window overlapping the input (no
// ceil_mode window that lies entirely in the padding). Per output row, the
// element-wise max (vpmaxub / vpmaxsb) of the kernel's input rows goes into a
// row buffer padded with T's lowest code, then the max over each window of it
// along the width (stride 2: even/odd bytes split with vpshufb/vpermq or pack).
// Anything else, and Isa::kScalar, runs MaxPoolQ8Reference.
#pragma once
#include <cstdint>

#include "kernels/reference/window_geometry.h"
#include "kernels/x86/isa.h"

namespace nibble {

bool MaxPoolQ8X86Vectorizes(const WindowGeometry& geo);

// 2x2 windows, stride 2, dilation 1, no padding, every window inside the
// input: the zmm level's own kernel for it (no row buffer) runs then.
bool MaxPoolQ8Is2x2Stride2(const WindowGeometry& geo);

// Windows 3 wide at stride 2 along the width with left padding 0 or 1 (any
// height, stride and padding along it; ResNet's 3x3/2 pad 1): the zmm
// level's own kernel for them (no row buffer) runs then.
bool MaxPoolQ8IsWidth3Stride2(const WindowGeometry& geo);

// Output rows that kernel takes per step: more than 1 when the input width is
// even, exactly twice the output width, and two input rows per output row fit
// in 128 bytes several times over (small maps: 28x28 -> 2, 14x14 -> 4).
int MaxPoolQ8RowsPerStep2x2(const WindowGeometry& geo);

// x: [planes, *geo.in], y: [planes, *geo.out]; computes planes [plane_lo, plane_hi).
// x_plane / y_plane: elements from one plane of x / y to the next when the
// planes are not packed (0: the geometry's own plane size).
template <class T>
void MaxPoolQ8X86(int64_t planes, const WindowGeometry& geo, const T* x, T* y, int64_t plane_lo, int64_t plane_hi,
                  Isa isa = ActiveIsa(), int64_t x_plane = 0, int64_t y_plane = 0);

// Output rows [oy_lo, oy_hi) of one image's `channels` planes x ([channels,
// *geo.in]) as channels-last pixels: y[(oy * ow + ox) * channels + c], y
// being the image's pixels. For a MaxPool whose consumers read channels-last
// (runtime/channels_last.h): the band of every plane is pooled into a small
// buffer and transposed (PlanesToPixels) while it is still in cache, and
// threads that split the map into bands of rows read the rows the conv
// before them wrote on the same core (it splits by rows too). Geometries
// MaxPoolQ8X86Vectorizes accepts (at every level: the band's rows as a
// geometry of their own hold only for those).
template <class T>
void MaxPoolQ8X86ToPixels(int64_t channels, const WindowGeometry& geo, const T* x, T* y, int64_t oy_lo,
                          int64_t oy_hi, Isa isa = ActiveIsa());

namespace maxpoolq8_detail {
// Plane c of x at x + c * xs, of y at y + c * ys.
template <class T>
void RunAvx512(const WindowGeometry& geo, const T* x, T* y, int64_t plane_lo, int64_t plane_hi, int64_t xs,
               int64_t ys);
template <class T>
void RunAvx2(const WindowGeometry& geo, const T* x, T* y, int64_t plane_lo, int64_t plane_hi, int64_t xs,
             int64_t ys);
}  // namespace maxpoolq8_detail

}  // namespace nibble
