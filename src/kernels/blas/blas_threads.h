// The float GEMM comes from OpenBLAS; its thread count follows the session's.
#pragma once

namespace nibble {
void SetBlasThreads(int n);
}
