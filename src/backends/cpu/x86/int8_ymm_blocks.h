// int8_ymm_blocks: what the INT8 kernels on 256-bit registers share (conv3x3_int8_avx2: int16 products;
// conv3x3_int8_avxvnni: vpdpbusd on ymm): the loop over tiles (int8_block_loop.h), blocks of 4 output channels and
// blocks of V x 8 positions, and the dequantizing (fp32 planes) or requantizing (u8 groups) epilogue of a block in
// the contract's order (conv3x3_int8.h; compile with -ffp-contract=off). Include only from files built for AVX2.
//
// A kernel supplies, for a block of `noc` <= 4 outputs, an accumulate function
//   fn(src, gstride, pitch, groups, weights, acc)   acc[(j * V + v) * 8 + lane] = the int32 sum of output j at
//                                                   position src + 8 v + lane (src: group 0, first position)
// and the weights of each 4-output block, then calls run_ymm_int8<V>(...).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "backends/cpu/conv3x3_int8.h"
#include "backends/cpu/int8_block_loop.h"

namespace resr::cpu::ymm_int8 {

constexpr int kOcBlock = 4;  // outputs per block: one u8 group of the requantized output

using AccumulateFn = void (*)(const std::uint8_t*, std::size_t, int, int, const void*, std::int32_t*);

struct StoreArgs {
  const Int8Span* span;
  const ConvEpilogue* ep;
  const Int8EpilogueConsts* k;
  const QuantizedPlanes* qout;  // requantizing variant, else null
};

// Per output channel constants of the epilogue, broadcast.
struct Channel {
  __m256i corr;
  __m256 scale, bias, slope;
};

inline Channel channel(const StoreArgs& a, int o) {
  return {_mm256_set1_epi32(a.k->corr[o]), _mm256_set1_ps(a.k->scale[o]), _mm256_set1_ps(a.k->bias[o]),
          _mm256_set1_ps(a.k->slope[o])};
}

// Lanes of the (up to) V vectors of a block at p: `live` below `end` (all ones / zeros per lane: positions at or
// past it are neither read nor written), `interior` off the ring columns. Returns the vectors with live lanes.
template <int V>
int block_masks(int p, const StoreArgs& a, __m256i live[V], __m256i interior[V]) {
  const Int8Span& s = *a.span;
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  int nv = 0;
  for (int v = 0; v < V; ++v, ++nv) {
    const int q = p + 8 * v;
    const int left = s.end - q;
    if (left <= 0) break;
    live[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), lanes);
    interior[v] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.ring_mask.data() + q % s.pitch));
  }
  return nv;
}

// Masked moves only where a vector has dead lanes (the block at `end`): they are slow on AMD, where masked stores
// are microcoded.
inline bool all_live(__m256i live) {
  return _mm256_movemask_ps(_mm256_castsi256_ps(live)) == 0xFF;
}

inline __m256 load_live(const float* p, __m256i live) {
  return all_live(live) ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, live);
}

// The fp32 result of 8 sums of one output channel, in the contract's order. `res`: the residual at these
// positions or null; lanes outside `live` are not read.
inline __m256 result(__m256i sum, const Channel& c, const float* res, __m256i live, const StoreArgs& a) {
  __m256 x = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(sum, c.corr)), c.scale);
  x = _mm256_add_ps(x, c.bias);
  if (a.ep->act != Activation::kNone)
    x = _mm256_blendv_ps(x, _mm256_mul_ps(x, c.slope), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
  if (a.ep->out_scale != 1.0f) x = _mm256_mul_ps(x, _mm256_set1_ps(a.ep->out_scale));
  if (res != nullptr) x = _mm256_add_ps(x, _mm256_mul_ps(_mm256_set1_ps(a.ep->residual_scale), load_live(res, live)));
  return x;
}

// Epilogue of `noc` outputs starting at output o0 (planes out0, residual res0 or null) for positions
// p .. p + 8V - 1; ring columns are written as zeros.
template <int V>
void store_f32(const std::int32_t* acc, int o0, int noc, float* out0, const float* res0, int p, const StoreArgs& a) {
  __m256i live[V], interior[V];
  const int nv = block_masks<V>(p, a, live, interior);
  const std::size_t stride = a.span->stride;
  for (int j = 0; j < noc; ++j) {
    const Channel c = channel(a, o0 + j);
    float* dst = out0 + j * stride + p;
    const float* res = res0 != nullptr ? res0 + j * stride + p : nullptr;
    for (int v = 0; v < nv; ++v) {
      const __m256i sum = _mm256_load_si256(reinterpret_cast<const __m256i*>(acc + (j * V + v) * 8));
      __m256 x = result(sum, c, res != nullptr ? res + 8 * v : nullptr, live[v], a);
      x = _mm256_and_ps(x, _mm256_castsi256_ps(interior[v]));
      if (all_live(live[v]))
        _mm256_storeu_ps(dst + 8 * v, x);
      else
        _mm256_maskstore_ps(dst + 8 * v, live[v], x);
    }
  }
}

// The same results quantized (as the quantizers do: divide by the channel's divisor, clamp with NaN -> lo, round
// half to even, add the zero point) into the u8 layout: 4 outputs per dword, ring columns the group's pad word. o0
// is a multiple of 4, so the block's outputs are the channels of one group.
template <int V>
void store_u8(const std::int32_t* acc, int o0, int noc, const float* res0, int p, const StoreArgs& a) {
  const U8Quant& uq = a.qout->quant;
  const __m256 lo = _mm256_set1_ps(float(uq.qmin - uq.zero)), hi = _mm256_set1_ps(float(255 - uq.zero));
  const __m256i zero = _mm256_set1_epi32(uq.zero);
  const std::size_t stride = a.span->stride;
  __m256i live[V], interior[V];
  const int nv = block_masks<V>(p, a, live, interior);
  const int g = o0 / 4;
  Channel c[kOcBlock];
  __m256 divisor[kOcBlock];
  for (int j = 0; j < noc; ++j) {
    c[j] = channel(a, o0 + j);
    divisor[j] = _mm256_set1_ps(uq.divisor(o0 + j));
  }
  const __m256i pad = _mm256_set1_epi32(quantized_pad_word(*a.qout, g));
  for (int v = 0; v < nv; ++v) {
    const int q = p + 8 * v;
    __m256i word = _mm256_setzero_si256();
    for (int j = 0; j < noc; ++j) {
      const __m256i sum = _mm256_load_si256(reinterpret_cast<const __m256i*>(acc + (j * V + v) * 8));
      __m256 x = result(sum, c[j], res0 != nullptr ? res0 + j * stride + q : nullptr, live[v], a);
      x = _mm256_min_ps(_mm256_max_ps(_mm256_div_ps(x, divisor[j]), lo), hi);
      const __m256i b = _mm256_add_epi32(_mm256_cvtps_epi32(x), zero);
      word = _mm256_or_si256(word, _mm256_slli_epi32(b, 8 * j));
    }
    word = _mm256_blendv_epi8(pad, word, interior[v]);
    auto* dst = reinterpret_cast<int*>(a.qout->group(g) + std::size_t(q) * 4);
    if (all_live(live[v]))
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), word);
    else
      _mm256_maskstore_epi32(dst, live[v], word);
  }
}

// Both variants: fp32 planes `out` (qout null) or `qout`; the geometry is `in`'s (checked equal by the callers).
// accumulate_for(noc) gives the accumulate function of a block of noc outputs, block_weights(b) the weights of
// 4-output block b.
template <int V, class AccumulateFor, class BlockWeights>
void run(const PackedConv3x3Int8& w, const QuantizedPlanes& in, const PaddedPlanes& out, const ConvEpilogue& ep,
         const QuantizedPlanes* qout, const AccumulateFor& accumulate_for, const BlockWeights& block_weights) {
  constexpr int kStep = 8 * V;
  if (in.geo.h == 0 || in.geo.w == 0) return;
  const Int8Span span = int8_span(in.geo, 8);
  // The last block's tap reads reach position (end - 1) + (kStep - 1) + pitch + 1 = (h + 2) * pitch + kStep - 2,
  // inside the group plane's (h + 2) * pitch + kSlack positions.
  static_assert(kStep - 2 < PaddedGeometry::kSlack);
  const Int8EpilogueConsts consts = int8_epilogue_consts(w, in.quant, ep);
  const StoreArgs sa{&span, &ep, &consts, qout};
  const int groups = w.groups(), oc = w.oc, nblocks = (oc + kOcBlock - 1) / kOcBlock;
  const std::size_t gstride = in.group_stride();

  for_each_int8_tile(span, kStep, std::size_t(w.ic) * oc, [&](int p0, int p1) {
    alignas(32) std::int32_t acc[kOcBlock * kStep];
    // oc blocks outside, as the AVX-512 VNNI kernel: each plane is written in one sequential run per tile, and the
    // tile's input is re-read per oc block from L2.
    for (int b = 0; b < nblocks; ++b) {
      const int oc0 = b * kOcBlock, noc = std::min(kOcBlock, oc - oc0);
      const AccumulateFn fn = accumulate_for(noc);
      const void* wb = block_weights(b);
      const float* res0 = ep.residual != nullptr ? ep.residual->plane(oc0) : nullptr;
      for (int p = p0; p < p1; p += kStep) {
        fn(in.data + std::size_t(p) * 4, gstride, span.pitch, groups, wb, acc);
        if (qout != nullptr)
          store_u8<V>(acc, oc0, noc, res0, p, sa);
        else
          store_f32<V>(acc, oc0, noc, out.plane(oc0), res0, p, sa);
      }
    }
  });
  finish_outside_span(span, out, qout, oc);
}

}  // namespace resr::cpu::ymm_int8
