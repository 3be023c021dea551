// The model's output to [0, 1] (NaN as 0), and one gray sample from its three planes, as Real-ESRGAN returns a
// gray image (and an alpha channel the model upscaled) to one channel: each plane clamped, then OpenCV's RGB-to-gray
// weights (BT.601 luma). The CPU's tile pasting and image conversion and the CUDA backend's device-side packing
// share both, so an output sample is the same on every path.
#pragma once

#ifdef __CUDACC__
#define RESR_GRAY_HD __host__ __device__ inline
#else
#define RESR_GRAY_HD inline
#endif

namespace resr {

RESR_GRAY_HD float clamped_unit(float v) {
  return v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;  // NaN fails both comparisons: 0
}

RESR_GRAY_HD float gray_from_rgb(float r, float g, float b) {
  return 0.299f * clamped_unit(r) + 0.587f * clamped_unit(g) + 0.114f * clamped_unit(b);
}

}  // namespace resr

#undef RESR_GRAY_HD
