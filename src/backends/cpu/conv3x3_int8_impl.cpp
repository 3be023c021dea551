#include "backends/cpu/conv3x3_int8_impl.h"

#include <cstring>
#include <string>

#include "backends/cpu/kernel_dispatch.h"
#include "core/status.h"

namespace resr::cpu {
namespace {

// Index order = Conv3x3Int8Impl::Kind order.
constexpr KernelEntry kEntries[] = {
    {"conv3x3_int8_vnni512", "int8_vnni512"},
    {"conv3x3_int8_avxvnni", "int8_avxvnni"},
    {"conv3x3_int8_avx2", "int8_avx2"},
    {"conv3x3_int8_generic", "int8_generic"},
};

// Why entry `i` cannot run here, or nullptr when it can.
const char* decline_reason(int i) {
  if (i == 0 && !cpu_has_avx512_vnni()) return "no AVX-512 VNNI";
  if (i == 1 && !cpu_has_avx_vnni()) return "no AVX-VNNI";
  if (i == 2 && !cpu_has_avx2_fma()) return "no AVX2";
  return nullptr;
}

}  // namespace

bool conv3x3_int8_forced_by(const char* name) {
  for (const KernelEntry& e : kEntries)
    if (std::strcmp(name, e.name) == 0 || std::strcmp(name, e.short_name) == 0) return true;
  return false;
}

Conv3x3Int8Impl Conv3x3Int8Impl::create(const float* weights, const float* weight_scales, int oc, int ic, U8Quant act,
                                        const std::string& layer) {
  const int chosen = choose_kernel(
      kEntries, sizeof(kEntries) / sizeof(kEntries[0]), [](int i) { return decline_reason(i); },
      [](const char*, int) { return false; }, layer, std::to_string(ic) + "->" + std::to_string(oc) + " int8");
  Conv3x3Int8Impl impl;
  impl.kind_ = Kind(chosen);
  impl.name_ = kEntries[chosen].name;
  impl.act_ = act;
  if (act.channel_scales != nullptr) {  // owned here, shared by copies
    impl.channel_scales_ = std::make_shared<const std::vector<float>>(act.channel_scales, act.channel_scales + ic);
    impl.act_.channel_scales = impl.channel_scales_->data();
  }
  impl.packed_ = pack_conv3x3_int8(weights, weight_scales, oc, ic);
  if (impl.kind_ == Kind::kAvx2) {
    impl.pairs_ = widen_conv3x3_int8_pairs(impl.packed_);
    impl.packed_.storage = AlignedBuffer();  // the kernel reads the widened copy (and packed_'s scales and sums)
  }
  return impl;
}

void Conv3x3Int8Impl::run(const PaddedPlanes& in, std::uint8_t* scratch, const PaddedPlanes& out,
                          const ConvEpilogue& ep) const {
  run(quantize(in, scratch), out, ep);
}

QuantizedPlanes Conv3x3Int8Impl::quantize(const PaddedPlanes& in, std::uint8_t* scratch, int first_channel) const {
  RESR_ASSERT(scratch != nullptr && first_channel >= 0 && first_channel + in.channels <= packed_.ic);
  const QuantizedPlanes q{scratch, in.channels, in.geo, act_.from_channel(first_channel)};
  if (kind_ == Kind::kVnni512)
    quantize_planes_u8_avx512(in, q);
  else if (kind_ == Kind::kAvxVnni || kind_ == Kind::kAvx2)
    quantize_planes_u8_avx2(in, q);
  else
    quantize_planes_u8_generic(in, q);
  return q;
}

void Conv3x3Int8Impl::run(const QuantizedPlanes& in, const PaddedPlanes& out, const ConvEpilogue& ep) const {
  RESR_ASSERT(in.quant.same_as(act_));
  if (kind_ == Kind::kVnni512)
    conv3x3_int8_vnni512(packed_, in, out, ep);
  else if (kind_ == Kind::kAvxVnni)
    conv3x3_int8_avxvnni(packed_, in, out, ep);
  else if (kind_ == Kind::kAvx2)
    conv3x3_int8_avx2(packed_, pairs_, in, out, ep);
  else
    conv3x3_int8_generic(packed_, in, out, ep);
}

void Conv3x3Int8Impl::run(const QuantizedPlanes& in, const ConvEpilogue& ep, const QuantizedPlanes& qout) const {
  RESR_ASSERT(in.quant.same_as(act_));
  if (kind_ == Kind::kVnni512)
    conv3x3_int8_vnni512(packed_, in, ep, qout);
  else if (kind_ == Kind::kAvxVnni)
    conv3x3_int8_avxvnni(packed_, in, ep, qout);
  else if (kind_ == Kind::kAvx2)
    conv3x3_int8_avx2(packed_, pairs_, in, ep, qout);
  else
    conv3x3_int8_generic(packed_, in, ep, qout);
}

}  // namespace resr::cpu
