#include <gtest/gtest.h>
#include "nibble/tensor.h"
TEST(Tensor, Numel) { EXPECT_EQ(nibble::Tensor(nibble::DType::kFloat32, {2, 3}).numel(), 6); }
