// The index arithmetic of resr's own tensor-core conv (tensor_conv.h), as host + device functions: the kernel
// runs them on the GPU, and tests/unit/cuda_plan emulates one warp's mma.sync over the same functions, so the
// shared-memory layout, the fragment loads and the output coordinates are checked on machines without a GPU.
//
// The conv: 3x3, stride 1, padding 1, fp16 NHWC in and out (channel slices of wider storages allowed), the
// epilogue of element_math.h. Three element types for the products: fp16 (mma.m16n8k16, fp32 sums), int8
// (mma.m16n8k32, int32 sums) or E4M3 (mma.m16n8k32, fp32 sums); for the 8-bit ones the fp16 input is quantized as
// it is loaded, per tensor (int8 also per input channel), and the sums are dequantized per channel before the epilogue.
// As an implicit GEMM: M = output pixels, N = output channels (<= 64, all of them in one block), K = 9 taps x input
// channels. A block of kWarps warps computes an output tile of kWarps * rows_per_warp rows by kTileWidth columns; each
// warp owns rows_per_warp whole rows, one m16 fragment per row (16 consecutive pixels), and every output channel (oc /
// 8 n8 fragments).
//
// Shared memory holds 32-bit words of elements (2 fp16 or 4 8-bit ones a word): the weights [tap][oc][chunk], then the
// input tile with its one-pixel halo [halo row][halo column][chunk], for one chunk of input channels; both with
// a row pitch of chunk words + 4. The 4 extra words make the pitch 4 words past a multiple of 8 words, so the 8
// rows that one fragment load reads fall into distinct banks. (The warpgroup form keeps its weights unpadded; 8-bit
// products stage the fp16 input tile first: staging_words.)
//
// Fragments (PTX ISA; A row-major, B column-major, C/D 32-bit), lane = 4 * group + thread. In words, fp16's
// m16n8k16 and the 8-bit m16n8k32 are the same: a k-step is 8 words of K (16 halves or 32 8-bit elements), and
//   A (16 x 8 words): register r holds row group + 8 * (r & 1), word thread + 4 * (r >> 1);
//   B (8 words x 8):  register r holds word thread + 4 * r of column group;
//   C (16 x 8):       value i is row group + 8 * (i >> 1), column 2 * thread + (i & 1).
// (Within a word, the lower element is the lower K index.) A's rows are output pixels (tile columns), its K
// input channels of one tap; B's columns output channels.
//
// The warpgroup form (Cut::warpgroup, Hopper's wgmma) keeps this tile order, halo and A fragments; one wgmma
// m64nOCk16 (m64nOCk32 for 8-bit types) takes a tile row of each of the 4 warps and every output channel, B from
// the weights in shared memory by a descriptor; its D fragment is, per warp, the C layout above for each n-tile.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "backends/cuda/element_math.h"

namespace resr::cuda::tensor_conv {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kTileWidth = 16;  // one m16 fragment: 16 consecutive output pixels of a row
constexpr int kHaloWidth = kTileWidth + 2;
constexpr int kTaps = 9;
constexpr int kMaxOutChannels = 64;

// The products' element type: fp16 (fp32 sums), int8 (int32 sums) or FP8 E4M3 (fp32 sums; mma.sync of e4m3
// needs compute capability 8.9).
enum class Products { kFp16, kInt8, kFp8 };
RESR_HD int element_bytes(Products p) {
  return p == Products::kFp16 ? 2 : 1;
}

// Whether the kernel computes a conv of this form at all (shared memory aside): 3x3, stride 1, padding 1,
// dilation 1, input channels a multiple of 8 words (16 for fp16 products, 32 for 8-bit ones: one k-step), output
// channels 32, 48 or 64 (pairs of n8 fragments; the kernels instantiated: the real models' widths).
RESR_HD bool computes(int ic, int oc, int kernel_h, int kernel_w, int stride, int pad, int dilation,
                      Products products = Products::kFp16) {
  return kernel_h == 3 && kernel_w == 3 && stride == 1 && pad == 1 && dilation == 1 && ic > 0 &&
         ic % (32 / element_bytes(products)) == 0 && oc >= 32 && oc % 16 == 0 && oc <= kMaxOutChannels;
}

// The input channels are taken in chunks of `chunk` (a multiple of 8 words dividing ic): the weights and the halo
// tile of one chunk at a time in shared memory. With one chunk (chunk == ic) the weights are resident: loaded
// once, for every tile a block computes; with more, each tile loads every chunk's weights again. The block's
// work is a sequence of stages, (tile, chunk) pairs; with stages == 2 the loads of the next stage (cp.async)
// overlap the arithmetic of the current one, in a second buffer.
struct Cut {
  int rows_per_warp = 0, chunk = 0, stages = 1;
  Products products = Products::kFp16;
  // The products by Hopper's warpgroup MMA (wgmma.mma_async, compute capability 9.0: sm_90a code) instead of
  // mma.sync: the 4 warps of a block are one warpgroup, and one wgmma (m64nOCk16 for fp16, m64nOCk32 for 8-bit
  // types) takes one tile row of each warp (A from the warps' registers, loaded as for mma.sync) and the weights
  // from shared memory by a descriptor (warpgroup_weight_descriptor).
  bool warpgroup = false;
  // Output-channel parts (block_part): 2 halves a block's output channels, so that weights too large to stay in
  // shared memory beside the halo (x4plus's 192 -> 64 conv5 in fp16) stay there for half of them, at the price of
  // loading each halo tile twice. 1 or 2 (cuts_for offers 2 for 64 output channels: halves of 32).
  int parts = 1;
  bool operator==(const Cut& o) const {
    return rows_per_warp == o.rows_per_warp && chunk == o.chunk && stages == o.stages && products == o.products &&
           warpgroup == o.warpgroup && parts == o.parts;
  }
  RESR_HD int per_word() const { return 4 / element_bytes(products); }
  RESR_HD int chunk_words() const { return chunk / per_word(); }
  RESR_HD int pitch_words() const { return chunk_words() + 4; }
};

// A cut in words, for reports and test messages: "rows 2 chunk 64 stages 1", then " warpgroup", " parts 2".
inline std::string describe(const Cut& c) {
  return "rows " + std::to_string(c.rows_per_warp) + " chunk " + std::to_string(c.chunk) + " stages " +
         std::to_string(c.stages) + (c.warpgroup ? " warpgroup" : "") +
         (c.parts > 1 ? " parts " + std::to_string(c.parts) : "");
}

RESR_HD int tile_rows(int rows_per_warp) {
  return kWarps * rows_per_warp;
}
// The warpgroup form keeps the weights unpadded (warpgroup_weight_descriptor): the tensor cores read them whole.
RESR_HD std::size_t weight_words(const Cut& c, int oc) {
  return std::size_t(kTaps) * oc * (c.warpgroup ? c.chunk_words() : c.pitch_words());
}
RESR_HD std::size_t halo_words(const Cut& c) {
  return std::size_t(tile_rows(c.rows_per_warp) + 2) * kHaloWidth * c.pitch_words();
}
// Shared memory, in words from its start: weight buffers (one when resident, else one a stage), then halo
// buffers (one a stage), then for 8-bit products staging buffers (one a stage). Buffer b of a stage sequence is
// stage % stages.
RESR_HD std::size_t weight_buffer_at(int buffer, const Cut& c, int ic, int oc) {
  return c.chunk == ic ? 0 : std::size_t(buffer) * weight_words(c, oc);
}
RESR_HD std::size_t halo_buffer_at(int buffer, const Cut& c, int ic, int oc) {
  const int weight_buffers = c.chunk == ic ? 1 : c.stages;
  return std::size_t(weight_buffers) * weight_words(c, oc) + std::size_t(buffer) * halo_words(c);
}
// 8-bit products: the fp16 input of a halo tile lands first in a staging buffer ([halo pixel][chunk] fp16,
// unpadded; one a stage, after the halo buffers), by cp.async like fp16's, and is quantized from there into the
// halo buffer once it is complete; so the loads of the next stage overlap the arithmetic as fp16's do, instead of
// stalling the loading warps for a global round trip.
RESR_HD std::size_t staging_words(const Cut& c) {
  return c.products == Products::kFp16 ? 0 : std::size_t(tile_rows(c.rows_per_warp) + 2) * kHaloWidth * c.chunk / 2;
}
RESR_HD std::size_t staging_buffer_at(int buffer, const Cut& c, int ic, int oc) {
  return halo_buffer_at(c.stages, c, ic, oc) + std::size_t(buffer) * staging_words(c);
}
RESR_HD std::size_t shared_bytes(const Cut& c, int ic, int oc) {
  return staging_buffer_at(c.stages, c, ic, oc) * 4;
}
// What a block of cut c takes for a conv of oc output channels: shared_bytes of its part's oc / parts.
RESR_HD std::size_t block_shared_bytes(const Cut& c, int ic, int oc) {
  return shared_bytes(c, ic, oc / c.parts);
}

// How a conv is cut. cut_for is the first choice, untuned: 4 rows a warp where the output channels are few (32
// accumulators a thread per row at 64 channels), else 2; one stage; the largest chunk that lets two blocks share
// a multiprocessor (one block's loads then overlap the other's arithmetic), else the largest that fits one
// block. cuts_for lists the cuts worth timing against each other (RESR_CUDA_TENSOR_CONV=auto), cut_for's first:
// for 2 and 4 rows and 1 and 2 stages, the largest chunk for two blocks a multiprocessor and the largest for
// one. max_shared_bytes: what one block may have; multiprocessor_bytes: what two blocks may share of a
// multiprocessor (less the runtime's reservation per block). Empty, or rows_per_warp == 0: nothing fits.
inline int largest_chunk(int ic, int oc, Cut c, std::size_t limit) {
  const int step = 8 * c.per_word();
  for (c.chunk = ic; c.chunk >= step; c.chunk -= step)
    if (ic % c.chunk == 0 && shared_bytes(c, ic, oc) <= limit) return c.chunk;
  return 0;
}
// With `warpgroup` (a device and binary with wgmma), the same cuts of the warpgroup form follow.
inline std::vector<Cut> cuts_for(int ic, int oc, std::size_t max_shared_bytes, std::size_t multiprocessor_bytes,
                                 Products products = Products::kFp16, bool warpgroup = false) {
  const int first_rows = oc <= 32 ? 4 : 2;
  std::vector<Cut> cuts;
  for (const bool form : {false, true}) {
    if (form && !warpgroup) break;
    for (const int stages : {1, 2})
      for (const int rows : {first_rows, 6 - first_rows})
        for (const std::size_t limit : {std::min(max_shared_bytes, multiprocessor_bytes / 2), max_shared_bytes}) {
          Cut c{rows, 0, stages, products, form};
          c.chunk = largest_chunk(ic, oc, c, limit);
          if (c.chunk > 0 && std::find(cuts.begin(), cuts.end(), c) == cuts.end()) cuts.push_back(c);
        }
    // Two output-channel parts, resident, where no single-part cut of two rows keeps the weights resident.
    if (oc % 64 == 0 && shared_bytes(Cut{2, ic, 1, products, form}, ic, oc) > max_shared_bytes)
      for (const int stages : {1, 2})
        for (const int rows : {2, 4}) {
          const Cut c{rows, ic, stages, products, form, 2};
          if (block_shared_bytes(c, ic, oc) <= max_shared_bytes) cuts.push_back(c);
        }
  }
  return cuts;
}
inline Cut cut_for(int ic, int oc, std::size_t max_shared_bytes, std::size_t multiprocessor_bytes,
                   Products products = Products::kFp16, bool warpgroup = false) {
  const std::vector<Cut> cuts = cuts_for(ic, oc, max_shared_bytes, multiprocessor_bytes, products, warpgroup);
  return cuts.empty() ? Cut{} : cuts.front();
}

// Output tiles of an h x w output: tiles_x = ceil(w / 16) per band of tile_rows rows.
RESR_HD int tiles_across(int w) {
  return (w + kTileWidth - 1) / kTileWidth;
}
RESR_HD int tile_count(int h, int w, int rows_per_warp) {
  const int rows = tile_rows(rows_per_warp);
  return ((h + rows - 1) / rows) * tiles_across(w);
}
struct TileOrigin {
  int y, x;
};
RESR_HD TileOrigin tile_origin(int tile, int w, int rows_per_warp) {
  const int across = tiles_across(w);
  return TileOrigin{(tile / across) * tile_rows(rows_per_warp), (tile % across) * kTileWidth};
}

// Stage k of the block `block` of `blocks` (persistent blocks take tiles block, block + blocks, ...): its tile
// and first channel. The block has stage_count stages.
struct Stage {
  int tile, first;
};
RESR_HD Stage stage_at(int k, int block, int blocks, int chunks, int chunk) {
  return Stage{block + (k / chunks) * blocks, (k % chunks) * chunk};
}
RESR_HD int stage_count(int tiles, int block, int blocks, int chunks) {
  return block < tiles ? ((tiles - block + blocks - 1) / blocks) * chunks : 0;
}

// With output-channel parts, block `block` of a grid of `blocks` (a multiple of parts) computes part block %
// parts (output channels part x width .. + width - 1, width = oc / parts) of the tiles of its place in that part:
// stage_at and stage_count take `block` and `blocks` below.
struct BlockPart {
  int part, block, blocks;
};
RESR_HD BlockPart block_part(int block, int blocks, int parts) {
  return BlockPart{block % parts, block / parts, blocks / parts};
}
// Part `part`'s first output channel, and its rows' first element in the [oc][tap][ic] filter (width output
// channels a part).
RESR_HD int part_first_channel(int part, int width) {
  return part * width;
}
RESR_HD std::size_t part_weights_at(int part, int width, int ic) {
  return std::size_t(part_first_channel(part, width)) * kTaps * ic;
}

// Loads move 16-byte vectors (4 words: 8 fp16 or 16 int8 elements of shared memory).
RESR_HD int vector_elements(const Cut& c) {
  return 4 * c.per_word();
}

// Loading the weights of channels first .. first + chunk - 1: the n-th of their vectors (oc-major, then tap,
// then channel) comes from this element offset of the device's [oc][tap][ic] filter (of the cut's element type)
// and goes to word *destination of the [tap][oc][pitch] shared copy; for the warpgroup form, of the
// [tap][16-byte K group][oc][16 bytes] copy, in which each 8 output channels of a K group are one contiguous
// 128-byte core matrix (the PTX ISA's K-major layout without swizzle).
RESR_HD std::size_t weight_vector_source(int n, int ic, int oc, int first, const Cut& c, std::size_t* destination) {
  const int per_pixel = c.chunk_words() / 4, per_oc = kTaps * per_pixel;
  const int o = n / per_oc, tap = (n % per_oc) / per_pixel, v = n % per_pixel;
  *destination = c.warpgroup ? ((std::size_t(tap) * per_pixel + v) * oc + o) * 4
                             : (std::size_t(tap) * oc + o) * c.pitch_words() + std::size_t(v) * 4;
  return (std::size_t(o) * kTaps + tap) * ic + first + std::size_t(v) * vector_elements(c);
}

// The wgmma matrix descriptor of B (the weights: K = input channels x N = output channels) for tap `tap` and
// k-step `step` (8 words of K), the warpgroup form's weights at shared-memory byte address `weights`: the start at
// the step's first K group of output channel 0; the leading byte offset, between the step's two K groups, oc x 16;
// the stride byte offset, between groups of 8 output channels, 128; no swizzle. Each field is (bytes & 0x3FFFF)
// >> 4, at bits 0, 16 and 32.
RESR_HD std::uint64_t descriptor_field(std::uint32_t bytes) {
  return std::uint64_t((bytes & 0x3FFFFu) >> 4);
}
RESR_HD std::uint64_t warpgroup_weight_descriptor(std::uint32_t weights, const Cut& c, int oc, int tap, int step) {
  const auto groups = std::uint32_t(c.chunk_words() / 4);
  const std::uint32_t start = weights + ((std::uint32_t(tap) * groups + 2u * std::uint32_t(step)) * oc) * 16u;
  return descriptor_field(start) | descriptor_field(std::uint32_t(oc) * 16u) << 16 | descriptor_field(128u) << 32;
}

// The warpgroup form's order within a stage, per k-step: a warp loads the A fragments of its halo rows
// warpgroup_fragment_row(h), h = 0 .. rows + 1, at each tap column c (ldmatrix_a_offset with c as the tap); its
// output row r takes fragment (c, r + dy) for tap 3 x dy + c, so that each fragment serves up to three taps.
RESR_HD int warpgroup_fragment_row(int warp, int rows_per_warp, int h) {
  return warp * rows_per_warp + h;
}
RESR_HD int weight_vectors(int oc, const Cut& c) {
  return kTaps * oc * (c.chunk_words() / 4);
}

// Loading the input tile of the tile at `origin`, channels first .. first + chunk - 1: the n-th vector of the
// halo tile (halo pixels in row order, channels fastest) goes to shared word *destination of the halo buffer;
// it holds the vector_elements channels from element offset `return value` of the fp16 input (pixel pitch
// `pixel_stride` elements), or zeros (return value < 0) where the halo pixel lies outside the h x w image (the
// padding). 8-bit cuts copy those fp16 channels to staging_vector_at(n) instead (two 16-byte copies), and
// quantize them from there into *destination.
RESR_HD std::size_t halo_vector_destination(int n, const Cut& c) {
  const int per_pixel = c.chunk_words() / 4;
  return std::size_t(n / per_pixel) * c.pitch_words() + std::size_t(n % per_pixel) * 4;
}
// The first of vector n's channels, counted from the stage's first (a multiple of vector_elements): with per-channel
// input scales, which scales quantize it.
RESR_HD int halo_vector_channel(int n, const Cut& c) {
  return (n % (c.chunk_words() / 4)) * vector_elements(c);
}
RESR_HD std::size_t staging_vector_at(int n, const Cut& c) {
  return std::size_t(n) * std::size_t(vector_elements(c)) / 2;
}
RESR_HD long long halo_vector_source(int n, int first, const Cut& c, TileOrigin origin, int h, int w,
                                     std::size_t pixel_stride, std::size_t* destination) {
  const int per_pixel = c.chunk_words() / 4;
  const int pixel = n / per_pixel, v = n % per_pixel;
  *destination = halo_vector_destination(n, c);
  const int y = origin.y + pixel / kHaloWidth - 1, x = origin.x + pixel % kHaloWidth - 1;
  if (y < 0 || y >= h || x < 0 || x >= w) return -1;
  const std::size_t offset = (std::size_t(y) * w + x) * pixel_stride + first + std::size_t(v) * vector_elements(c);
  return static_cast<long long>(offset);
}
RESR_HD int halo_vectors(const Cut& c) {
  return (tile_rows(c.rows_per_warp) + 2) * kHaloWidth * (c.chunk_words() / 4);
}

// load_a and load_b state the fragments plainly, word by word: the host emulation loads them so, and the kernel's
// ldmatrix maps below are tested to give the same.
// The A fragment of tile row `row` (0 .. tile rows - 1) for tap `tap` and the k-step of the chunk's words
// k .. k + 7, from the halo tile (pitch words a pixel).
RESR_HD void load_a(const std::uint32_t* halo, int pitch, int row, int tap, int k, int lane, std::uint32_t a[4]) {
  const int group = lane >> 2, thread = lane & 3;
  const int p0 = (row + tap / 3) * kHaloWidth + group + tap % 3;  // output pixel `group` of the row, shifted by the tap
  const int p1 = p0 + 8;
  a[0] = halo[p0 * pitch + k + thread];
  a[1] = halo[p1 * pitch + k + thread];
  a[2] = halo[p0 * pitch + k + thread + 4];
  a[3] = halo[p1 * pitch + k + thread + 4];
}

// The B fragment of output channels 8 * n_tile .. + 7, tap `tap`, the chunk's words k .. k + 7.
RESR_HD void load_b(const std::uint32_t* weights, int pitch, int oc, int n_tile, int tap, int k, int lane,
                    std::uint32_t b[2]) {
  const int group = lane >> 2, thread = lane & 3;
  const int base = (tap * oc + n_tile * 8 + group) * pitch + k + thread;
  b[0] = weights[base];
  b[1] = weights[base + 4];
}

// The same fragments by ldmatrix.x4 (m8n8, b16: it moves 32-bit words, whatever they hold): lane l gives the
// address of row l % 8 of matrix l / 8, and receives in register m word l % 4 of row l / 4 of matrix m. These are
// the word offsets each lane gives. A: matrix m is rows 8 * (m & 1) .. + 7 of the fragment, words
// k + 4 * (m >> 1) .. + 3, so register m is load_a's a[m]. B, two n8 fragments at once (n_tile and n_tile + 1):
// matrix m is output channels 8 * (n_tile + (m >> 1)) .. + 7, words k + 4 * (m & 1) .. + 3, so registers 0, 1
// are load_b's b of n_tile and 2, 3 those of n_tile + 1.
RESR_HD int ldmatrix_a_offset(int pitch, int row, int tap, int k, int lane) {
  const int m = lane >> 3, r = lane & 7;
  const int pixel = (row + tap / 3) * kHaloWidth + r + 8 * (m & 1) + tap % 3;
  return pixel * pitch + k + 4 * (m >> 1);
}
RESR_HD int ldmatrix_b_offset(int pitch, int oc, int n_tile, int tap, int k, int lane) {
  const int m = lane >> 3, r = lane & 7;
  return (tap * oc + (n_tile + (m >> 1)) * 8 + r) * pitch + k + 4 * (m & 1);
}

// Where accumulator values 2 * j and 2 * j + 1 (j = 0, 1) of a lane's C fragment go: the tile column of their
// pixel and the first of their two output channels within the n8 fragment.
struct OutputPlace {
  int column, channel;
};
RESR_HD OutputPlace output_place(int lane, int j) {
  return OutputPlace{(lane >> 2) + 8 * j, 2 * (lane & 3)};
}

}  // namespace resr::cuda::tensor_conv
