#include "backends/cuda/tensor_conv.h"

#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>

#include "backends/cuda/device_access.cuh"
#include "backends/cuda/tensor_conv_math.h"

namespace resr::cuda {
namespace {

using namespace tensor_conv;  // NOLINT(google-build-using-namespace): the kernel is written in its terms

// The products of one element type: fp16 (mma.m16n8k16, fp32 sums), int8 (mma.m16n8k32, int32 sums) or E4M3
// (mma.m16n8k32, fp32 sums). value(): a sum as the epilogue takes it (8-bit ones dequantized: in_scale x the
// channel's weight scale); code: an fp16 input as an 8-bit code, rounded as the INT8 and FP8 paths round it
// (element_math.h quantize_symmetric; x / scale to E4M3, nearest even, saturating).
template <Products>
struct MathOf;
template <>
struct MathOf<Products::kFp16> {
  using Sum = float;
  static __device__ __forceinline__ void mma(float c[4], const std::uint32_t a[4], const std::uint32_t b[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
  }
  static __device__ __forceinline__ float value(float sum, int, const TensorConvArgs&) {
    return sum;
  }
};
template <>
struct MathOf<Products::kInt8> {
  using Sum = int;
  static __device__ __forceinline__ void mma(int c[4], const std::uint32_t a[4], const std::uint32_t b[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
  }
  static __device__ __forceinline__ float value(int sum, int channel, const TensorConvArgs& a) {
    return float(sum) * a.dequant[channel];
  }
  static __device__ __forceinline__ std::uint32_t code(float x, float scale) {
    return std::uint32_t(quantize_symmetric(x, scale)) & 0xffu;
  }
};
template <>
struct MathOf<Products::kFp8> {
  using Sum = float;
  static __device__ __forceinline__ void mma(float c[4], const std::uint32_t a[4], const std::uint32_t b[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
  }
  static __device__ __forceinline__ float value(float sum, int channel, const TensorConvArgs& a) {
    return sum * a.dequant[channel];
  }
  static __device__ __forceinline__ std::uint32_t code(float x, float scale) {
    return std::uint32_t(__nv_cvt_float_to_fp8(x / scale, __NV_SATFINITE, __NV_E4M3));
  }
};

// Four 8x8 matrices of 16-bit pairs from shared memory (ldmatrix.x4; tensor_conv_math.h ldmatrix_a_offset).
__device__ __forceinline__ void ldmatrix_x4(const std::uint32_t* row, std::uint32_t& r0, std::uint32_t& r1,
                                            std::uint32_t& r2, std::uint32_t& r3) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const unsigned at = unsigned(__cvta_generic_to_shared(row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(at));
#endif
}

// 16 bytes from global to shared memory without passing through registers (cp.async, compute capability 8.0),
// or 16 zero bytes where `zero` (the source is then not read).
__device__ __forceinline__ void copy_16(void* shared_dst, const void* global_src, bool zero) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const unsigned dst = unsigned(__cvta_generic_to_shared(shared_dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(global_src), "r"(zero ? 0 : 16));
#endif
}
__device__ __forceinline__ void copies_issued() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}
// Waits until at most `pending` (0 or 1) of this thread's issued groups are still in flight.
__device__ __forceinline__ void copies_done(int pending) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if (pending == 0) {
    asm volatile("cp.async.wait_group 0;\n" ::);
  } else {
    asm volatile("cp.async.wait_group 1;\n" ::);
  }
#endif
}

// Four fp16 inputs as one word of 8-bit codes (MathOf<...>::code), the first in the lowest byte.
template <Products kProducts>
__device__ __forceinline__ std::uint32_t quantize_4(const __half* v, float scale) {
  std::uint32_t word = 0;
#pragma unroll
  for (int i = 0; i < 4; ++i) word |= MathOf<kProducts>::code(__half2float(v[i]), scale) << (8 * i);
  return word;
}

// Issues the copies of channels first .. first + chunk - 1 of the weights into a shared buffer.
__device__ __forceinline__ void load_weights(const TensorConvArgs& a, int oc, int first, const Cut& cut,
                                             std::uint32_t* weights) {
  const auto* w = static_cast<const char*>(a.w);
  for (int n = int(threadIdx.x); n < weight_vectors(oc, cut); n += kThreads) {
    std::size_t at = 0;
    const std::size_t from = weight_vector_source(n, a.x.c, oc, first, cut, &at);
    copy_16(weights + at, w + from * std::size_t(element_bytes(cut.products)), false);
  }
}

// The halo tile of `origin`, channels first .. first + chunk - 1, zeros for the padding: fp16 by cp.async; 8-bit
// types quantized on the way (through registers).
template <Products kProducts>
__device__ __forceinline__ void load_halo(const TensorConvArgs& a, TileOrigin origin, int first, const Cut& cut,
                                          std::uint32_t* halo) {
  const auto* x = static_cast<const __half*>(a.x.data);
  const int vectors = halo_vectors(cut);
  for (int n = int(threadIdx.x); n < vectors; n += kThreads) {
    std::size_t at = 0;
    const long long from = halo_vector_source(n, first, cut, origin, a.y.h, a.y.w, a.x.s.ps, &at);
    if constexpr (kProducts == Products::kFp16) {
      copy_16(halo + at, from >= 0 ? x + from : x, from < 0);
    } else {
      uint4 q = make_uint4(0u, 0u, 0u, 0u);
      if (from >= 0) {
        const uint4 lo = *reinterpret_cast<const uint4*>(x + from);
        const uint4 hi = *reinterpret_cast<const uint4*>(x + from + 8);
        const auto* l = reinterpret_cast<const __half*>(&lo);
        const auto* h = reinterpret_cast<const __half*>(&hi);
        q = make_uint4(quantize_4<kProducts>(l, a.in_scale), quantize_4<kProducts>(l + 4, a.in_scale),
                       quantize_4<kProducts>(h, a.in_scale), quantize_4<kProducts>(h + 4, a.in_scale));
      }
      *reinterpret_cast<uint4*>(halo + at) = q;
    }
  }
}

// The epilogue (element_math.h epilogue_value) of output channels c and c + 1 (c even) at (ox, oy), stored as one
// pair: bias, slopes and residuals read in pairs too (8- and 4-byte aligned: c even, pixel strides even). Not
// inlined: a kernel has rows x 2 x n-tiles of these, and inlined they made the kernels' code about three times
// larger (the device machine takes 64 MiB of binaries and models in all).
__device__ __noinline__ void store_pair(const TensorConvArgs& a, float v0, float v1, int c, int oy, int ox) {
  const EpilogueArgs& e = a.epilogue;
  const std::size_t pixel = std::size_t(oy) * a.y.w + ox;
  float r0[kMaxResiduals], r1[kMaxResiduals];
#pragma unroll
  for (int k = 0; k < kMaxResiduals; ++k) {
    if (k >= e.residual_count) break;
    const __half2 r = *reinterpret_cast<const __half2*>(static_cast<const __half*>(e.residuals[k]) +
                                                        pixel * e.residual_strides[k].ps + c);
    r0[k] = __low2float(r);
    r1[k] = __high2float(r);
  }
  const float2 bias = e.bias != nullptr ? *reinterpret_cast<const float2*>(e.bias + c) : make_float2(0.0f, 0.0f);
  float2 slope = make_float2(e.leaky_slope, e.leaky_slope);
  if (e.act == Act::kPrelu)
    slope = e.one_slope ? make_float2(e.slopes[0], e.slopes[0]) : *reinterpret_cast<const float2*>(e.slopes + c);
  const float e0 = epilogue_value(v0, bias.x, e.act, slope.x, e.out_scale, r0, e.residual_scales, e.residual_count);
  const float e1 = epilogue_value(v1, bias.y, e.act, slope.y, e.out_scale, r1, e.residual_scales, e.residual_count);
  *reinterpret_cast<__half2*>(static_cast<__half*>(a.y.data) + pixel * a.y.s.ps + c) = __floats2half2_rn(e0, e1);
}

// One block: the stages (tensor_conv_math.h stage_at) of its output tiles blockIdx.x, + gridDim.x, ... in turn.
// Per stage: its halo tile (and, unless resident, its weights) in a shared buffer, every warp's rows summed; at a
// tile's last chunk the epilogue applied on the sums and stored. With two stages, the next stage's copies are
// issued before the current stage's arithmetic, into the other buffer. `a` is __grid_constant__: store_pair takes
// it by reference from the parameter space itself, not from a per-thread copy on the stack.
template <Products kProducts, int kNTiles, int kRowsPerWarp>
__global__ void __launch_bounds__(kThreads) tensor_conv_k(const __grid_constant__ TensorConvArgs a, Cut cut) {
  using P = MathOf<kProducts>;
  using Sum = typename P::Sum;
  constexpr int kOut = kNTiles * 8;
  extern __shared__ uint4 shared[];
  auto* memory = reinterpret_cast<std::uint32_t*>(shared);
  const int ic = a.x.c, h = a.y.h, w = a.y.w, chunks = ic / cut.chunk, pitch = cut.pitch_words();
  const bool resident = cut.chunk == ic;
  const int lane = int(threadIdx.x) & 31, warp = int(threadIdx.x) >> 5;
  const int tiles = tile_count(h, w, kRowsPerWarp);
  const int stages = stage_count(tiles, int(blockIdx.x), int(gridDim.x), chunks);
  const auto issue = [&](int k) {
    const Stage st = stage_at(k, int(blockIdx.x), int(gridDim.x), chunks, cut.chunk);
    const int buffer = k % cut.stages;
    if (!resident) load_weights(a, kOut, st.first, cut, memory + weight_buffer_at(buffer, cut, ic, kOut));
    load_halo<kProducts>(a, tile_origin(st.tile, w, kRowsPerWarp), st.first, cut,
                         memory + halo_buffer_at(buffer, cut, ic, kOut));
    copies_issued();
  };
  if (resident) load_weights(a, kOut, 0, cut, memory);  // in the first stage's group
  if (stages > 0) issue(0);
  Sum acc[kRowsPerWarp][kNTiles][4];
  for (int k = 0; k < stages; ++k) {
    const bool prefetch = cut.stages == 2 && k + 1 < stages;
    if (prefetch) issue(k + 1);  // into the buffer stage k - 1 used, free since its closing barrier
    copies_done(prefetch ? 1 : 0);
    __syncthreads();  // every thread's copies of stage k landed
    const Stage st = stage_at(k, int(blockIdx.x), int(gridDim.x), chunks, cut.chunk);
    const int buffer = k % cut.stages;
    const std::uint32_t* halo = memory + halo_buffer_at(buffer, cut, ic, kOut);
    const std::uint32_t* weights = memory + weight_buffer_at(buffer, cut, ic, kOut);
    if (st.first == 0) {
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
        for (int n = 0; n < kNTiles; ++n) acc[r][n][0] = acc[r][n][1] = acc[r][n][2] = acc[r][n][3] = Sum(0);
    }
    for (int tap = 0; tap < kTaps; ++tap) {
      for (int kw = 0; kw < cut.chunk_words(); kw += 8) {
        std::uint32_t b[kNTiles][2];
#pragma unroll
        for (int n = 0; n < kNTiles; n += 2)
          ldmatrix_x4(weights + ldmatrix_b_offset(pitch, kOut, n, tap, kw, lane), b[n][0], b[n][1], b[n + 1][0],
                      b[n + 1][1]);
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r) {
          std::uint32_t frag[4];
          ldmatrix_x4(halo + ldmatrix_a_offset(pitch, warp * kRowsPerWarp + r, tap, kw, lane), frag[0], frag[1],
                      frag[2], frag[3]);
#pragma unroll
          for (int n = 0; n < kNTiles; ++n) P::mma(acc[r][n], frag, b[n]);
        }
      }
    }
    __syncthreads();  // every warp is done with this stage's buffer: the next issue may overwrite it
    if (cut.stages == 1 && k + 1 < stages) issue(k + 1);  // overlaps the epilogue below
    if (st.first + cut.chunk < ic) continue;              // the tile's sums are not complete yet
    const TileOrigin origin = tile_origin(st.tile, w, kRowsPerWarp);
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int oy = origin.y + warp * kRowsPerWarp + r;
      if (oy >= h) continue;
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        const OutputPlace place = output_place(lane, j);
        const int ox = origin.x + place.column;
        if (ox >= w) continue;
#pragma unroll
        for (int n = 0; n < kNTiles; ++n)
          store_pair(a, P::value(acc[r][n][2 * j], n * 8 + place.channel, a),
                     P::value(acc[r][n][2 * j + 1], n * 8 + place.channel + 1, a), n * 8 + place.channel, oy, ox);
      }
    }
  }
}

using Kernel = void (*)(TensorConvArgs, Cut);

template <Products kProducts, int kNTiles>
Kernel kernel_for(int rows_per_warp) {
  if (rows_per_warp == 4) return tensor_conv_k<kProducts, kNTiles, 4>;
  return rows_per_warp == 2 ? tensor_conv_k<kProducts, kNTiles, 2> : nullptr;
}

template <Products kProducts>
Kernel kernel_for(int oc, int rows_per_warp) {
  switch (oc) {
    case 32:
      return kernel_for<kProducts, 4>(rows_per_warp);
    case 48:
      return kernel_for<kProducts, 6>(rows_per_warp);
    case 64:
      return kernel_for<kProducts, 8>(rows_per_warp);
    default:
      return nullptr;
  }
}

Kernel kernel_for(const Cut& cut, int oc) {
  switch (cut.products) {
    case Products::kInt8:
      return kernel_for<Products::kInt8>(oc, cut.rows_per_warp);
    case Products::kFp8:
      return kernel_for<Products::kFp8>(oc, cut.rows_per_warp);
    default:
      return kernel_for<Products::kFp16>(oc, cut.rows_per_warp);
  }
}

struct DeviceFacts {
  int major = 0, minor = 0, sms = 0, max_shared = 0, sm_shared = 0, reserved = 0;
  bool ok = false;
};

DeviceFacts current_device() {
  DeviceFacts f;
  int device = 0;
  f.ok = cudaGetDevice(&device) == cudaSuccess &&
         cudaDeviceGetAttribute(&f.major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess &&
         cudaDeviceGetAttribute(&f.minor, cudaDevAttrComputeCapabilityMinor, device) == cudaSuccess &&
         cudaDeviceGetAttribute(&f.sms, cudaDevAttrMultiProcessorCount, device) == cudaSuccess &&
         cudaDeviceGetAttribute(&f.max_shared, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) == cudaSuccess &&
         cudaDeviceGetAttribute(&f.sm_shared, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device) == cudaSuccess &&
         cudaDeviceGetAttribute(&f.reserved, cudaDevAttrReservedSharedMemoryPerBlock, device) == cudaSuccess;
  if (!f.ok) cudaGetLastError();
  return f;
}

std::vector<Cut> cuts(const TensorConvArgs& a, const DeviceFacts& d) {
  // Each block also holds `reserved` bytes the runtime keeps for itself: two blocks need twice that spare.
  const int usable = d.sm_shared - 2 * d.reserved;
  return cuts_for(a.x.c, a.y.c, std::size_t(d.max_shared), std::size_t(usable > 0 ? usable : 0), a.products);
}

bool aligned(const void* p, std::size_t bytes) {
  return reinterpret_cast<std::uintptr_t>(p) % bytes == 0;
}

}  // namespace

std::string tensor_conv_refusal(const TensorConvArgs& a, const TensorConvForm& form) {
  if (!computes(a.x.c, a.y.c, form.kernel_h, form.kernel_w, form.stride, form.pad, form.dilation, a.products))
    return "not a 3x3 conv of stride 1 and padding 1 with input channels a multiple of " +
           std::to_string(32 / element_bytes(a.products)) + " and 32, 48 or 64 outputs";
  if (a.products != Products::kFp16 && (a.dequant == nullptr || !(a.in_scale > 0.0f)))
    return "an 8-bit conv without its input scale and dequantization factors";
  if (a.x.h != a.y.h || a.x.w != a.y.w || a.x.h < 1 || a.x.w < 1) return "input and output sizes differ";
  if (a.x.s.cs != 1 || a.y.s.cs != 1) return "not channels-last";
  if (a.x.s.ps % 8 != 0 || !aligned(a.x.data, 16) || !aligned(a.w, 16))
    return "input or weights not in 16-byte channel vectors";
  if (a.y.s.ps % 2 != 0 || !aligned(a.y.data, 4)) return "output not in 4-byte channel pairs";
  if (!aligned(a.epilogue.bias, 8) ||
      (a.epilogue.act == Act::kPrelu && !a.epilogue.one_slope && !aligned(a.epilogue.slopes, 8)))
    return "bias or slopes not in 8-byte pairs";
  for (int k = 0; k < a.epilogue.residual_count; ++k)
    if (a.epilogue.residual_strides[k].cs != 1 || a.epilogue.residual_strides[k].ps % 2 != 0 ||
        !aligned(a.epilogue.residuals[k], 4))
      return "a residual not channels-last in 4-byte channel pairs";
  // Tile offsets are ints, element offsets 64-bit: the image's pixel count must fit an int.
  if (std::size_t(a.y.h) * a.y.w > std::size_t(1) << 30) return "over 2^30 pixels";
  const DeviceFacts d = current_device();
  if (!d.ok) return "the device's properties could not be read";
  if (d.major < 8) return "compute capability below 8.0 (no mma.sync of these shapes)";
  if (a.products == Products::kFp8 && d.major * 10 + d.minor < 89)
    return "compute capability below 8.9 (no FP8 mma.sync)";
  if (cuts(a, d).empty())
    return "needs more shared memory than a block may have (" + std::to_string(d.max_shared) + " bytes)";
  return std::string();
}

std::vector<Cut> tensor_conv_cuts(const TensorConvArgs& a) {
  const DeviceFacts d = current_device();
  return d.ok ? cuts(a, d) : std::vector<Cut>();
}

Result<TensorConvLaunch> prepare_tensor_conv(const TensorConvArgs& a) {
  const std::vector<Cut> c = tensor_conv_cuts(a);
  if (c.empty()) return Status::error("tensor conv: no cut of this conv fits the device");
  return prepare_tensor_conv(a, c.front());
}

Result<TensorConvLaunch> prepare_tensor_conv(const TensorConvArgs& a, Cut cut) {
  const DeviceFacts d = current_device();
  if (!d.ok) return Status::error("tensor conv: the device's properties could not be read");
  TensorConvLaunch l;
  l.cut = cut;
  l.kernel = cut.products == a.products ? kernel_for(cut, a.y.c) : nullptr;
  if (l.kernel == nullptr || cut.chunk < 8 * cut.per_word() || cut.chunk % (8 * cut.per_word()) != 0 ||
      a.x.c % cut.chunk != 0 || (cut.stages != 1 && cut.stages != 2))
    return Status::error("tensor conv: no kernel for this conv and cut");
  // What the binary holds for it: mma.sync of these shapes needs code for 8.0 (FP8: 8.9) or later; a build for
  // an older architecture leaves the instructions out (tensor_conv.cu's #if), and must not run.
  cudaFuncAttributes built{};
  if (cudaFuncGetAttributes(&built, l.kernel) != cudaSuccess) {
    cudaGetLastError();
    return Status::error("tensor conv: the kernel is not in this binary for this device");
  }
  const int needed = cut.products == Products::kFp8 ? 89 : 80;
  if (built.ptxVersion < needed)
    return Status::error("tensor conv: built for compute capability " + std::to_string(built.ptxVersion) + ", needs " +
                         std::to_string(needed));
  l.shared = shared_bytes(cut, a.x.c, a.y.c);
  // The limit is the kernel's, for every launch of the process: the device's largest, so that convs of other cuts
  // sharing this kernel (or another executable's) are never refused what they were prepared with.
  cudaError_t e = cudaFuncSetAttribute(l.kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, d.max_shared);
  int per_sm = 0;
  if (e == cudaSuccess) e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, l.kernel, kThreads, l.shared);
  if (e != cudaSuccess || per_sm < 1) {
    cudaGetLastError();
    return Status::error("tensor conv: cannot launch with " + std::to_string(l.shared) +
                         " bytes of shared memory: " + cudaGetErrorString(e));
  }
  const int tiles = tile_count(a.y.h, a.y.w, cut.rows_per_warp);
  l.blocks = unsigned(tiles < per_sm * d.sms ? tiles : per_sm * d.sms);
  return l;
}

Status launch_tensor_conv(const TensorConvLaunch& l, const TensorConvArgs& a, cudaStream_t stream) {
  l.kernel<<<l.blocks, kThreads, l.shared, stream>>>(a, l.cut);
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return Status::error(std::string("tensor conv: launch failed: ") + cudaGetErrorString(e));
  return ok_status();
}

}  // namespace resr::cuda
