#include "backends/cuda/tensor_conv.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "backends/cuda/tensor_conv_device.cuh"
#include "backends/cuda/tensor_conv_math.h"
#include "backends/cuda/tensor_conv_warpgroup.h"

namespace resr::cuda {
namespace {

using namespace tensor_conv;  // NOLINT(google-build-using-namespace): the kernel is written in its terms

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
  const int ic = a.x.c, chunks = ic / cut.chunk, pitch = cut.pitch_words();
  const int lane = int(threadIdx.x) & 31, warp = int(threadIdx.x) >> 5;
  int stages = 0;
  const BlockPart bp = begin_block<kProducts, kOut, kRowsPerWarp>(a, cut, memory, &stages);
  if (stages < 0) return;
  Sum acc[kRowsPerWarp][kNTiles][4];
  for (int k = 0; k < stages; ++k) {
    const Stage st = stage_at(k, bp.block, bp.blocks, chunks, cut.chunk);
    land_stage<kProducts, kOut, kRowsPerWarp, false>(a, k, stages, st, cut, memory);
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
    if (!close_stage<kProducts, kOut, kRowsPerWarp>(a, k, stages, cut, memory, st)) continue;
    store_rows<kProducts, kNTiles, kRowsPerWarp>(a, acc, tile_origin(st.tile, a.y.w, kRowsPerWarp), warp, lane,
                                                 part_first_channel(bp.part, kOut));
  }
}

using Kernel = TensorConvKernel;

struct MmaSyncForm {  // tensor_conv_device.cuh kernel_of
  template <Products kProducts, int kNTiles, int kRowsPerWarp>
  static Kernel get() {
    return tensor_conv_k<kProducts, kNTiles, kRowsPerWarp>;
  }
};

Kernel kernel_for(const Cut& cut, int oc) {
  if (cut.warpgroup) return warpgroup_tensor_conv_kernel(cut.products, oc, cut.rows_per_warp);
  return kernel_of<MmaSyncForm>(cut.products, oc, cut.rows_per_warp);
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

// Whether the warpgroup form runs here: a device of compute capability 9.0 and a binary with its sm_90a code, and
// RESR_CUDA_TENSOR_WARPGROUP not 0 (bench/gpu_check.sh turns it off where its own test failed).
bool warpgroup_runs(const DeviceFacts& d) {
  const char* env = std::getenv("RESR_CUDA_TENSOR_WARPGROUP");
  if (d.major != 9 || d.minor != 0 || (env != nullptr && std::string(env) == "0")) return false;
  cudaFuncAttributes built{};
  const Kernel k = warpgroup_tensor_conv_kernel(Products::kFp16, 64, 2);
  if (k == nullptr || cudaFuncGetAttributes(&built, k) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return true;
}

std::vector<Cut> cuts(const TensorConvArgs& a, const DeviceFacts& d) {
  // Each block also holds `reserved` bytes the runtime keeps for itself: two blocks need twice that spare.
  const int usable = d.sm_shared - 2 * d.reserved;
  return cuts_for(a.x.c, a.y.c, std::size_t(d.max_shared), std::size_t(usable > 0 ? usable : 0), a.products,
                  warpgroup_runs(d));
}

bool aligned(const void* p, std::size_t bytes) {
  return reinterpret_cast<std::uintptr_t>(p) % bytes == 0;
}

}  // namespace

std::string tensor_conv_refusal(const TensorConvArgs& a, const TensorConvForm& form) {
  if (!computes(a.x.c, a.y.c, form.kernel_h, form.kernel_w, form.stride, form.pad, form.dilation, a.products))
    return "not a 3x3 conv of stride 1 and padding 1 with input channels a multiple of " +
           std::to_string(32 / element_bytes(a.products)) + " and 32, 48 or 64 outputs";
  // (the quantizing pass multiplies by 1 / in_scale, and int8's clamps to 127 x in_scale: they must be finite)
  const bool scale_taken = a.products == Products::kInt8 ? clamped_quantizer_takes(a.in_scale)
                                                         : a.in_scale > 0.0f && std::isfinite(1.0f / a.in_scale);
  if (a.products != Products::kFp16 && (a.dequant == nullptr || !scale_taken))
    return "an 8-bit conv without its input scale and dequantization factors";
  if ((a.codes_in || a.codes_out_scale > 0.0f) && a.products == Products::kFp16)
    return "8-bit codes in or out of a conv of fp16 products";
  // (quantize_4_channels and channel_pair read the pairs as float4s)
  if ((a.in_channel_quant != nullptr || a.codes_out_channel_quant != nullptr) && a.products != Products::kInt8)
    return "per-channel scales with other than int8 products";
  if (!aligned(a.in_channel_quant, 16) || !aligned(a.codes_out_channel_quant, 16))
    return "per-channel scales not 16-byte aligned";
  // (int8 codes are quantize_symmetric_clamped's: 1 / scale and 127 x scale must be finite; E4M3's divide)
  if (a.codes_out_scale > 0.0f && !clamped_quantizer_takes(a.codes_out_scale))
    return "a hand-over scale whose reciprocal or 127 times is not finite";
  if (a.x.h != a.y.h || a.x.w != a.y.w || a.x.h < 1 || a.x.w < 1) return "input and output sizes differ";
  if (a.x.s.cs != 1 || a.y.s.cs != 1) return "not channels-last";
  // (pixel strides in elements: 16 codes or 8 fp16 values make a 16-byte vector; 2 codes or fp16 values a pair)
  if (a.x.s.ps % (a.codes_in ? 16 : 8) != 0 || !aligned(a.x.data, 16) || !aligned(a.w, 16))
    return "input or weights not in 16-byte channel vectors";
  if (a.y.s.ps % 2 != 0 || !aligned(a.y.data, a.codes_out_scale > 0.0f ? 2 : 4)) return "output not in channel pairs";
  if (!aligned(a.epilogue.bias, 8) || !aligned(a.dequant, 8) ||
      (a.epilogue.act == Act::kPrelu && !a.epilogue.one_slope && !aligned(a.epilogue.slopes, 8)))
    return "bias, slopes or dequantization factors not in 8-byte pairs";
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

Result<TensorConvLaunch> prepare_tensor_conv(const TensorConvArgs& a, Cut cut) {
  const DeviceFacts d = current_device();
  if (!d.ok) return Status::error("tensor conv: the device's properties could not be read");
  TensorConvLaunch l;
  l.cut = cut;
  const bool parts_ok = (cut.parts == 1 || cut.parts == 2) && a.y.c % cut.parts == 0;
  const int width = parts_ok ? a.y.c / cut.parts : 0;  // output channels a block computes
  l.kernel = cut.products == a.products && parts_ok ? kernel_for(cut, width) : nullptr;
  // Also a cut from the plan cache, made before RESR_CUDA_TENSOR_WARPGROUP=0 was set.
  if (cut.warpgroup && !warpgroup_runs(d))
    return Status::error(
        "tensor conv: the warpgroup form does not run here (compute capability 9.0, sm_90a code, "
        "RESR_CUDA_TENSOR_WARPGROUP)");
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
  const int needed = cut.warpgroup ? 90 : cut.products == Products::kFp8 ? 89 : 80;
  // The warpgroup kernels are SASS alone (sm_90a, no PTX kept): should the PTX version then read 0, the binary's
  // is what they were compiled for.
  const int built_for = built.ptxVersion > 0 ? built.ptxVersion : built.binaryVersion;
  if (built_for < needed)
    return Status::error("tensor conv: built for compute capability " + std::to_string(built.ptxVersion) +
                         " (PTX; binary " + std::to_string(built.binaryVersion) + "), needs " + std::to_string(needed));
  l.shared = block_shared_bytes(cut, a.x.c, a.y.c);
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
  // Each part's blocks take its tiles in turn: a multiple of the parts.
  const int work = tile_count(a.y.h, a.y.w, cut.rows_per_warp) * cut.parts, room = per_sm * d.sms;
  l.blocks = unsigned(std::max(cut.parts, (work < room ? work : room) / cut.parts * cut.parts));
  return l;
}

Status launch_tensor_conv(const TensorConvLaunch& l, const TensorConvArgs& a, cudaStream_t stream) {
  // An error left by an earlier call is named as such, not reported as this launch's.
  if (const cudaError_t earlier = cudaGetLastError(); earlier != cudaSuccess)
    return Status::error(std::string("an earlier CUDA call failed unreported (found before a tensor conv): ") +
                         cudaGetErrorString(earlier));
  l.kernel<<<l.blocks, kThreads, l.shared, stream>>>(a, l.cut);
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return Status::error(std::string("tensor conv: launch failed: ") + cudaGetErrorString(e));
  return ok_status();
}

}  // namespace resr::cuda
