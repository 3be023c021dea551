// resr's tensor-core conv (tensor_conv.cu) emulated on the host over its own index arithmetic
// (tensor_conv_math.h): shared memory filled by the kernel's vector maps, every lane's fragments loaded by the
// kernel's load functions, each mma.sync m16n8k16 emulated from the 32 lanes' registers with the PTX ISA's
// fragment layout (stated here independently of the header), and the sums stored where output_place says with
// element_math.h's epilogue. The result must equal a plain 3x3 conv; only the instruction itself and the launch
// are left to the GPU tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "backends/cuda/element_math.h"
#include "backends/cuda/tensor_conv_math.h"
#include "core/fp8.h"
#include "core/half.h"

namespace resr::cuda {
namespace {

using namespace tensor_conv;  // NOLINT(google-build-using-namespace)

struct Problem {
  int ic, oc, h, w;
  int in_pixel_stride, in_offset;    // the input: a channel slice of a wider NHWC storage
  int out_pixel_stride, out_offset;  // the output, likewise
  int rows_per_warp, chunk, stages;
  Act act = Act::kNone;
  int residuals = 0;
  Products products = Products::kFp16;
  bool warpgroup = false;
  int parts = 1;
  // Hand-overs (TensorConvArgs): the input as 8-bit codes already (in the input's slice of a storage of
  // in_pixel_stride bytes a pixel); the output as the next conv's codes (out_pixel_stride bytes a pixel).
  bool codes_in = false, codes_out = false;
  // int8 with per-channel scales (TensorConvArgs in_channel_quant, codes_out_channel_quant): the input quantized
  // by each channel's own scale, and the codes out (if any) by the next conv's.
  bool channel_scales = false;
  int element_bytes() const { return tensor_conv::element_bytes(products); }
  Cut cut() const { return Cut{rows_per_warp, chunk, stages, products, warpgroup, parts}; }
  int width() const { return oc / parts; }  // output channels a block computes
};

void PrintTo(const Problem& p, std::ostream* os) {
  *os << p.ic << " -> " << p.oc << " @" << p.w << "x" << p.h << ", pixel strides " << p.in_pixel_stride << "/"
      << p.out_pixel_stride << ", " << describe(p.cut())
      << (p.products == Products::kInt8  ? ", int8"
          : p.products == Products::kFp8 ? ", fp8"
                                         : ", fp16")
      << (p.codes_in ? ", codes in" : "") << (p.codes_out ? ", codes out" : "")
      << (p.channel_scales ? ", per-channel scales" : "");
}

struct Tensors {
  std::vector<std::uint16_t> x, y, residual;  // fp16 bit patterns
  std::vector<std::uint8_t> w;                // [oc][tap][ic] fp16 (two bytes each), int8 or E4M3
  std::vector<float> bias, slopes, dequant;   // dequant: 8-bit products, in_scale x weight scale per channel
  float in_scale = 0.02f;
  std::vector<std::uint8_t> codes_in, codes_out;  // hand-overs: x's codes (its layout), y's codes
  float handover_scale = 0.07f;                   // the next conv's input scale (outputs up to about 8)
  // per-channel scales: per input channel its scale and 1 / scale (conv_weight_prep.h channel_quant_pairs), and
  // per output channel the next conv's
  std::vector<float> channel_quant, codes_out_quant;
};

float from_half(std::uint16_t v) {
  return half_to_float(v);
}

Tensors make_tensors(const Problem& p, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Tensors t;
  t.x.resize(std::size_t(p.h) * p.w * p.in_pixel_stride);
  for (auto& v : t.x) v = float_to_half(u(rng) * 3.0f);  // int8: samples past 127 x in_scale are clamped
  const std::size_t weights = std::size_t(p.oc) * kTaps * p.ic;
  t.w.resize(weights * std::size_t(p.element_bytes()));
  for (std::size_t i = 0; i < weights; ++i) {
    if (p.products == Products::kFp16) {
      const std::uint16_t v = float_to_half(u(rng) * 0.05f);
      std::memcpy(&t.w[2 * i], &v, 2);
    } else if (p.products == Products::kInt8) {
      t.w[i] = std::uint8_t(std::int8_t(std::lround(u(rng) * 127.0f)));
    } else {
      t.w[i] = float_to_e4m3(u(rng) * 448.0f);
    }
  }
  t.y.assign(std::size_t(p.h) * p.w * p.out_pixel_stride, float_to_half(7.0f));  // outside the slice: untouched
  t.residual.resize(std::size_t(p.h) * p.w * p.oc);
  for (auto& v : t.residual) v = float_to_half(u(rng));
  for (int c = 0; c < p.oc; ++c) {
    t.bias.push_back(u(rng) * 0.2f);
    t.slopes.push_back(0.05f + 0.01f * float(c));
    t.dequant.push_back(t.in_scale * (0.0005f + 0.00001f * float(c)));
  }
  t.codes_out.assign(std::size_t(p.h) * p.w * p.out_pixel_stride, 0x55);  // outside the slice: untouched
  if (p.channel_scales) {  // factors 0.5 .. 2 of the tensor's scales, differing between neighbouring channels
    for (int c = 0; c < p.ic; ++c) {
      const float scale = t.in_scale * (0.5f + 0.25f * float((c * 5) % 7));
      t.channel_quant.insert(t.channel_quant.end(), {scale, 1.0f / scale});
    }
    for (int c = 0; c < p.oc; ++c) {
      const float scale = t.handover_scale * (0.5f + 0.3f * float((c * 3) % 5));
      t.codes_out_quant.insert(t.codes_out_quant.end(), {scale, 1.0f / scale});
    }
  }
  return t;
}

float slope_of(const Problem& p, const Tensors& t, int c) {
  return p.act == Act::kPrelu ? t.slopes[std::size_t(c)] : 0.2f;
}

// The scale of input channel c (per tensor, or its own), and of the codes handed over for output channel c.
float input_scale(const Problem& p, const Tensors& t, int c) {
  return p.channel_scales ? t.channel_quant[2 * std::size_t(c)] : t.in_scale;
}
float handover_scale(const Problem& p, const Tensors& t, int c) {
  return p.channel_scales ? t.codes_out_quant[2 * std::size_t(c)] : t.handover_scale;
}

// An fp16 input sample of channel c in the 8-bit type, as the INT8 and FP8 paths round it: int8
// (quantize_symmetric) or E4M3 (x / scale, nearest even, saturating); its code.
std::uint8_t quantized_code(const Problem& p, const Tensors& t, float v, int c) {
  if (p.products == Products::kInt8) return std::uint8_t(std::int8_t(quantize_symmetric(v, input_scale(p, t, c))));
  return float_to_e4m3(v / t.in_scale);
}

// A conv's output value of channel c as the next conv's code (the kernels' MathOf<>::handover_code): int8
// quantize_symmetric, or E4M3 of value / scale.
std::uint8_t handover_code(const Problem& p, const Tensors& t, float v, int c) {
  if (p.products == Products::kInt8) return std::uint8_t(std::int8_t(quantize_symmetric(v, handover_scale(p, t, c))));
  return float_to_e4m3(v / t.handover_scale);
}

// Element e (0 .. per_word - 1, the lower first) of a word, as a number: fp16, int8 or E4M3.
double element(std::uint32_t word, int e, Products products) {
  if (products == Products::kFp16) return from_half(std::uint16_t(word >> (16 * e)));
  const auto code = std::uint8_t(word >> (8 * e));
  return products == Products::kInt8 ? double(std::int8_t(code)) : double(e4m3_to_float(code));
}

// The input sample of channel c at element offset i as the products see it: fp16, or quantized.
double input_value(const Problem& p, const Tensors& t, std::size_t i, int c) {
  const float v = from_half(t.x[i]);
  return p.products == Products::kFp16 ? double(v) : element(quantized_code(p, t, v, c), 0, p.products);
}
double weight_value(const Problem& p, const Tensors& t, std::size_t i) {
  if (p.products != Products::kFp16) return element(t.w[i], 0, p.products);
  std::uint16_t v = 0;
  std::memcpy(&v, &t.w[2 * i], 2);
  return from_half(v);
}

// The sums of output channel c as the kernel's epilogue gets them (dequantized for 8-bit products).
float summed_value(const Problem& p, const Tensors& t, double sum, int c) {
  return p.products == Products::kFp16 ? float(sum) : float(sum) * t.dequant[std::size_t(c)];
}

float epilogue_at(const Problem& p, const Tensors& t, float value, int c, int y, int x) {
  float residual = 0, scale = 0.5f;
  if (p.residuals > 0) residual = from_half(t.residual[(std::size_t(y) * p.w + x) * p.oc + c]);
  return epilogue_value(value, t.bias[std::size_t(c)], p.act, slope_of(p, t, c), 0.75f, &residual, &scale, p.residuals);
}

// Output channel c at pixel (y, x): the plain conv and the epilogue, the sums in double.
double reference(const Problem& p, const Tensors& t, int c, int y, int x) {
  double sum = 0;
  for (int tap = 0; tap < kTaps; ++tap) {
    const int sy = y + tap / 3 - 1, sx = x + tap % 3 - 1;
    if (sy < 0 || sy >= p.h || sx < 0 || sx >= p.w) continue;
    for (int i = 0; i < p.ic; ++i)
      sum += input_value(p, t, (std::size_t(sy) * p.w + sx) * p.in_pixel_stride + p.in_offset + i, i) *
             weight_value(p, t, (std::size_t(c) * kTaps + tap) * p.ic + i);
  }
  return epilogue_at(p, t, summed_value(p, t, sum, c), c, y, x);
}

// One mma.sync of a warp (m16n8k16 fp16, m16n8k32 int8 with exact integer sums, or m16n8k32 E4M3), from its
// lanes' registers, per the PTX ISA's layouts; c: fp32 sums, or int32 sums held exactly in double.
void emulate_mma(const std::uint32_t a[32][4], const std::uint32_t b[32][2], double c[32][4], Products products) {
  const int per_word = 4 / element_bytes(products), k_size = 8 * per_word;
  double am[16][32] = {}, bm[32][8] = {};
  for (int lane = 0; lane < 32; ++lane) {
    const int group = lane / 4, thread = lane % 4;
    for (int r = 0; r < 4; ++r)
      for (int e = 0; e < per_word; ++e)
        am[group + 8 * (r % 2)][per_word * (thread + 4 * (r / 2)) + e] = element(a[lane][r], e, products);
    for (int r = 0; r < 2; ++r)
      for (int e = 0; e < per_word; ++e) bm[per_word * (thread + 4 * r) + e][group] = element(b[lane][r], e, products);
  }
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i) {
      const int row = lane / 4 + 8 * (i / 2), col = 2 * (lane % 4) + i % 2;
      double s = c[lane][i];
      for (int k = 0; k < k_size; ++k) s += am[row][k] * bm[k][col];
      c[lane][i] = products == Products::kInt8 ? s : double(float(s));  // fp32 sums round; int32 ones are exact
    }
}

// One wgmma.mma_async of the warpgroup form, per the PTX ISA: m64nNk16 for fp16, m64nNk32 for int8 and E4M3. A
// (64 x K) from the four warps' registers, each warp's 16 rows in the A layout of mma.sync; B (K x N) read from
// shared memory (byte address 0 = words[0]) through the descriptor, in the canonical K-major layout without
// swizzle, T = 16 / element bytes elements a 16-byte row: element (k, n) at start + (n % 8) x 16 + (n / 8) x SBO
// + (k % T) x bytes + (k / T) x LBO; D, per warp, register i = 4 t + q at row group + 8 (q / 2), column 8 t + 2
// thread + q % 2. sums[warp]: fp32 sums, or int32 ones held exactly in double.
void emulate_wgmma(const std::uint32_t a[kWarps][32][4], const std::vector<std::uint32_t>& words, std::uint64_t desc,
                   int n_size, Products products, double* sums[kWarps]) {
  ASSERT_EQ(desc >> 46, 0u) << "no base offset, no swizzle";
  const auto field = [&](int at) { return std::uint32_t((desc >> at) & 0x3FFF) << 4; };
  const std::uint32_t start = field(0), lbo = field(16), sbo = field(32);
  const int bytes = element_bytes(products), per_word = 4 / bytes, k_size = 8 * per_word, per_row = 16 / bytes;
  std::vector<double> am(64 * 32, 0.0), bm(32 * 64, 0.0);  // [row][k], [k][n]
  for (int warp = 0; warp < kWarps; ++warp)
    for (int lane = 0; lane < 32; ++lane)
      for (int r = 0; r < 4; ++r)
        for (int e = 0; e < per_word; ++e)
          am[(16 * warp + lane / 4 + 8 * (r % 2)) * 32 + per_word * (lane % 4 + 4 * (r / 2)) + e] =
              element(a[warp][lane][r], e, products);
  for (int k = 0; k < k_size; ++k)
    for (int n = 0; n < n_size; ++n) {
      const std::uint32_t byte = start + std::uint32_t(n % 8) * 16 + std::uint32_t(n / 8) * sbo +
                                 std::uint32_t((k % per_row) * bytes) + std::uint32_t(k / per_row) * lbo;
      ASSERT_LT(byte / 4, words.size()) << "B read past shared memory";
      bm[k * 64 + n] = element(words[byte / 4], int(byte % 4) / bytes, products);
    }
  for (int warp = 0; warp < kWarps; ++warp)
    for (int lane = 0; lane < 32; ++lane)
      for (int i = 0; i < n_size / 2; ++i) {
        const int t = i / 4, q = i % 4;
        const int row = 16 * warp + lane / 4 + 8 * (q / 2), col = 8 * t + 2 * (lane % 4) + q % 2;
        double& sum = sums[warp][(t * 32 + lane) * 4 + q];
        double s = sum;
        for (int k = 0; k < k_size; ++k) s += am[row * 32 + k] * bm[k * 64 + col];
        sum = products == Products::kInt8 ? s : double(float(s));  // fp32 sums round; int32 ones are exact
      }
}

// One stage of the warpgroup form, as tensor_conv_warpgroup.cu runs it: per k-step, each warp's fragments of its
// halo rows at the three tap columns, and for each column, row and dy one wgmma of tap 3 dy + column.
void emulate_warpgroup_stage(const Problem& p, const std::vector<std::uint32_t>& shared, std::size_t weights_at,
                             const std::uint32_t* halo, std::vector<double>& acc) {
  const Cut cut = p.cut();
  const int rows = p.rows_per_warp, tiles_n = p.width() / 8;
  for (int k_step = 0; k_step < cut.chunk_words() / 8; ++k_step)
    for (int column = 0; column < 3; ++column)
      for (int r = 0; r < rows; ++r)
        for (int dy = 0; dy < 3; ++dy) {
          std::uint32_t a[kWarps][32][4];
          double* sums[kWarps];
          for (int warp = 0; warp < kWarps; ++warp) {
            for (int lane = 0; lane < 32; ++lane)
              load_a(halo, cut.pitch_words(), warpgroup_fragment_row(warp, rows, r + dy), column, 8 * k_step, lane,
                     a[warp][lane]);
            sums[warp] = &acc[((std::size_t(warp) * rows + r) * tiles_n) * 32 * 4];
          }
          const std::uint64_t desc =
              warpgroup_weight_descriptor(std::uint32_t(weights_at * 4), cut, p.width(), 3 * dy + column, k_step);
          emulate_wgmma(a, shared, desc, p.width(), p.products, sums);
        }
}

// The vector of the halo tile loaded from element offset `from` (or zeros): 16 bytes of fp16 copied into the
// halo buffer; for 8-bit products, 16 fp16 samples (32 bytes) copied into the staging buffer, or with codes_in
// 16 codes into the halo buffer.
void load_halo_vector(const Problem& p, const Tensors& t, long long from, std::uint32_t* dst) {
  if (p.codes_in) {
    std::memset(dst, 0, 16);
    if (from >= 0) std::memcpy(dst, &t.codes_in[std::size_t(from) + std::size_t(p.in_offset)], 16);
    return;
  }
  const std::size_t bytes = p.products == Products::kFp16 ? 16 : 32;
  std::memset(dst, 0, bytes);
  if (from >= 0) std::memcpy(dst, &t.x[std::size_t(from) + std::size_t(p.in_offset)], bytes);
}

// 8-bit products, once a stage (its channels from `first`) landed: its staged vector n quantized into the halo
// buffer, as quantize_staged does (sample e of the vector is channel first + halo_vector_channel + e).
void quantize_staged_vector(const Problem& p, const Tensors& t, const std::uint32_t* staging, int n, int first,
                            std::uint32_t* halo) {
  const Cut cut = p.cut();
  std::uint16_t samples[16];
  std::memcpy(samples, staging + staging_vector_at(n, cut), sizeof(samples));
  std::uint32_t* dst = halo + halo_vector_destination(n, cut);
  std::memset(dst, 0, 16);
  const int channel = first + halo_vector_channel(n, cut);
  for (int e = 0; e < 16; ++e)
    dst[e / 4] |= std::uint32_t(quantized_code(p, t, from_half(samples[e]), channel + e)) << (8 * (e % 4));
}

// The kernel's work on the host, block by block of a grid of `blocks`, in its order: the resident weights
// and stage 0 loaded; per stage k, stage k + 1 loaded first into the other buffer (two stages) or after the
// arithmetic (one), stage k's staged halo quantized (8-bit products), the warps' sums from stage k's buffer, and
// the epilogue at each tile's last chunk. y's slice written, the rest left as it was.
void emulate_kernel(const Problem& p, Tensors& t, int blocks) {
  const Cut cut = p.cut();
  const int rows = p.rows_per_warp, oc = p.width(), tiles_n = oc / 8, chunk = p.chunk, chunks = p.ic / chunk;
  const int pitch = cut.pitch_words();
  const bool resident = chunk == p.ic;
  const int tiles = tile_count(p.h, p.w, rows);
  // NaN halves (and odd int8 values): a read of memory nobody loaded shows
  std::vector<std::uint32_t> shared(shared_bytes(cut, p.ic, oc) / 4, 0x7FFF7FFFu);
  for (int block = 0; block < blocks; ++block) {
    const BlockPart bp = block_part(block, blocks, p.parts);
    if (block >= bp.blocks * p.parts) continue;                        // a grid not a multiple of the parts: idle
    std::fill(shared.begin(), shared.end(), 0x7FFF7FFFu);              // each block's shared memory starts unloaded
    const auto load_weights = [&](int first, std::size_t buffer_at) {  // the part's rows of the filter
      const std::size_t part_at = part_weights_at(bp.part, oc, p.ic);
      for (int n = 0; n < weight_vectors(oc, cut); ++n) {
        std::size_t at = 0;
        const std::size_t from = part_at + weight_vector_source(n, p.ic, oc, first, cut, &at);
        std::memcpy(&shared[buffer_at + at], &t.w[from * std::size_t(p.element_bytes())], 16);
      }
    };
    const auto issue = [&](int k) {
      const Stage st = stage_at(k, bp.block, bp.blocks, chunks, chunk);
      const int buffer = k % p.stages;
      if (!resident) load_weights(st.first, weight_buffer_at(buffer, cut, p.ic, oc));
      const TileOrigin origin = tile_origin(st.tile, p.w, rows);
      std::uint32_t* halo = shared.data() + halo_buffer_at(buffer, cut, p.ic, oc);
      std::uint32_t* staging = shared.data() + staging_buffer_at(buffer, cut, p.ic, oc);
      for (int n = 0; n < halo_vectors(cut); ++n) {
        std::size_t at = 0;
        const long long from =
            halo_vector_source(n, st.first, cut, origin, p.h, p.w, std::size_t(p.in_pixel_stride), &at);
        const bool direct = p.products == Products::kFp16 || p.codes_in;
        load_halo_vector(p, t, from, direct ? halo + at : staging + staging_vector_at(n, cut));
      }
    };
    const int stages = stage_count(tiles, bp.block, bp.blocks, chunks);
    if (stages == 0) continue;  // a block without stages loads nothing (begin_block)
    if (resident) load_weights(0, 0);
    issue(0);
    std::vector<double> acc(std::size_t(kWarps) * rows * tiles_n * 32 * 4, 0.0);
    for (int k = 0; k < stages; ++k) {
      if (p.stages == 2 && k + 1 < stages) issue(k + 1);
      const Stage st = stage_at(k, bp.block, bp.blocks, chunks, chunk);
      const int buffer = k % p.stages;
      const std::uint32_t* weights = shared.data() + weight_buffer_at(buffer, cut, p.ic, oc);
      std::uint32_t* halo = shared.data() + halo_buffer_at(buffer, cut, p.ic, oc);
      if (p.products != Products::kFp16 && !p.codes_in)
        for (int n = 0; n < halo_vectors(cut); ++n)
          quantize_staged_vector(p, t, shared.data() + staging_buffer_at(buffer, cut, p.ic, oc), n, st.first, halo);
      if (st.first == 0) std::fill(acc.begin(), acc.end(), 0.0);
      if (cut.warpgroup) emulate_warpgroup_stage(p, shared, weight_buffer_at(buffer, cut, p.ic, oc), halo, acc);
      for (int warp = 0; warp < kWarps && !cut.warpgroup; ++warp)
        for (int tap = 0; tap < kTaps; ++tap)
          for (int kw = 0; kw < cut.chunk_words(); kw += 8)
            for (int r = 0; r < rows; ++r) {
              std::uint32_t a[32][4];
              for (int lane = 0; lane < 32; ++lane) load_a(halo, pitch, warp * rows + r, tap, kw, lane, a[lane]);
              for (int n = 0; n < tiles_n; ++n) {
                std::uint32_t b[32][2];
                double c[32][4];
                double* sums = &acc[(((std::size_t(warp) * rows + r) * tiles_n + n) * 32) * 4];
                for (int lane = 0; lane < 32; ++lane) {
                  load_b(weights, pitch, oc, n, tap, kw, lane, b[lane]);
                  std::memcpy(c[lane], sums + lane * 4, sizeof(c[lane]));
                }
                emulate_mma(a, b, c, p.products);
                for (int lane = 0; lane < 32; ++lane) std::memcpy(sums + lane * 4, c[lane], sizeof(c[lane]));
              }
            }
      if (p.stages == 1 && k + 1 < stages) issue(k + 1);
      if (st.first + chunk < p.ic) continue;
      const TileOrigin origin = tile_origin(st.tile, p.w, rows);
      for (int warp = 0; warp < kWarps; ++warp)
        for (int r = 0; r < rows; ++r) {
          const int oy = origin.y + warp * rows + r;
          if (oy >= p.h) continue;
          for (int lane = 0; lane < 32; ++lane)
            for (int j = 0; j < 2; ++j) {
              const OutputPlace place = output_place(lane, j);
              const int ox = origin.x + place.column;
              if (ox >= p.w) continue;
              for (int n = 0; n < tiles_n; ++n)
                for (int e = 0; e < 2; ++e) {
                  const int c = part_first_channel(bp.part, oc) + n * 8 + place.channel + e;
                  const double sum = acc[(((std::size_t(warp) * rows + r) * tiles_n + n) * 32 + lane) * 4 + 2 * j + e];
                  const float v = epilogue_at(p, t, summed_value(p, t, sum, c), c, oy, ox);
                  const std::size_t at = (std::size_t(oy) * p.w + ox) * p.out_pixel_stride + p.out_offset + c;
                  if (p.codes_out) {
                    t.codes_out[at] = handover_code(p, t, v, c);
                  } else {
                    t.y[at] = float_to_half(v);
                  }
                }
            }
        }
    }
  }
}

class TensorConvEmulation : public ::testing::TestWithParam<Problem> {};

TEST_P(TensorConvEmulation, EqualsAPlainConvWithItsEpilogue) {
  const Problem p = GetParam();
  ASSERT_TRUE(computes(p.ic, p.oc, 3, 3, 1, 1, 1, p.products));
  Tensors t = make_tensors(p, unsigned(p.ic * 131 + p.oc * 7 + p.h));
  if (p.codes_in) {  // the input's codes, as the previous conv handed them over; other channels never read
    t.codes_in.assign(t.x.size(), 0xA5);
    for (std::size_t px = 0; px < std::size_t(p.h) * p.w; ++px)
      for (int i = 0; i < p.ic; ++i) {
        const std::size_t at = px * p.in_pixel_stride + p.in_offset + i;
        t.codes_in[at] = quantized_code(p, t, from_half(t.x[at]), i);
      }
  }
  // three persistent blocks a part, each taking every third tile (with parts, one more block that idles)
  emulate_kernel(p, t, 3 * p.parts + (p.parts > 1 ? 1 : 0));
  double worst = 0;
  int written = 0;
  for (int y = 0; y < p.h; ++y)
    for (int x = 0; x < p.w; ++x)
      for (int c = 0; c < p.out_pixel_stride; ++c) {
        if (p.codes_out) {  // the next conv's codes: within one step of the reference's (sums in another order)
          const std::uint8_t got = t.codes_out[(std::size_t(y) * p.w + x) * p.out_pixel_stride + c];
          if (c < p.out_offset || c >= p.out_offset + p.oc) {
            ASSERT_EQ(got, 0x55) << "outside the output slice: channel " << c << " at " << x << "," << y;
            continue;
          }
          const float want = float(reference(p, t, c - p.out_offset, y, x));
          if (p.products == Products::kInt8) {
            ASSERT_LE(
                std::abs(int(std::int8_t(got)) - quantize_symmetric(want, handover_scale(p, t, c - p.out_offset))), 1)
                << "channel " << c << " at " << x << "," << y;
          } else {
            const float sat = std::clamp(want, -448.0f * t.handover_scale, 448.0f * t.handover_scale);
            ASSERT_LE(std::abs(e4m3_to_float(got) * t.handover_scale - sat),
                      0.07f * std::abs(sat) + t.handover_scale * 0x1p-9f)
                << "channel " << c << " at " << x << "," << y;
          }
          ++written;
          continue;
        }
        const float got = from_half(t.y[(std::size_t(y) * p.w + x) * p.out_pixel_stride + c]);
        if (c < p.out_offset || c >= p.out_offset + p.oc) {
          ASSERT_EQ(got, 7.0f) << "outside the output slice: channel " << c << " at " << x << "," << y;
          continue;
        }
        const double want = reference(p, t, c - p.out_offset, y, x);
        ASSERT_TRUE(std::isfinite(got)) << "channel " << c << " at " << x << "," << y;
        // fp16 rounding of the stored value (|v| up to about 8) and fp32 sums in another order.
        worst = std::max(worst, std::abs(double(got) - want) / std::max(1.0, std::abs(want)));
        ++written;
      }
  EXPECT_EQ(written, p.h * p.w * p.oc);
  EXPECT_LT(worst, 1.5e-3) << "ic " << p.ic << " oc " << p.oc << " " << p.w << "x" << p.h;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, TensorConvEmulation,
    ::testing::Values(
        Problem{16, 32, 5, 16, 16, 0, 32, 0, 2, 16, 1},                     // one tile, exact width
        Problem{32, 64, 9, 37, 32, 0, 64, 0, 2, 32, 2, Act::kPrelu},        // x4fast-like, edges
        Problem{64, 32, 11, 19, 192, 64, 192, 128, 4, 64, 1, Act::kLeaky},  // x4plus RDB slices
        Problem{96, 64, 7, 18, 192, 0, 64, 0, 2, 32, 2, Act::kLeaky, 1},    // 3 chunks, x4plus conv5
        Problem{96, 64, 7, 18, 192, 0, 64, 0, 2, 32, 1, Act::kLeaky, 1},    // ... in one stage
        Problem{48, 48, 1, 1, 48, 0, 48, 0, 2, 16, 2, Act::kNone, 1},       // one pixel, 3 chunks
        Problem{16, 64, 20, 17, 96, 32, 64, 0, 2, 16, 2, Act::kLeaky, 1},   // 3 bands of 8 rows
        Problem{32, 32, 23, 3, 64, 32, 96, 64, 4, 32, 1, Act::kNone, 1},    // tall and narrow
        Problem{64, 64, 21, 20, 64, 0, 64, 0, 4, 32, 2, Act::kPrelu},       // 2 chunks, 2 stages
        Problem{64, 64, 40, 70, 64, 0, 64, 0, 2, 64, 2, Act::kPrelu},       // resident, 2 stages
        // int8 products: x4fast's body; x4plus dense-block convs in chunks, two stages and one
        Problem{64, 64, 21, 37, 64, 0, 64, 0, 2, 64, 2, Act::kPrelu, 0, Products::kInt8},
        Problem{96, 32, 11, 19, 192, 64, 192, 128, 4, 32, 2, Act::kLeaky, 1, Products::kInt8},
        Problem{192, 64, 9, 17, 192, 0, 64, 0, 2, 64, 1, Act::kLeaky, 1, Products::kInt8},
        // E4M3 products: the same shapes
        Problem{64, 64, 21, 37, 64, 0, 64, 0, 2, 64, 2, Act::kPrelu, 0, Products::kFp8},
        Problem{96, 32, 11, 19, 192, 64, 192, 128, 4, 32, 2, Act::kLeaky, 1, Products::kFp8},
        // the warpgroup form (wgmma): x4fast's body resident, x4plus slices and chunks, 48 outputs
        Problem{64, 64, 21, 37, 64, 0, 64, 0, 2, 64, 2, Act::kPrelu, 0, Products::kFp16, true},
        Problem{64, 32, 11, 19, 192, 64, 192, 128, 4, 64, 1, Act::kLeaky, 0, Products::kFp16, true},
        Problem{96, 64, 7, 18, 192, 0, 64, 0, 2, 32, 2, Act::kLeaky, 1, Products::kFp16, true},
        Problem{48, 48, 5, 21, 48, 0, 48, 0, 4, 16, 1, Act::kNone, 1, Products::kFp16, true},
        Problem{32, 64, 20, 17, 96, 32, 64, 0, 4, 16, 2, Act::kPrelu, 0, Products::kFp16, true},
        // ... with int8 and E4M3 products
        Problem{64, 64, 21, 37, 64, 0, 64, 0, 2, 64, 2, Act::kPrelu, 0, Products::kInt8, true},
        Problem{96, 32, 11, 19, 192, 64, 192, 128, 4, 32, 1, Act::kLeaky, 1, Products::kInt8, true},
        Problem{192, 48, 9, 17, 192, 0, 48, 0, 2, 64, 2, Act::kNone, 1, Products::kInt8, true},
        Problem{64, 64, 13, 21, 64, 0, 64, 0, 4, 32, 2, Act::kPrelu, 0, Products::kFp8, true},
        Problem{96, 32, 11, 19, 192, 64, 192, 128, 2, 96, 1, Act::kLeaky, 1, Products::kFp8, true},
        // two output-channel parts: x4plus's conv5 shape (slices, residual) in both forms and types
        Problem{192, 64, 9, 17, 192, 0, 64, 0, 2, 192, 1, Act::kLeaky, 1, Products::kFp16, true, 2},
        Problem{192, 64, 9, 17, 192, 0, 64, 0, 4, 192, 2, Act::kLeaky, 1, Products::kFp16, false, 2},
        Problem{64, 64, 13, 21, 128, 64, 192, 64, 2, 32, 2, Act::kPrelu, 0, Products::kFp16, true, 2},
        Problem{192, 64, 9, 17, 192, 0, 64, 0, 2, 192, 1, Act::kLeaky, 1, Products::kInt8, true, 2},
        // hand-overs: x4fast's body reading and writing codes, in both forms and types; slices
        Problem{64, 64, 21, 37, 64, 0, 64, 0, 2, 64, 2, Act::kPrelu, 0, Products::kInt8, false, 1, true},
        Problem{64, 64, 21, 37, 64, 0, 64, 0, 2, 64, 1, Act::kPrelu, 0, Products::kInt8, true, 1, true, true},
        Problem{64, 64, 13, 21, 64, 0, 64, 0, 4, 32, 2, Act::kPrelu, 0, Products::kFp8, true, 1, false, true},
        Problem{64, 48, 11, 19, 96, 32, 64, 16, 2, 64, 2, Act::kLeaky, 1, Products::kFp8, false, 1, true, true},
        Problem{96, 32, 11, 19, 192, 64, 96, 32, 4, 32, 1, Act::kLeaky, 1, Products::kInt8, true, 1, true, true},
        // dense blocks of codes (executor_tensor_convs.cpp, passes/code_blocks.h): x4plus's conv2 reading its prefix of
        // the block's 192 codes a pixel and writing its part as codes; conv5 reading all of them, writing fp16
        Problem{96, 32, 11, 19, 192, 0, 192, 96, 4, 32, 2, Act::kLeaky, 0, Products::kInt8, false, 1, true, true},
        Problem{96, 32, 11, 19, 192, 0, 192, 96, 2, 96, 1, Act::kLeaky, 0, Products::kFp8, true, 1, true, true},
        Problem{192, 64, 9, 17, 192, 0, 64, 0, 2, 64, 1, Act::kLeaky, 1, Products::kInt8, true, 1, true, false},
        // int8 with per-channel scales: quantized as loaded (chunks of 32 after the first: the stage's first
        // channel counts), in both forms, two parts; codes handed over by the next conv's scales
        Problem{64, 64, 21, 37, 64, 0, 64, 0, 2, 32, 2, Act::kPrelu, 0, Products::kInt8, false, 1, false, false, true},
        Problem{96, 32, 11, 19, 192, 64, 192, 128, 4, 32, 1, Act::kLeaky, 1, Products::kInt8, true, 1, false, false,
                true},
        Problem{192, 64, 9, 17, 192, 0, 64, 0, 2, 192, 1, Act::kLeaky, 1, Products::kInt8, true, 2, false, false, true},
        Problem{64, 64, 21, 37, 64, 0, 64, 0, 2, 64, 2, Act::kPrelu, 0, Products::kInt8, true, 1, false, true, true},
        Problem{96, 32, 11, 19, 192, 0, 192, 96, 4, 32, 2, Act::kLeaky, 0, Products::kInt8, false, 1, false, true,
                true},
        // ... read as codes (x4fast's chain, a dense block's readers): the scales are the writer's, none applied
        Problem{64, 64, 21, 37, 64, 0, 64, 0, 2, 32, 2, Act::kPrelu, 0, Products::kInt8, true, 1, true, true, true},
        Problem{96, 32, 11, 19, 192, 0, 192, 96, 4, 32, 1, Act::kLeaky, 0, Products::kInt8, false, 1, true, false,
                true}),
    [](const ::testing::TestParamInfo<Problem>& i) {
      const Problem& p = i.param;
      return "ic" + std::to_string(p.ic) + "_oc" + std::to_string(p.oc) + "_" + std::to_string(p.w) + "x" +
             std::to_string(p.h) + "_rows" + std::to_string(p.rows_per_warp) + "_chunk" + std::to_string(p.chunk) +
             "_stages" + std::to_string(p.stages) +
             (p.products == Products::kInt8  ? "_int8"
              : p.products == Products::kFp8 ? "_fp8"
                                             : "") +
             (p.warpgroup ? "_warpgroup" : "") + (p.parts > 1 ? "_2parts" : "") + (p.codes_in ? "_codes_in" : "") +
             (p.codes_out ? "_codes_out" : "") + (p.channel_scales ? "_channels" : "");
    });

// The 8-bit forms quantize by quotient_by_reciprocal (no division per sample): for every fp16 input and scales
// from 2^-12 to 2^4, the same float as x / scale, bit for bit, hence the same codes as the other INT8 and FP8 paths;
// and int8's quantize_symmetric_clamped gives the same codes too.
TEST(TensorConvMath, QuotientByReciprocalIsTheDivision) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> exponent(-12.0f, 4.0f);
  for (int i = 0; i < 200; ++i) {
    const float scale = std::exp2(exponent(rng)), reciprocal = 1.0f / scale;
    for (int h = 0; h < 65536; ++h) {
      const float x = from_half(std::uint16_t(h)), want = x / scale;
      const float got = quotient_by_reciprocal(x, scale, reciprocal);
      ASSERT_EQ(quantize_symmetric_clamped(x, scale, reciprocal, 127.0f * scale), quantize_symmetric(x, scale))
          << x << " / " << scale;  // NaN and infinities included
      if (std::isnan(want)) {
        ASSERT_TRUE(std::isnan(got));
        continue;
      }
      std::uint32_t got_bits = 0, want_bits = 0;  // bit for bit: also the sign of a zero
      std::memcpy(&got_bits, &got, sizeof(float));
      std::memcpy(&want_bits, &want, sizeof(float));
      ASSERT_EQ(got_bits, want_bits) << x << " / " << scale << ": " << got << " vs " << want;
    }
  }
}

// Hand-over codes quantize fp32 values (an epilogue's), not fp16 ones: quantize_symmetric_clamped against
// quantize_symmetric where it could differ, the values within 32 floats of each (k + 1/2) x scale, at 50 scales.
TEST(TensorConvMath, ClampedQuantizerMatchesTheDivisionOnFp32NearHalves) {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> exponent(-30.0f, 10.0f), mantissa(1.0f, 2.0f);
  for (int i = 0; i < 50; ++i) {
    const float scale = std::exp2(exponent(rng)) * mantissa(rng), reciprocal = 1.0f / scale;
    for (int k = -130; k <= 130; ++k) {
      float x = (float(k) + 0.5f) * scale;
      for (int step = 0; step < 32; ++step) x = std::nextafter(x, -INFINITY);
      for (int step = 0; step < 64; ++step, x = std::nextafter(x, INFINITY))
        ASSERT_EQ(quantize_symmetric_clamped(x, scale, reciprocal, 127.0f * scale), quantize_symmetric(x, scale))
            << x << " / " << scale;
    }
  }
}

// The pitch of ic + 8 halves puts the 8 rows of every fragment load into distinct banks: the 32 lanes of one
// load read 32 distinct banks (or the same word).
TEST(TensorConvMath, FragmentLoadsAreFreeOfBankConflicts) {
  for (const Products products : {Products::kFp16, Products::kInt8})
    for (const int ic : {32, 64, 96, 128, 160, 192})
      for (const int oc : {32, 48, 64}) {
        const Cut c{4, ic, 1, products};
        std::vector<std::uint32_t> words(std::max(weight_words(c, oc), halo_words(c)));
        for (std::size_t i = 0; i < words.size(); ++i) words[i] = std::uint32_t(i);  // each word holds its index
        for (int tap = 0; tap < kTaps; ++tap)
          for (int kw = 0; kw < c.chunk_words(); kw += 8)
            for (int reg = 0; reg < 4; ++reg) {
              std::set<unsigned> banks_a, banks_b;
              for (int lane = 0; lane < 32; ++lane) {
                std::uint32_t a[4], b[2];
                load_a(words.data(), c.pitch_words(), 3, tap, kw, lane, a);
                banks_a.insert(a[reg] % 32);
                load_b(words.data(), c.pitch_words(), oc, oc / 8 - 1, tap, kw, lane, b);
                banks_b.insert(b[reg % 2] % 32);
              }
              ASSERT_EQ(banks_a.size(), 32u) << "A, ic " << ic << " tap " << tap << " word " << kw << " reg " << reg;
              ASSERT_EQ(banks_b.size(), 32u) << "B, ic " << ic << " oc " << oc << " tap " << tap;
            }
      }
}

// ldmatrix.x4 as the PTX ISA states it (lane l gives row l % 8 of matrix l / 8; register m of lane l is word
// l % 4 of row l / 4 of matrix m), over the offsets the kernel gives it: the same fragments as load_a / load_b.
void emulate_ldmatrix(const std::uint32_t* words, const int offsets[32], std::uint32_t out[32][4]) {
  for (int lane = 0; lane < 32; ++lane)
    for (int m = 0; m < 4; ++m) out[lane][m] = words[offsets[8 * m + lane / 4] + lane % 4];
}

TEST(TensorConvMath, LdmatrixGivesTheFragmentsOfThePlainLoads) {
  for (const int ic : {32, 64, 96, 192})
    for (const int oc : {32, 48, 64}) {
      const Cut c{4, ic, 1, Products::kFp16};
      const int pitch = c.pitch_words();
      std::vector<std::uint32_t> words(std::max(weight_words(c, oc), halo_words(c)));
      for (std::size_t i = 0; i < words.size(); ++i) words[i] = std::uint32_t(i) * 2654435761u;
      for (int tap = 0; tap < kTaps; ++tap)
        for (int kw = 0; kw < c.chunk_words(); kw += 8)
          for (int row = 0; row < tile_rows(c.rows_per_warp); ++row) {
            int offsets[32];
            std::uint32_t got[32][4];
            for (int lane = 0; lane < 32; ++lane) {
              offsets[lane] = ldmatrix_a_offset(pitch, row, tap, kw, lane);
              ASSERT_EQ(offsets[lane] % 4, 0) << "a row address not 16-byte aligned";
            }
            emulate_ldmatrix(words.data(), offsets, got);
            for (int lane = 0; lane < 32; ++lane) {
              std::uint32_t a[4];
              load_a(words.data(), pitch, row, tap, kw, lane, a);
              for (int m = 0; m < 4; ++m) ASSERT_EQ(got[lane][m], a[m]) << "A lane " << lane << " reg " << m;
            }
          }
      for (int tap = 0; tap < kTaps; ++tap)
        for (int kw = 0; kw < c.chunk_words(); kw += 8)
          for (int n = 0; n + 1 < oc / 8; n += 2) {
            int offsets[32];
            std::uint32_t got[32][4];
            for (int lane = 0; lane < 32; ++lane) offsets[lane] = ldmatrix_b_offset(pitch, oc, n, tap, kw, lane);
            emulate_ldmatrix(words.data(), offsets, got);
            for (int lane = 0; lane < 32; ++lane) {
              std::uint32_t b0[2], b1[2];
              load_b(words.data(), pitch, oc, n, tap, kw, lane, b0);
              load_b(words.data(), pitch, oc, n + 1, tap, kw, lane, b1);
              ASSERT_EQ(got[lane][0], b0[0]);
              ASSERT_EQ(got[lane][1], b0[1]);
              ASSERT_EQ(got[lane][2], b1[0]);
              ASSERT_EQ(got[lane][3], b1[1]);
            }
          }
    }
}

// The cuts of the real models' convs on an H100/H200 (227 KiB a block, 228 KiB a multiprocessor): x4fast's body
// (64 -> 64) keeps its weights with two blocks a multiprocessor; x4plus's dense-block convs take chunks where the
// weights would not leave room for two blocks; nothing fits a device of 48 KiB at 64 -> 64 with two rows.
TEST(TensorConvMath, CutsOfTheRealModelsOnHopper) {
  constexpr std::size_t kBlock = 232448, kMultiprocessor = 233472;
  const auto cut = [&](int ic, int oc) { return cut_for(ic, oc, kBlock, kMultiprocessor); };
  EXPECT_EQ(cut(64, 64).chunk, 64);
  EXPECT_EQ(cut(64, 64).rows_per_warp, 2);
  EXPECT_EQ(cut(64, 32).chunk, 64);
  EXPECT_EQ(cut(64, 32).rows_per_warp, 4);
  for (const int ic : {96, 128, 160, 192})
    for (const int oc : {32, 64}) {
      const Cut c = cut(ic, oc);
      ASSERT_GT(c.rows_per_warp, 0) << ic << " -> " << oc;
      EXPECT_EQ(ic % c.chunk, 0);
      EXPECT_EQ(c.chunk % 16, 0);
      EXPECT_LE(shared_bytes(c, ic, oc), kMultiprocessor / 2) << ic << " -> " << oc;
      EXPECT_EQ(c.stages, 1);
    }
  // The cuts auto times: distinct, cut_for's first, each fitting a block; x4fast's body in three ways.
  for (const int ic : {64, 96, 128, 160, 192})
    for (const int oc : {32, 48, 64}) {
      const std::vector<Cut> cuts = cuts_for(ic, oc, kBlock, kMultiprocessor);
      ASSERT_FALSE(cuts.empty());
      EXPECT_EQ(cuts.front(), cut(ic, oc));
      for (std::size_t i = 0; i < cuts.size(); ++i) {
        EXPECT_LE(block_shared_bytes(cuts[i], ic, oc), kBlock);
        for (std::size_t j = 0; j < i; ++j) EXPECT_FALSE(cuts[i] == cuts[j]);
      }
    }
  const std::vector<Cut> body = cuts_for(64, 64, kBlock, kMultiprocessor);
  ASSERT_GE(body.size(), 5u);
  EXPECT_TRUE(body[0] == (Cut{2, 64, 1}));
  EXPECT_TRUE(body[1] == (Cut{4, 32, 1}));
  EXPECT_TRUE(body[2] == (Cut{4, 64, 1}));
  EXPECT_TRUE(std::find(body.begin(), body.end(), Cut{2, 64, 2}) != body.end());  // resident, double-buffered
  // int8 products: chunks of whole k-steps (32 channels); every real conv has a cut
  for (const int ic : {64, 96, 128, 160, 192})
    for (const int oc : {32, 48, 64}) {
      const std::vector<Cut> cuts = cuts_for(ic, oc, kBlock, kMultiprocessor, Products::kInt8);
      ASSERT_FALSE(cuts.empty()) << ic << " -> " << oc;
      for (const Cut& c : cuts) {
        EXPECT_EQ(c.chunk % 32, 0);
        EXPECT_EQ(c.products, Products::kInt8);
        EXPECT_LE(block_shared_bytes(c, ic, oc), kBlock);
      }
    }
  // With wgmma (an H100/H200, a binary with sm_90a code): the warpgroup form's cuts follow the mma.sync ones, for
  // every element type, each fitting a block.
  for (const Products products : {Products::kFp16, Products::kInt8, Products::kFp8})
    for (const int ic : {64, 96, 128, 160, 192})
      for (const int oc : {32, 48, 64}) {
        const std::vector<Cut> plain = cuts_for(ic, oc, kBlock, kMultiprocessor, products);
        const std::vector<Cut> both = cuts_for(ic, oc, kBlock, kMultiprocessor, products, true);
        ASSERT_GT(both.size(), plain.size()) << ic << " -> " << oc;
        EXPECT_TRUE(std::equal(plain.begin(), plain.end(), both.begin()));
        for (std::size_t i = plain.size(); i < both.size(); ++i) {
          EXPECT_TRUE(both[i].warpgroup);
          EXPECT_EQ(both[i].products, products);
          EXPECT_LE(block_shared_bytes(both[i], ic, oc), kBlock);
        }
      }
  // Two output-channel parts, resident, only where one part cannot keep the weights: x4plus's conv5 in fp16
  // (192 -> 64), not x4fast's body (64 -> 64), nor any conv of 32 outputs.
  const auto has_parts = [&](int ic, int oc, Products products) {
    const std::vector<Cut> cuts = cuts_for(ic, oc, kBlock, kMultiprocessor, products, true);
    return std::any_of(cuts.begin(), cuts.end(), [&](const Cut& c) { return c.parts == 2 && c.chunk == ic; });
  };
  EXPECT_TRUE(has_parts(192, 64, Products::kFp16));
  EXPECT_FALSE(has_parts(64, 64, Products::kFp16));
  EXPECT_FALSE(has_parts(192, 32, Products::kFp16));
  EXPECT_FALSE(computes(48, 64, 3, 3, 1, 1, 1, Products::kInt8));  // 8-bit: multiples of 32 input channels
  EXPECT_EQ(cut_for(64, 64, 49152, 65536).chunk, 16);              // a small device: the smallest chunk, one block
  EXPECT_EQ(cut_for(64, 64, 20000, 65536).rows_per_warp, 0);
  EXPECT_FALSE(computes(3, 64, 3, 3, 1, 1, 1));   // x4plus's first conv
  EXPECT_FALSE(computes(64, 3, 3, 3, 1, 1, 1));   // its last
  EXPECT_FALSE(computes(64, 64, 1, 1, 1, 0, 1));  // not 3x3
  EXPECT_TRUE(computes(64, 48, 3, 3, 1, 1, 1));   // x4fast's last
}

}  // namespace
}  // namespace resr::cuda
