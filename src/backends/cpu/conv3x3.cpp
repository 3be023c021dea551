// conv3x3: weight packing, argument checks, CPU feature check and the portable fallback kernel
// (per output channel: accumulate the 9 shifted input planes of every input channel, then the epilogue).
#include "backends/cpu/conv3x3.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include <omp.h>

#include "core/status.h"

namespace resr::cpu {

PackedConv3x3 pack_conv3x3_f32(const float* weights, int oc, int ic) {
  RESR_ASSERT(oc > 0 && ic > 0 && weights != nullptr);
  PackedConv3x3 p;
  p.ic = ic;
  p.oc = oc;
  p.weights = AlignedBuffer(std::size_t(p.oc_blocks()) * ic * 9 * kConvOcBlock);  // zero-filled padding
  float* dst = p.weights.data();
  for (int o = 0; o < oc; ++o) {
    for (int i = 0; i < ic; ++i) {
      for (int t = 0; t < 9; ++t) {
        std::size_t k = ((std::size_t(o / kConvOcBlock) * ic + i) * 9 + t) * kConvOcBlock + o % kConvOcBlock;
        dst[k] = weights[(std::size_t(o) * ic + i) * 9 + t];
      }
    }
  }
  return p;
}

PackedConv3x3Oc8 pack_conv3x3_oc8_f32(const float* weights, int oc, int ic) {
  RESR_ASSERT(oc > 0 && ic > 0 && weights != nullptr);
  PackedConv3x3Oc8 p;
  p.ic = ic;
  p.oc = oc;
  p.weights = AlignedBuffer(std::size_t(p.oc_blocks()) * ic * 9 * kConvOcBlock8);  // zero-filled padding
  float* dst = p.weights.data();
  for (int o = 0; o < oc; ++o) {
    for (int i = 0; i < ic; ++i) {
      for (int t = 0; t < 9; ++t) {
        std::size_t k = ((std::size_t(o / kConvOcBlock8) * ic + i) * 9 + t) * kConvOcBlock8 + o % kConvOcBlock8;
        dst[k] = weights[(std::size_t(o) * ic + i) * 9 + t];
      }
    }
  }
  return p;
}

bool cpu_has_avx512f() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

bool cpu_has_avx2_fma() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

void check_conv3x3_shapes(int ic, int oc, const PaddedPlanes& in, const PaddedPlanes& out, const ConvEpilogue& ep) {
  RESR_ASSERT(in.channels == ic && out.channels == oc);
  RESR_ASSERT(in.geo.h == out.geo.h && in.geo.w == out.geo.w);
  RESR_ASSERT(!planes_overlap(in, out));
  RESR_ASSERT(ep.act != Activation::kPrelu || ep.prelu_slopes != nullptr);
  if (ep.residual != nullptr) {
    const PaddedPlanes& r = *ep.residual;
    RESR_ASSERT(r.channels == oc && r.geo.h == out.geo.h && r.geo.w == out.geo.w);
    RESR_ASSERT(r.data == out.data || !planes_overlap(r, out));
  }
}

void check_conv3x3_args(const PackedConv3x3& w, const PaddedPlanes& in, const PaddedPlanes& out,
                        const ConvEpilogue& ep) {
  check_conv3x3_shapes(w.ic, w.oc, in, out, ep);
}

void check_conv3x3_args(const PackedConv3x3Oc8& w, const PaddedPlanes& in, const PaddedPlanes& out,
                        const ConvEpilogue& ep) {
  check_conv3x3_shapes(w.ic, w.oc, in, out, ep);
}

void conv3x3_direct_f32_generic(const PackedConv3x3& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                const ConvEpilogue& ep) {
  check_conv3x3_args(w, in, out, ep);
  const int h = out.geo.h, wd = out.geo.w, pitch = out.geo.pitch();
  if (h == 0 || wd == 0) return;
  const std::size_t stride = out.geo.plane_stride();
  // Per-thread sums, allocated here: std::bad_alloc thrown inside the parallel region would end the process,
  // while on this thread the caller can catch it (and retry with smaller tiles).
  std::vector<std::vector<float>> sums(std::size_t(std::max(1, omp_get_max_threads())));
  for (auto& s : sums) s.resize(std::size_t(h) * wd);

#pragma omp parallel
  {
    std::vector<float>& acc = sums[std::size_t(omp_get_thread_num()) % sums.size()];
#pragma omp for schedule(static)
    for (int o = 0; o < w.oc; ++o) {
      std::fill(acc.begin(), acc.end(), ep.bias != nullptr ? ep.bias[o] : 0.0f);
      for (int i = 0; i < w.ic; ++i) {
        const float* src = in.plane(i);
        for (int t = 0; t < 9; ++t) {
          const float k = w.at(o, i, t);
          const int ky = t / 3, kx = t % 3;
          for (int y = 0; y < h; ++y) {
            const float* s = src + std::size_t(y + ky) * pitch + kx;  // tap (ky, kx) of interior (y, 0)
            float* a = acc.data() + std::size_t(y) * wd;
            for (int x = 0; x < wd; ++x) a[x] += k * s[x];
          }
        }
      }
      const float slope = ep.act == Activation::kPrelu ? ep.prelu_slopes[o] : ep.leaky_slope;
      const float* res = ep.residual != nullptr ? ep.residual->plane(o) : nullptr;
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < wd; ++x) {
          float v = acc[std::size_t(y) * wd + x];
          if (ep.act != Activation::kNone && v < 0.0f) v *= slope;
          v *= ep.out_scale;
          if (res != nullptr) v += ep.residual_scale * res[std::size_t(y + 1) * pitch + x + 1];
          acc[std::size_t(y) * wd + x] = v;
        }
      }
      // Only now overwrite the plane: the residual may be this very plane.
      float* dst = out.plane(o);
      std::memset(dst, 0, stride * sizeof(float));
      for (int y = 0; y < h; ++y) {
        std::memcpy(dst + std::size_t(y + 1) * pitch + 1, acc.data() + std::size_t(y) * wd, wd * sizeof(float));
      }
    }
  }
}

}  // namespace resr::cpu
