// The warpgroup form of resr's tensor-core conv (tensor_conv_math.h Cut::warpgroup): its kernels, built for
// sm_90a only (wgmma.mma_async exists on compute capability 9.0 alone), in their own translation unit so that the
// rest of the backend keeps its architectures. tensor_conv.cu launches them as it does its mma.sync kernels.
#pragma once

#include <cstdint>

#include "backends/cuda/tensor_conv.h"
#include "core/status.h"

namespace resr::cuda {

// The kernel of these products for `oc` output channels (32, 48 or 64) and `rows_per_warp` (2 or 4), or null.
TensorConvKernel warpgroup_tensor_conv_kernel(tensor_conv::Products products, int oc, int rows_per_warp);

// One wgmma of these products, N = n output columns (32, 48 or 64), by the kernels' own wrappers, descriptor and
// fragment layouts, on host data: A 64 x K and B K x N (K = 16 fp16 or 32 8-bit elements), each row 8 words of
// K, A row-major ([64][8] words) and B by output column ([n][8] words); D 64 x n sums (float, or int32 for int8),
// row-major. For tests: it tells the wgmma instruction's operands and layouts apart from the conv around them.
// Error: no device of compute capability 9.0, or a CUDA failure.
Status warpgroup_product(tensor_conv::Products products, int n, const std::uint32_t* a, const std::uint32_t* b,
                         void* d);

}  // namespace resr::cuda
