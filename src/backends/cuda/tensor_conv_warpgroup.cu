#include "backends/cuda/tensor_conv_warpgroup.h"

#include <cstdint>
#include <string>

#include "backends/cuda/tensor_conv_device.cuh"
#include "backends/cuda/tensor_conv_math.h"

// wgmma exists only in code for sm_90a: built for anything else, the kernels below would be empty and leave their
// outputs unwritten (CMakeLists.txt builds this file for sm_90a alone).
#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#error "tensor_conv_warpgroup.cu builds for sm_90a only"
#endif

namespace resr::cuda {
namespace {

using namespace tensor_conv;  // NOLINT(google-build-using-namespace): the kernel is written in its terms

// wgmma.mma_async of one element type, N = 8 x kNTiles output channels: d += A x B, A (64 x K) from the four
// warps' registers (each warp's 16 rows in the A layout of mma.sync, m16n8k16 for fp16 and m16n8k32 for 8-bit
// types), B (K x N) from shared memory by the descriptor `b` (K-major, tensor_conv_math.h
// warpgroup_weight_descriptor). K is 16 fp16 (fp32 sums), or 32 int8 (int32 sums) or E4M3 (fp32 sums). d[t][q] is
// register 4 t + q of the PTX ISA's D fragment: rows group + 8 (q / 2), columns 8 t + 2 thread + q % 2, as
// mma.sync's C of n-tile t.
template <Products kProducts, int kNTiles>
__device__ __forceinline__ void warpgroup_mma(typename MathOf<kProducts>::Sum (&d)[kNTiles][4],
                                              const std::uint32_t (&a)[4], std::uint64_t b);
template <>
__device__ __forceinline__ void warpgroup_mma<Products::kFp16, 4>(float (&d)[4][4], const std::uint32_t (&a)[4],
                                                                  std::uint64_t b) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n32k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, "
      "%14, %15}, {%16, %17, %18, %19}, %20, 1, 1, 1, 0;\n"
      : "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), "+f"(d[1][2]),
        "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), "+f"(d[3][0]), "+f"(d[3][1]),
        "+f"(d[3][2]), "+f"(d[3][3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));
#endif
}

template <>
__device__ __forceinline__ void warpgroup_mma<Products::kFp16, 6>(float (&d)[6][4], const std::uint32_t (&a)[4],
                                                                  std::uint64_t b) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n48k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, "
      "%14, %15, %16, %17, %18, %19, %20, %21, %22, %23}, {%24, %25, %26, %27}, %28, 1, 1, 1, 0;\n"
      : "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), "+f"(d[1][2]),
        "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), "+f"(d[3][0]), "+f"(d[3][1]),
        "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]), "+f"(d[4][2]), "+f"(d[4][3]), "+f"(d[5][0]),
        "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));
#endif
}

template <>
__device__ __forceinline__ void warpgroup_mma<Products::kFp16, 8>(float (&d)[8][4], const std::uint32_t (&a)[4],
                                                                  std::uint64_t b) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, "
      "%14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, {%32, %33, %34, "
      "%35}, %36, 1, 1, 1, 0;\n"
      : "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), "+f"(d[1][2]),
        "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), "+f"(d[3][0]), "+f"(d[3][1]),
        "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]), "+f"(d[4][2]), "+f"(d[4][3]), "+f"(d[5][0]),
        "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3]), "+f"(d[6][0]), "+f"(d[6][1]), "+f"(d[6][2]), "+f"(d[6][3]),
        "+f"(d[7][0]), "+f"(d[7][1]), "+f"(d[7][2]), "+f"(d[7][3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));
#endif
}

template <>
__device__ __forceinline__ void warpgroup_mma<Products::kInt8, 4>(int (&d)[4][4], const std::uint32_t (&a)[4],
                                                                  std::uint64_t b) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n32k32.s32.s8.s8 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, "
      "%14, %15}, {%16, %17, %18, %19}, %20, 1;\n"
      : "+r"(d[0][0]), "+r"(d[0][1]), "+r"(d[0][2]), "+r"(d[0][3]), "+r"(d[1][0]), "+r"(d[1][1]), "+r"(d[1][2]),
        "+r"(d[1][3]), "+r"(d[2][0]), "+r"(d[2][1]), "+r"(d[2][2]), "+r"(d[2][3]), "+r"(d[3][0]), "+r"(d[3][1]),
        "+r"(d[3][2]), "+r"(d[3][3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));
#endif
}

template <>
__device__ __forceinline__ void warpgroup_mma<Products::kInt8, 6>(int (&d)[6][4], const std::uint32_t (&a)[4],
                                                                  std::uint64_t b) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n48k32.s32.s8.s8 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, "
      "%14, %15, %16, %17, %18, %19, %20, %21, %22, %23}, {%24, %25, %26, %27}, %28, 1;\n"
      : "+r"(d[0][0]), "+r"(d[0][1]), "+r"(d[0][2]), "+r"(d[0][3]), "+r"(d[1][0]), "+r"(d[1][1]), "+r"(d[1][2]),
        "+r"(d[1][3]), "+r"(d[2][0]), "+r"(d[2][1]), "+r"(d[2][2]), "+r"(d[2][3]), "+r"(d[3][0]), "+r"(d[3][1]),
        "+r"(d[3][2]), "+r"(d[3][3]), "+r"(d[4][0]), "+r"(d[4][1]), "+r"(d[4][2]), "+r"(d[4][3]), "+r"(d[5][0]),
        "+r"(d[5][1]), "+r"(d[5][2]), "+r"(d[5][3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));
#endif
}

template <>
__device__ __forceinline__ void warpgroup_mma<Products::kInt8, 8>(int (&d)[8][4], const std::uint32_t (&a)[4],
                                                                  std::uint64_t b) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n64k32.s32.s8.s8 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, "
      "%14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, {%32, %33, %34, "
      "%35}, %36, 1;\n"
      : "+r"(d[0][0]), "+r"(d[0][1]), "+r"(d[0][2]), "+r"(d[0][3]), "+r"(d[1][0]), "+r"(d[1][1]), "+r"(d[1][2]),
        "+r"(d[1][3]), "+r"(d[2][0]), "+r"(d[2][1]), "+r"(d[2][2]), "+r"(d[2][3]), "+r"(d[3][0]), "+r"(d[3][1]),
        "+r"(d[3][2]), "+r"(d[3][3]), "+r"(d[4][0]), "+r"(d[4][1]), "+r"(d[4][2]), "+r"(d[4][3]), "+r"(d[5][0]),
        "+r"(d[5][1]), "+r"(d[5][2]), "+r"(d[5][3]), "+r"(d[6][0]), "+r"(d[6][1]), "+r"(d[6][2]), "+r"(d[6][3]),
        "+r"(d[7][0]), "+r"(d[7][1]), "+r"(d[7][2]), "+r"(d[7][3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));
#endif
}

template <>
__device__ __forceinline__ void warpgroup_mma<Products::kFp8, 4>(float (&d)[4][4], const std::uint32_t (&a)[4],
                                                                 std::uint64_t b) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n32k32.f32.e4m3.e4m3 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, "
      "%13, %14, %15}, {%16, %17, %18, %19}, %20, 1, 1, 1;\n"
      : "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), "+f"(d[1][2]),
        "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), "+f"(d[3][0]), "+f"(d[3][1]),
        "+f"(d[3][2]), "+f"(d[3][3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));
#endif
}

template <>
__device__ __forceinline__ void warpgroup_mma<Products::kFp8, 6>(float (&d)[6][4], const std::uint32_t (&a)[4],
                                                                 std::uint64_t b) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n48k32.f32.e4m3.e4m3 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, "
      "%13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23}, {%24, %25, %26, %27}, %28, 1, 1, 1;\n"
      : "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), "+f"(d[1][2]),
        "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), "+f"(d[3][0]), "+f"(d[3][1]),
        "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]), "+f"(d[4][2]), "+f"(d[4][3]), "+f"(d[5][0]),
        "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));
#endif
}

template <>
__device__ __forceinline__ void warpgroup_mma<Products::kFp8, 8>(float (&d)[8][4], const std::uint32_t (&a)[4],
                                                                 std::uint64_t b) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n64k32.f32.e4m3.e4m3 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, "
      "%13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, {%32, %33, %34, "
      "%35}, %36, 1, 1, 1;\n"
      : "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), "+f"(d[1][2]),
        "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), "+f"(d[3][0]), "+f"(d[3][1]),
        "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]), "+f"(d[4][2]), "+f"(d[4][3]), "+f"(d[5][0]),
        "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3]), "+f"(d[6][0]), "+f"(d[6][1]), "+f"(d[6][2]), "+f"(d[6][3]),
        "+f"(d[7][0]), "+f"(d[7][1]), "+f"(d[7][2]), "+f"(d[7][3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));
#endif
}

// The ordering wgmma needs around it (PTX ISA): fence before the products read registers written since (the A
// fragments, the zeroed sums); a commit closes a group of products; wait until at most kPending groups are in
// flight. (tensor_conv_device.cuh shared_writes_to_async_proxy: the fence before the products read shared memory.)
__device__ __forceinline__ void warpgroup_fence() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void warpgroup_commit() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
template <int kPending>
__device__ __forceinline__ void warpgroup_wait() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
#endif
}
// Keeps the compiler from moving the sums between the asynchronous products and their wait.
__device__ __forceinline__ void pin(float& v) {
  asm volatile("" : "+f"(v)::"memory");
}
__device__ __forceinline__ void pin(int& v) {
  asm volatile("" : "+r"(v)::"memory");
}
template <int kRowsPerWarp, int kNTiles, class Sum>
__device__ __forceinline__ void pin_sums(Sum (&acc)[kRowsPerWarp][kNTiles][4]) {
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
    for (int n = 0; n < kNTiles; ++n)
#pragma unroll
      for (int q = 0; q < 4; ++q) pin(acc[r][n][q]);
}

// One block (one warpgroup): the stages of its tiles as tensor_conv.cu's kernel takes them (buffers, barriers,
// epilogue), the products by wgmma: per k-step, each warp loads the A fragments of its halo rows at the three tap
// columns (tensor_conv_math.h warpgroup_fragment_row), then issues the step's 9 x rows products as one
// group and waits for it.
template <Products kProducts, int kNTiles, int kRowsPerWarp>
__global__ void __launch_bounds__(kThreads) tensor_conv_warpgroup_k(const __grid_constant__ TensorConvArgs a, Cut cut) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using Sum = typename MathOf<kProducts>::Sum;
  constexpr int kOut = kNTiles * 8;
  constexpr int kFragments = kRowsPerWarp + 2;  // halo rows a warp's output rows read
  extern __shared__ uint4 shared[];
  auto* memory = reinterpret_cast<std::uint32_t*>(shared);
  const auto memory_address = std::uint32_t(__cvta_generic_to_shared(memory));
  const int ic = a.x.c, chunks = ic / cut.chunk, pitch = cut.pitch_words();
  const int lane = int(threadIdx.x) & 31, warp = int(threadIdx.x) >> 5;
  int stages = 0;
  const BlockPart bp = begin_block<kProducts, kOut, kRowsPerWarp>(a, cut, memory, &stages);
  if (stages < 0) return;
  Sum acc[kRowsPerWarp][kNTiles][4];
  for (int k = 0; k < stages; ++k) {
    const Stage st = stage_at(k, bp.block, bp.blocks, chunks, cut.chunk);
    land_stage<kProducts, kOut, kRowsPerWarp, true>(a, k, stages, st, cut, memory);  // visible to the products too
    const int buffer = k % cut.stages;
    const std::uint32_t* halo = memory + halo_buffer_at(buffer, cut, ic, kOut);
    const std::uint32_t weights = memory_address + std::uint32_t(weight_buffer_at(buffer, cut, ic, kOut)) * 4u;
    if (st.first == 0) {
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
        for (int n = 0; n < kNTiles; ++n) acc[r][n][0] = acc[r][n][1] = acc[r][n][2] = acc[r][n][3] = Sum(0);
    }
    for (int k_step = 0; k_step < cut.chunk_words() / 8; ++k_step) {
      std::uint32_t f[3][kFragments][4];
      std::uint64_t b[kTaps];
#pragma unroll
      for (int column = 0; column < 3; ++column)
#pragma unroll
        for (int h = 0; h < kFragments; ++h)
          ldmatrix_x4(
              halo + ldmatrix_a_offset(pitch, warpgroup_fragment_row(warp, kRowsPerWarp, h), column, 8 * k_step, lane),
              f[column][h][0], f[column][h][1], f[column][h][2], f[column][h][3]);
#pragma unroll
      for (int tap = 0; tap < kTaps; ++tap) b[tap] = warpgroup_weight_descriptor(weights, cut, kOut, tap, k_step);
      warpgroup_fence();
#pragma unroll
      for (int column = 0; column < 3; ++column)
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
          for (int dy = 0; dy < 3; ++dy)
            warpgroup_mma<kProducts, kNTiles>(acc[r], f[column][r + dy], b[3 * dy + column]);
      warpgroup_commit();
      // Nothing may write the fragments' registers while the group is in flight (ptxas would serialize every
      // product): the next k-step's loads wait for it, and the other block on the multiprocessor fills the gap.
      warpgroup_wait<0>();
    }
    pin_sums(acc);
    // every product of this stage's buffer is done (waited for above) before close_stage's barrier
    if (!close_stage<kProducts, kOut, kRowsPerWarp>(a, k, stages, cut, memory, st)) continue;
    store_rows<kProducts, kNTiles, kRowsPerWarp>(a, acc, tile_origin(st.tile, a.y.w, kRowsPerWarp), warp, lane,
                                                 part_first_channel(bp.part, kOut));
  }
#endif
}

// warpgroup_product's kernel, one block of 128 threads: B staged in shared memory as the conv's weights of one
// tap and k-step are (the [K group][column][16 bytes] core matrices), A in each lane's registers by the A layout
// (register r: row 16 warp + group + 8 (r & 1), word thread + 4 (r >> 1)), one product, D stored by the D layout.
template <Products kProducts, int kNTiles>
__global__ void __launch_bounds__(kThreads)
    warpgroup_product_k(const std::uint32_t* a, const std::uint32_t* b, typename MathOf<kProducts>::Sum* d) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using Sum = typename MathOf<kProducts>::Sum;
  constexpr int kN = kNTiles * 8;
  __shared__ uint4 staged[2 * kN];  // two 16-byte K groups of every column
  auto* words = reinterpret_cast<std::uint32_t*>(staged);
  const int lane = int(threadIdx.x) & 31, warp = int(threadIdx.x) >> 5, group = lane >> 2, thread = lane & 3;
  for (int i = int(threadIdx.x); i < kN * 8; i += kThreads) {
    const int column = i / 8, word = i % 8;
    words[((word / 4) * kN + column) * 4 + word % 4] = b[i];
  }
  shared_writes_to_async_proxy();
  __syncthreads();
  std::uint32_t regs[4];
#pragma unroll
  for (int r = 0; r < 4; ++r) regs[r] = a[(16 * warp + group + 8 * (r & 1)) * 8 + thread + 4 * (r >> 1)];
  Sum acc[kNTiles][4];
#pragma unroll
  for (int t = 0; t < kNTiles; ++t) acc[t][0] = acc[t][1] = acc[t][2] = acc[t][3] = Sum(0);
  const Cut one_step{1, 32 / element_bytes(kProducts), 1, kProducts, true};  // one k-step: 8 words of K
  const std::uint64_t desc =
      warpgroup_weight_descriptor(std::uint32_t(__cvta_generic_to_shared(words)), one_step, kN, 0, 0);
  warpgroup_fence();
  warpgroup_mma<kProducts, kNTiles>(acc, regs, desc);
  warpgroup_commit();
  warpgroup_wait<0>();
#pragma unroll
  for (int t = 0; t < kNTiles; ++t)
#pragma unroll
    for (int q = 0; q < 4; ++q) d[(16 * warp + group + 8 * (q / 2)) * kN + 8 * t + 2 * thread + q % 2] = acc[t][q];
#endif
}

template <Products kProducts>
Status product_of(int n, const std::uint32_t* a, const std::uint32_t* b, void* d) {
  using Sum = typename MathOf<kProducts>::Sum;
  std::uint32_t *da = nullptr, *db = nullptr;
  Sum* dd = nullptr;
  const std::size_t a_bytes = 64 * 8 * 4, b_bytes = std::size_t(n) * 8 * 4, d_bytes = 64 * std::size_t(n) * sizeof(Sum);
  cudaError_t e = cudaMalloc(&da, a_bytes);
  if (e == cudaSuccess) e = cudaMalloc(&db, b_bytes);
  if (e == cudaSuccess) e = cudaMalloc(&dd, d_bytes);
  if (e == cudaSuccess) e = cudaMemcpy(da, a, a_bytes, cudaMemcpyHostToDevice);
  if (e == cudaSuccess) e = cudaMemcpy(db, b, b_bytes, cudaMemcpyHostToDevice);
  if (e == cudaSuccess) {
    if (n == 32) warpgroup_product_k<kProducts, 4><<<1, kThreads>>>(da, db, dd);
    if (n == 48) warpgroup_product_k<kProducts, 6><<<1, kThreads>>>(da, db, dd);
    if (n == 64) warpgroup_product_k<kProducts, 8><<<1, kThreads>>>(da, db, dd);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) e = cudaDeviceSynchronize();
  if (e == cudaSuccess) e = cudaMemcpy(d, dd, d_bytes, cudaMemcpyDeviceToHost);
  cudaFree(da);
  cudaFree(db);
  cudaFree(dd);
  if (e != cudaSuccess) return Status::error(std::string("warpgroup product: ") + cudaGetErrorString(e));
  return ok_status();
}

struct WarpgroupForm {  // tensor_conv_device.cuh kernel_of
  template <Products kProducts, int kNTiles, int kRowsPerWarp>
  static TensorConvKernel get() {
    return tensor_conv_warpgroup_k<kProducts, kNTiles, kRowsPerWarp>;
  }
};

}  // namespace

Status warpgroup_product(Products products, int n, const std::uint32_t* a, const std::uint32_t* b, void* d) {
  int device = 0, major = 0, minor = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess) {
    cudaGetLastError();
    return Status::error("warpgroup product: no CUDA device");
  }
  if (major != 9 || minor != 0) return Status::error("warpgroup product: needs compute capability 9.0");
  if (n != 32 && n != 48 && n != 64) return Status::error("warpgroup product: n is 32, 48 or 64");
  switch (products) {
    case Products::kInt8:
      return product_of<Products::kInt8>(n, a, b, d);
    case Products::kFp8:
      return product_of<Products::kFp8>(n, a, b, d);
    default:
      return product_of<Products::kFp16>(n, a, b, d);
  }
}

TensorConvKernel warpgroup_tensor_conv_kernel(Products products, int oc, int rows_per_warp) {
  return kernel_of<WarpgroupForm>(products, oc, rows_per_warp);
}

}  // namespace resr::cuda
