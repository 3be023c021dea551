// The device side shared by resr's two tensor-core conv kernels (tensor_conv.h): mma.sync (tensor_conv.cu) and
// Hopper's warpgroup MMA (tensor_conv_warpgroup.cu): the products of each element type, the shared-memory loads
// of a stage (cp.async), and the epilogue and store of a tile's sums. The index arithmetic is
// tensor_conv_math.h's.
#pragma once

#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>

#include "backends/cuda/device_access.cuh"
#include "backends/cuda/tensor_conv.h"
#include "backends/cuda/tensor_conv_math.h"

namespace resr::cuda::tensor_conv {

// The products of one element type: fp16 (mma.m16n8k16, fp32 sums), int8 (mma.m16n8k32, int32 sums) or E4M3
// (mma.m16n8k32, fp32 sums). scales(): what the sums of channels c and c + 1 (c even) are multiplied by before the
// epilogue (8-bit ones dequantized: in_scale x the channel's weight scale, read as one pair; fp16's by 1); code: an
// fp16 input as an 8-bit code, rounded as the INT8 and FP8 paths round it (element_math.h quantize_symmetric; x / scale
// to E4M3, nearest even, saturating), x / scale taken as quotient_by_reciprocal (the same quotient, without a division
// per sample; for int8 by quantize_symmetric_clamped, the same codes in fewer instructions); handover_code: a conv's
// output value as the next conv's code (TensorConvArgs::codes_out_scale; reciprocal: 1 / scale), rounded as
// int8_epilogue and the FP8 quantizing kernel round it (int8 by quantize_symmetric_clamped: the same codes, also for
// fp32 values).
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
  static __device__ __forceinline__ float2 scales(int, const TensorConvArgs&) {
    return make_float2(1.0f, 1.0f);
  }
};
// The 8-bit types' scales: their sums are dequantized per channel (in_scale x the weight scale), read as a pair.
struct Dequantized {
  static __device__ __forceinline__ float2 scales(int c, const TensorConvArgs& a) {
    return __ldg(reinterpret_cast<const float2*>(a.dequant + c));
  }
};
template <>
struct MathOf<Products::kInt8> : Dequantized {
  using Sum = int;
  static __device__ __forceinline__ void mma(int c[4], const std::uint32_t a[4], const std::uint32_t b[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
  }
  static __device__ __forceinline__ std::uint32_t code(float x, float scale, float reciprocal) {
    // (127 x scale: by one scale the same in every call, which the compiler hoists out of quantize_staged's loop;
    // per channel, one multiply a sample)
    return std::uint32_t(quantize_symmetric_clamped(x, scale, reciprocal, 127.0f * scale)) & 0xffu;
  }
  static __device__ __forceinline__ std::uint32_t handover_code(float x, float scale, float reciprocal) {
    return code(x, scale, reciprocal);  // the same codes for fp32 values too (tests/unit/cuda_plan)
  }
};
template <>
struct MathOf<Products::kFp8> : Dequantized {
  using Sum = float;
  static __device__ __forceinline__ void mma(float c[4], const std::uint32_t a[4], const std::uint32_t b[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
  }
  static __device__ __forceinline__ std::uint32_t code(float x, float scale, float reciprocal) {
    return std::uint32_t(
        __nv_cvt_float_to_fp8(quotient_by_reciprocal(x, scale, reciprocal), __NV_SATFINITE, __NV_E4M3));
  }
  static __device__ __forceinline__ std::uint32_t handover_code(float x, float scale, float) {
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
// Makes this thread's shared-memory writes (cp.async) visible to wgmma, which reads shared memory through the
// async proxy (compute capability 9.0).
__device__ __forceinline__ void shared_writes_to_async_proxy() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
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
__device__ __forceinline__ std::uint32_t quantize_4(const __half* v, float scale, float reciprocal) {
  std::uint32_t word = 0;
#pragma unroll
  for (int i = 0; i < 4; ++i) word |= MathOf<kProducts>::code(__half2float(v[i]), scale, reciprocal) << (8 * i);
  return word;
}

// Issues the copies of channels first .. first + chunk - 1 of the weights of output-channel part `part` (oc
// channels a part) into a shared buffer.
__device__ __forceinline__ void load_weights(const TensorConvArgs& a, int oc, int part, int first, const Cut& cut,
                                             std::uint32_t* weights) {
  const auto* w =
      static_cast<const char*>(a.w) + part_weights_at(part, oc, a.x.c) * std::size_t(element_bytes(cut.products));
  for (int n = int(threadIdx.x); n < weight_vectors(oc, cut); n += kThreads) {
    std::size_t at = 0;
    const std::size_t from = weight_vector_source(n, a.x.c, oc, first, cut, &at);
    copy_16(weights + at, w + from * std::size_t(element_bytes(cut.products)), false);
  }
}

// Issues the copies of the halo tile of `origin`, channels first .. first + chunk - 1, zeros for the padding: fp16
// into the halo buffer; for 8-bit types into the staging buffer (quantize_staged takes it from there), or, with
// codes_in, the codes into the halo buffer.
template <Products kProducts>
__device__ __forceinline__ void load_halo(const TensorConvArgs& a, TileOrigin origin, int first, const Cut& cut,
                                          std::uint32_t* halo, std::uint32_t* staging) {
  const auto* x = static_cast<const __half*>(a.x.data);
  const auto* codes = static_cast<const unsigned char*>(a.x.data);
  const int vectors = halo_vectors(cut);
  for (int n = int(threadIdx.x); n < vectors; n += kThreads) {
    std::size_t at = 0;
    const long long from = halo_vector_source(n, first, cut, origin, a.y.h, a.y.w, a.x.s.ps, &at);
    if constexpr (kProducts == Products::kFp16) {
      copy_16(halo + at, from >= 0 ? x + from : x, from < 0);
    } else if (a.codes_in) {  // a hand-over: the codes themselves, 16 a vector
      copy_16(halo + at, from >= 0 ? codes + from : codes, from < 0);
    } else {
      std::uint32_t* staged = staging + staging_vector_at(n, cut);
      copy_16(staged, from >= 0 ? x + from : x, from < 0);
      copy_16(staged + 4, from >= 0 ? x + from + 8 : x, from < 0);
    }
  }
}

// Four fp16 inputs of four consecutive channels as one word of int8 codes, each by its channel's scale and
// reciprocal: q holds their pairs (TensorConvArgs::in_channel_quant from the first of them; 16-byte aligned).
__device__ __forceinline__ std::uint32_t quantize_4_channels(const __half* v, const float4* q) {
  const float4 p0 = __ldg(q), p1 = __ldg(q + 1);
  const float scales[4] = {p0.x, p0.z, p1.x, p1.z}, reciprocals[4] = {p0.y, p0.w, p1.y, p1.w};
  std::uint32_t word = 0;
#pragma unroll
  for (int i = 0; i < 4; ++i)
    word |= MathOf<Products::kInt8>::code(__half2float(v[i]), scales[i], reciprocals[i]) << (8 * i);
  return word;
}

// 8-bit types, once a stage's copies landed: its staged fp16 halo tile (channels first .. first + chunk - 1)
// quantized into the halo buffer, by in_scale or, for int8 with in_channel_quant, by each channel's scale. Not
// inlined: inlined, its temporaries competed with the sums held in registers (an FP8 mma.sync kernel spilled 260
// bytes).
template <Products kProducts>
__device__ __noinline__ void quantize_staged(const TensorConvArgs& a, Cut cut, int first, const std::uint32_t* staging,
                                             std::uint32_t* halo) {
  const int vectors = halo_vectors(cut);
  const float scale = a.in_scale, reciprocal = 1.0f / scale;
  const bool per_channel = kProducts == Products::kInt8 && a.in_channel_quant != nullptr;
  for (int n = int(threadIdx.x); n < vectors; n += kThreads) {
    const auto* v = reinterpret_cast<const uint4*>(staging + staging_vector_at(n, cut));
    const uint4 lo = v[0], hi = v[1];
    const auto* l = reinterpret_cast<const __half*>(&lo);
    const auto* h = reinterpret_cast<const __half*>(&hi);
    uint4 codes;
    if (per_channel) {  // the vector's 16 channels: their pairs, two channels a float4
      const auto* q =
          reinterpret_cast<const float4*>(a.in_channel_quant + 2 * std::size_t(first + halo_vector_channel(n, cut)));
      codes = make_uint4(quantize_4_channels(l, q), quantize_4_channels(l + 4, q + 2), quantize_4_channels(h, q + 4),
                         quantize_4_channels(h + 4, q + 6));
    } else {
      codes = make_uint4(quantize_4<kProducts>(l, scale, reciprocal), quantize_4<kProducts>(l + 4, scale, reciprocal),
                         quantize_4<kProducts>(h, scale, reciprocal), quantize_4<kProducts>(h + 4, scale, reciprocal));
    }
    *reinterpret_cast<uint4*>(halo + halo_vector_destination(n, cut)) = codes;
  }
}

// The epilogue's factors of output channels c and c + 1 (c even): the sums' scales (MathOf<>::scales), bias and
// activation slopes, read as pairs (8-byte aligned: c even), and for a hand-over the codes' scales and their
// reciprocals (codes_out_scale and code_reciprocal = 1 / it, or codes_out_channel_quant's pairs: 16-byte aligned),
// once a tile for all of its rows (store_rows).
struct ChannelPair {
  float2 scale, bias, slope, code_scale, code_reciprocal;
};
template <Products kProducts>
__device__ __forceinline__ ChannelPair channel_pair(const TensorConvArgs& a, int c, float code_reciprocal) {
  const EpilogueArgs& e = a.epilogue;
  ChannelPair k;
  k.scale = MathOf<kProducts>::scales(c, a);
  k.code_scale = make_float2(a.codes_out_scale, a.codes_out_scale);
  k.code_reciprocal = make_float2(code_reciprocal, code_reciprocal);
  if (kProducts == Products::kInt8 && a.codes_out_channel_quant != nullptr) {
    const float4 q = __ldg(reinterpret_cast<const float4*>(a.codes_out_channel_quant + 2 * c));
    k.code_scale = make_float2(q.x, q.z);
    k.code_reciprocal = make_float2(q.y, q.w);
  }
  k.bias = e.bias != nullptr ? __ldg(reinterpret_cast<const float2*>(e.bias + c)) : make_float2(0.0f, 0.0f);
  k.slope = make_float2(e.leaky_slope, e.leaky_slope);
  if (e.act == Act::kPrelu)
    k.slope =
        e.one_slope ? make_float2(e.slopes[0], e.slopes[0]) : __ldg(reinterpret_cast<const float2*>(e.slopes + c));
  return k;
}

// The epilogue (element_math.h activated_value, then the residuals: epilogue_value) of output channels c and c + 1
// (c even) of output pixel `pixel` (y * width + x), from their sums and factors k; stored as one fp16 pair, or with
// codes_out_scale > 0 as the next conv's two 8-bit codes (by k's code scales). Residuals are read
// in pairs (4-byte aligned: c even, pixel strides even). Inlined into the kernel: the epilogue's arguments are
// then read from the kernel's parameters and its residuals stay in registers (as a call, it read every argument
// through a generic pointer and kept the residuals on the stack).
template <Products kProducts, class Sum>
__device__ __forceinline__ void store_pair(const TensorConvArgs& a, Sum s0, Sum s1, int c, std::size_t pixel,
                                           const ChannelPair& k) {
  const EpilogueArgs& e = a.epilogue;
  const float2 sums = make_float2(float(s0) * k.scale.x, float(s1) * k.scale.y);
  float v0 = activated_value(sums.x, k.bias.x, e.act, k.slope.x, e.out_scale);
  float v1 = activated_value(sums.y, k.bias.y, e.act, k.slope.y, e.out_scale);
#pragma unroll
  for (int i = 0; i < kMaxResiduals; ++i) {
    if (i >= e.residual_count) break;
    const __half2 r = *reinterpret_cast<const __half2*>(static_cast<const __half*>(e.residuals[i]) +
                                                        pixel * e.residual_strides[i].ps + c);
    v0 += e.residual_scales[i] * __low2float(r);
    v1 += e.residual_scales[i] * __high2float(r);
  }
  if constexpr (kProducts != Products::kFp16) {
    if (a.codes_out_scale > 0.0f) {  // a hand-over: the next conv's two codes
      const std::uint32_t pair = MathOf<kProducts>::handover_code(v0, k.code_scale.x, k.code_reciprocal.x) |
                                 MathOf<kProducts>::handover_code(v1, k.code_scale.y, k.code_reciprocal.y) << 8;
      *reinterpret_cast<std::uint16_t*>(static_cast<unsigned char*>(a.y.data) + pixel * a.y.s.ps + c) =
          std::uint16_t(pair);
      return;
    }
  }
  *reinterpret_cast<__half2*>(static_cast<__half*>(a.y.data) + pixel * a.y.s.ps + c) = __floats2half2_rn(v0, v1);
}

// Issues the copies of stage k of this block (tensor_conv_math.h stage_at) into its buffer k % stages: the weights
// unless resident, and the halo tile (8-bit types: staged); one cp.async group.
template <Products kProducts, int kOut, int kRowsPerWarp>
__device__ __forceinline__ void issue_stage(const TensorConvArgs& a, int k, const Cut& cut, std::uint32_t* memory) {
  const int ic = a.x.c, chunks = ic / cut.chunk;
  const BlockPart bp = block_part(int(blockIdx.x), int(gridDim.x), cut.parts);
  const Stage st = stage_at(k, bp.block, bp.blocks, chunks, cut.chunk);
  const int buffer = k % cut.stages;
  if (cut.chunk != ic) load_weights(a, kOut, bp.part, st.first, cut, memory + weight_buffer_at(buffer, cut, ic, kOut));
  load_halo<kProducts>(a, tile_origin(st.tile, a.y.w, kRowsPerWarp), st.first, cut,
                       memory + halo_buffer_at(buffer, cut, ic, kOut),
                       memory + staging_buffer_at(buffer, cut, ic, kOut));
  copies_issued();
}

// A block's start, in both kernels: its output-channel part and place in it (tensor_conv_math.h block_part) and
// its stage count; the resident weights (in the first stage's group) and stage 0 issued, where it has stages
// (with none, a grid larger than the tiles, nothing is loaded). stages < 0: the block idles (a grid not a
// multiple of the parts), and must return before any barrier.
template <Products kProducts, int kOut, int kRowsPerWarp>
__device__ __forceinline__ BlockPart begin_block(const TensorConvArgs& a, const Cut& cut, std::uint32_t* memory,
                                                 int* stages) {
  const BlockPart bp = block_part(int(blockIdx.x), int(gridDim.x), cut.parts);
  *stages = -1;
  if (int(blockIdx.x) >= bp.blocks * cut.parts) return bp;
  *stages = stage_count(tile_count(a.y.h, a.y.w, kRowsPerWarp), bp.block, bp.blocks, a.x.c / cut.chunk);
  if (*stages == 0) return bp;  // (no copies then: none may be in flight when the block exits)
  if (cut.chunk == a.x.c) load_weights(a, kOut, bp.part, 0, cut, memory);
  issue_stage<kProducts, kOut, kRowsPerWarp>(a, 0, cut, memory);
  return bp;
}

// The start and end of stage k in both kernels. land_stage: with two stages, stage k + 1's copies issued into
// the other buffer first (free since stage k - 1's closing barrier); stage k's copies awaited (kAsyncProxy:
// made visible to wgmma's reads too), a barrier, and for 8-bit types its halo quantized (quantize_stage).
// close_stage: a barrier once every warp is done with the stage's buffer; with one stage, stage k + 1's copies
// issued into it (overlapping the epilogue); whether the tile's sums are complete (its last chunk).
template <Products kProducts, int kOut, int kRowsPerWarp, bool kAsyncProxy>
__device__ __forceinline__ void land_stage(const TensorConvArgs& a, int k, int stages, const Stage& st, const Cut& cut,
                                           std::uint32_t* memory);
template <Products kProducts, int kOut, int kRowsPerWarp>
__device__ __forceinline__ bool close_stage(const TensorConvArgs& a, int k, int stages, const Cut& cut,
                                            std::uint32_t* memory, const Stage& st) {
  __syncthreads();
  if (cut.stages == 1 && k + 1 < stages) issue_stage<kProducts, kOut, kRowsPerWarp>(a, k + 1, cut, memory);
  return st.first + cut.chunk >= a.x.c;
}

// After the barrier that follows a stage's copies: for 8-bit types (unless codes_in) its staged halo tile (stage
// k, st) quantized into buffer k % stages, and a second barrier before any warp reads it.
template <Products kProducts, int kOut>
__device__ __forceinline__ void quantize_stage(const TensorConvArgs& a, int k, const Stage& st, const Cut& cut,
                                               std::uint32_t* memory) {
  if constexpr (kProducts != Products::kFp16) {
    if (a.codes_in) return;  // loaded as codes
    const int buffer = k % cut.stages;
    quantize_staged<kProducts>(a, cut, st.first, memory + staging_buffer_at(buffer, cut, a.x.c, kOut),
                               memory + halo_buffer_at(buffer, cut, a.x.c, kOut));
    __syncthreads();
  }
}

template <Products kProducts, int kOut, int kRowsPerWarp, bool kAsyncProxy>
__device__ __forceinline__ void land_stage(const TensorConvArgs& a, int k, int stages, const Stage& st, const Cut& cut,
                                           std::uint32_t* memory) {
  const bool prefetch = cut.stages == 2 && k + 1 < stages;
  if (prefetch) issue_stage<kProducts, kOut, kRowsPerWarp>(a, k + 1, cut, memory);
  copies_done(prefetch ? 1 : 0);
  if constexpr (kAsyncProxy) shared_writes_to_async_proxy();
  __syncthreads();
  quantize_stage<kProducts, kOut>(a, k, st, cut, memory);
}

// The epilogue and store of a warp's rows of the tile at `origin`, from its sums in the C layout of mma.sync
// (and of wgmma's D, per warp): acc[r][n][2 * j + e] is tile row warp x rows + r, output_place(lane, j), channel
// first + 8 n + place.channel + e (first: the block's output-channel part). By n-tile, so that each pair of
// channels' factors is read once a tile.
template <Products kProducts, int kNTiles, int kRowsPerWarp, class Sum>
__device__ __forceinline__ void store_rows(const TensorConvArgs& a, const Sum (&acc)[kRowsPerWarp][kNTiles][4],
                                           TileOrigin origin, int warp, int lane, int first) {
  const float code_reciprocal = a.codes_out_scale > 0.0f ? 1.0f / a.codes_out_scale : 0.0f;  // once a tile
#pragma unroll
  for (int n = 0; n < kNTiles; ++n) {
    // (a lane's channels are the same for both of its columns j: output_place's channel)
    const int c = first + n * 8 + output_place(lane, 0).channel;
    const ChannelPair k = channel_pair<kProducts>(a, c, code_reciprocal);
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int oy = origin.y + warp * kRowsPerWarp + r;
      if (oy >= a.y.h) continue;
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        const int ox = origin.x + output_place(lane, j).column;
        if (ox >= a.y.w) continue;
        store_pair<kProducts>(a, acc[r][n][2 * j], acc[r][n][2 * j + 1], c, std::size_t(oy) * a.y.w + ox, k);
      }
    }
  }
}

// The kernel of a form (Form: a class whose `template <Products, int kNTiles, int kRowsPerWarp> static
// TensorConvKernel get()` names its kernel template's instance) for these products, output channels (32, 48 or 64)
// and rows a warp (2 or 4), or null.
template <class Form, Products kProducts, int kNTiles>
TensorConvKernel kernel_of_rows(int rows_per_warp) {
  if (rows_per_warp == 4) return Form::template get<kProducts, kNTiles, 4>();
  return rows_per_warp == 2 ? Form::template get<kProducts, kNTiles, 2>() : nullptr;
}
template <class Form, Products kProducts>
TensorConvKernel kernel_of_channels(int oc, int rows_per_warp) {
  switch (oc) {
    case 32:
      return kernel_of_rows<Form, kProducts, 4>(rows_per_warp);
    case 48:
      return kernel_of_rows<Form, kProducts, 6>(rows_per_warp);
    case 64:
      return kernel_of_rows<Form, kProducts, 8>(rows_per_warp);
    default:
      return nullptr;
  }
}
template <class Form>
TensorConvKernel kernel_of(Products products, int oc, int rows_per_warp) {
  switch (products) {
    case Products::kInt8:
      return kernel_of_channels<Form, Products::kInt8>(oc, rows_per_warp);
    case Products::kFp8:
      return kernel_of_channels<Form, Products::kFp8>(oc, rows_per_warp);
    default:
      return kernel_of_channels<Form, Products::kFp16>(oc, rows_per_warp);
  }
}

}  // namespace resr::cuda::tensor_conv
