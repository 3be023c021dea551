// int8_block_loop: the work split shared by the blocked x86 INT8 kernels (conv3x3_int8_vnni512, _avxvnni, _avx2).
// Such a kernel computes blocks of `step` consecutive flat positions of the span of the padded planes that holds
// the interior, [start, end) (start = interior (0, 0), end = one past interior (h-1, w-1)), writing the ring
// columns inside the span itself; this header gives the span and its ring-column mask, splits it into OpenMP
// tiles, and afterwards writes what lies outside it (zeros in fp32 planes, pad words in u8 groups).
//
//   const Int8Span s = int8_span(in.geo, 16);
//   for_each_int8_tile(s, kStep, std::size_t(w.ic) * w.oc, [&](int p0, int p1) { ... blocks p0, p0+kStep, ... });
//   finish_outside_span(s, out, qout, w.oc);
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <omp.h>

#include "backends/cpu/conv3x3_int8.h"

namespace resr::cpu {

struct Int8Span {
  int pitch = 0, start = 0, end = 0;
  std::size_t stride = 0;               // floats per fp32 plane of the geometry (output and residual planes)
  std::vector<std::int32_t> ring_mask;  // [pitch + extra]: -1 where (j % pitch) is an interior column, else 0
};

// The span of `geo` (h, w > 0), with `mask_extra` mask entries past one pitch (a vector load at any column).
Int8Span int8_span(const PaddedGeometry& geo, int mask_extra);

// Calls body(p0, p1) for tiles [p0, p1) of whole `step`-position blocks covering the span (only the last tile may
// end inside a block, at `end`), several tiles per thread, sizes differing by at most one block; OpenMP dynamic
// over tiles when the work (`macs_per_position` x positions) is worth the threads. Each position belongs to one
// tile, so an output written in place of its residual is safe.
template <class Body>
void for_each_int8_tile(const Int8Span& s, int step, std::size_t macs_per_position, const Body& body) {
  const int len = s.end - s.start;
  const int nblk = (len + step - 1) / step;
  const int threads = std::max(1, omp_get_max_threads());
  const int want = (std::max(threads * 8, (len + 1023) / 1024) + threads - 1) / threads * threads;
  const int ntiles = std::min(want, nblk);
#pragma omp parallel for schedule(dynamic, 1) if (ntiles > 1 && std::size_t(len) * macs_per_position > 200000)
  for (int t = 0; t < ntiles; ++t) {
    const int p0 = s.start + int(std::int64_t(t) * nblk / ntiles) * step;
    const int p1 = std::min(s.end, s.start + int(std::int64_t(t + 1) * nblk / ntiles) * step);
    body(p0, p1);
  }
}

// Writes every position outside the span: zeros in `out`'s `oc` planes (qout null), else `qout`'s pad words.
void finish_outside_span(const Int8Span& s, const PaddedPlanes& out, const QuantizedPlanes* qout, int oc);

}  // namespace resr::cpu
