// The warpgroup form of resr's tensor-core conv (tensor_conv_math.h Cut::warpgroup): its kernels, built for
// sm_90a only (wgmma.mma_async exists on compute capability 9.0 alone), in their own translation unit so that the
// rest of the backend keeps its architectures. tensor_conv.cu launches them as it does its mma.sync kernels.
#pragma once

#include "backends/cuda/tensor_conv.h"

namespace resr::cuda {

using TensorConvKernel = void (*)(TensorConvArgs, tensor_conv::Cut);

// The kernel of these products for `oc` output channels (32, 48 or 64) and `rows_per_warp` (2 or 4), or null.
TensorConvKernel warpgroup_tensor_conv_kernel(tensor_conv::Products products, int oc, int rows_per_warp);

}  // namespace resr::cuda
