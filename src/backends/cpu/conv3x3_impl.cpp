#include "backends/cpu/conv3x3_impl.h"

#include <cstring>
#include <string>

#include "backends/cpu/kernel_dispatch.h"
#include "core/status.h"

namespace resr::cpu {
namespace {

// Index order = Conv3x3Impl::Kind order.
constexpr KernelEntry kEntries[] = {
    {"conv3x3_winograd63_bf16_avx512", "winograd63_bf16"},
    {"conv3x3_winograd43_bf16_avx512", "winograd43_bf16"},
    {"conv3x3_winograd63_f16w_avx512", "winograd63_f16w"},
    {"conv3x3_winograd43_f16w_avx512", "winograd43_f16w"},
    {"conv3x3_winograd63_f32_avx512", "winograd63_avx512"},
    {"conv3x3_winograd43_f32_avx512", "winograd43_avx512"},
    {"conv3x3_winograd63_f32_avx2", "winograd63"},
    {"conv3x3_winograd43_f32_avx2", "winograd43"},
    {"conv3x3_direct_f32_avx512", "direct_avx512"},
    {"conv3x3_direct_f32_avx2", "direct_avx2"},
    {"conv3x3_direct_f32_generic", "generic"},
};
constexpr int kFirstDirect = 8;

// Why entry `i` cannot run this conv here, or nullptr when it can.
const char* decline_reason(int i, int oc, int ic, ir::Precision precision, FloatProducts products) {
  const bool avx2 = cpu_has_avx2_fma(), avx512 = cpu_has_avx512f();
  if (i < 2) {  // bf16
    if (products != FloatProducts::kBf16) return "bfloat16 products not allowed (the bf16 option)";
    if (precision != ir::Precision::kFp32 && precision != ir::Precision::kFp16) return "not a kFp32 or kFp16 conv";
    if (!cpu_has_avx512_bf16()) return "no AVX-512 + AVX512_BF16";
    if (oc < 8) return "fewer than 8 output channels: the transforms cost more than they save";
    if (ic < 8) return "fewer than 8 input channels: the fp32 F(4,3) kernel is about as fast and exact";
    return nullptr;
  }
  i -= 2;       // the entries after bf16, numbered from 0
  if (i < 2) {  // the f16w entries
    if (precision != ir::Precision::kFp16) return "not a kFp16 conv: binary16 weight storage would round its weights";
    if (!cpu_has_avx512f_f16c()) return "no AVX-512F + F16C";
    if (oc < 8) return "fewer than 8 output channels: the transforms cost more than they save";
    if (i == 0 && ic < 8) return "fewer than 8 input channels: F(4,3) transforms less per tile";
    return nullptr;
  }
  i -= 2;  // the fp32-weight entries, numbered from 0
  switch (i) {
    case 0:
    case 2:
      if (i == 0 ? !avx512 : !avx2) return i == 0 ? "no AVX-512F" : "no AVX2/FMA";
      if (oc < 8) return "fewer than 8 output channels: the transforms cost more than they save";
      if (ic < 8) return "fewer than 8 input channels: F(4,3) transforms less per tile";
      return nullptr;
    case 1:
    case 3:
      if (i == 1 ? !avx512 : !avx2) return i == 1 ? "no AVX-512F" : "no AVX2/FMA";
      if (oc < 8) return "fewer than 8 output channels: the transforms cost more than they save";
      return nullptr;
    case 4:
      return avx512 ? nullptr : "no AVX-512F";
    case 5:
      return avx2 ? nullptr : "no AVX2/FMA";
    default:
      return nullptr;
  }
}

}  // namespace

bool conv3x3_forced_by(const char* name) {
  if (std::strcmp(name, "direct") == 0) return true;
  for (const KernelEntry& e : kEntries)
    if (std::strcmp(name, e.name) == 0 || std::strcmp(name, e.short_name) == 0) return true;
  return false;
}

Conv3x3Impl Conv3x3Impl::create(const float* weights, int oc, int ic, ir::Precision precision, const std::string& layer,
                                FloatProducts products) {
  RESR_ASSERT(precision != ir::Precision::kInt8);
  const int chosen = choose_kernel(
      kEntries, sizeof(kEntries) / sizeof(kEntries[0]),
      [&](int i) { return decline_reason(i, oc, ic, precision, products); },
      [](const char* forced, int i) { return std::strcmp(forced, "direct") == 0 && i >= kFirstDirect; }, layer,
      std::to_string(ic) + "->" + std::to_string(oc));
  Conv3x3Impl impl;
  impl.name_ = kEntries[chosen].name;
  impl.kind_ = Kind(chosen);
  switch (impl.kind_) {
    case Kind::kWinograd63Bf16Avx512:
      impl.packed_ = pack_conv3x3_winograd_oc8_bf16(weights, oc, ic, 6);
      break;
    case Kind::kWinograd43Bf16Avx512:
      impl.packed_ = pack_conv3x3_winograd_oc8_bf16(weights, oc, ic, 4);
      break;
    case Kind::kWinograd63F16wAvx512:
      impl.packed_ = pack_conv3x3_winograd_oc8_f16(weights, oc, ic, 6);
      break;
    case Kind::kWinograd43F16wAvx512:
      impl.packed_ = pack_conv3x3_winograd_oc8_f16(weights, oc, ic, 4);
      break;
    case Kind::kWinograd63Avx512:
      impl.packed_ = pack_conv3x3_winograd_oc8_f32(weights, oc, ic, 6);
      break;
    case Kind::kWinograd43Avx512:
      impl.packed_ = pack_conv3x3_winograd_oc8_f32(weights, oc, ic, 4);
      break;
    case Kind::kWinograd63:
      impl.packed_ = pack_conv3x3_winograd_f32(weights, oc, ic, 6);
      break;
    case Kind::kWinograd43:
      impl.packed_ = pack_conv3x3_winograd_f32(weights, oc, ic, 4);
      break;
    case Kind::kDirectAvx512:
      impl.packed_ = pack_conv3x3_oc8_f32(weights, oc, ic);
      break;
    case Kind::kDirectAvx2:
    case Kind::kGeneric:
      impl.packed_ = pack_conv3x3_f32(weights, oc, ic);
      break;
  }
  return impl;
}

void Conv3x3Impl::run(const PaddedPlanes& in, const PaddedPlanes& out, const ConvEpilogue& ep) const {
  switch (kind_) {
    case Kind::kWinograd63Bf16Avx512:
      conv3x3_winograd63_bf16_avx512(std::get<PackedWinogradOc8Bf16>(packed_), in, out, ep);
      return;
    case Kind::kWinograd43Bf16Avx512:
      conv3x3_winograd43_bf16_avx512(std::get<PackedWinogradOc8Bf16>(packed_), in, out, ep);
      return;
    case Kind::kWinograd63F16wAvx512:
      conv3x3_winograd63_f16w_avx512(std::get<PackedWinogradOc8F16>(packed_), in, out, ep);
      return;
    case Kind::kWinograd43F16wAvx512:
      conv3x3_winograd43_f16w_avx512(std::get<PackedWinogradOc8F16>(packed_), in, out, ep);
      return;
    case Kind::kWinograd63Avx512:
      conv3x3_winograd63_f32_avx512(std::get<PackedWinogradOc8>(packed_), in, out, ep);
      return;
    case Kind::kWinograd43Avx512:
      conv3x3_winograd43_f32_avx512(std::get<PackedWinogradOc8>(packed_), in, out, ep);
      return;
    case Kind::kWinograd63:
      conv3x3_winograd63_f32_avx2(std::get<PackedWinograd>(packed_), in, out, ep);
      return;
    case Kind::kWinograd43:
      conv3x3_winograd43_f32_avx2(std::get<PackedWinograd>(packed_), in, out, ep);
      return;
    case Kind::kDirectAvx512:
      conv3x3_direct_f32_avx512(std::get<PackedConv3x3Oc8>(packed_), in, out, ep);
      return;
    case Kind::kDirectAvx2:
      conv3x3_direct_f32_avx2(std::get<PackedConv3x3>(packed_), in, out, ep);
      return;
    case Kind::kGeneric:
      conv3x3_direct_f32_generic(std::get<PackedConv3x3>(packed_), in, out, ep);
      return;
  }
}

}  // namespace resr::cpu
