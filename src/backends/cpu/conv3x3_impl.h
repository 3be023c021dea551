// Conv3x3Impl: one 3x3 stride-1 pad-1 convolution compiled for the best kernel this CPU has, chosen from an
// ordered list (fastest first), each entry saying why it declines:
//   conv3x3_winograd63_bf16_avx512 needs FloatProducts::kBf16, a kFp32 or kFp16 conv, AVX-512 + AVX512_BF16,
//                                  >= 8 output and >= 8 input channels
//   conv3x3_winograd43_bf16_avx512 the same (reached only when forced: F(6,3) runs every conv it could)
//   conv3x3_winograd63_f16w_avx512 needs a kFp16 conv, AVX-512F + F16C, >= 8 output and >= 8 input channels
//   conv3x3_winograd43_f16w_avx512 needs a kFp16 conv, AVX-512F + F16C, >= 8 output channels
//   conv3x3_winograd63_f32_avx512 needs AVX-512F, >= 8 output and >= 8 input channels
//   conv3x3_winograd43_f32_avx512 needs AVX-512F, >= 8 output channels
//   conv3x3_winograd63_f32_avx2   needs AVX2+FMA, >= 8 output and >= 8 input channels
//   conv3x3_winograd43_f32_avx2   needs AVX2+FMA, >= 8 output channels
//   conv3x3_direct_f32_avx512     needs AVX-512F
//   conv3x3_direct_f32_avx2       needs AVX2+FMA
//   conv3x3_direct_f32_generic    always
// The f16w entries store the transformed weights as binary16 (half the memory of the largest item of a run);
// kFp32 convs never use them, even when forced (their transformed weights would be rounded). kFp16 convs that
// they decline run the fp32-weight kernels below (their weights are binary16 values held in fp32).
// The bf16 entries round V and U to bfloat16 (conv3x3_winograd.h): only where the caller allows it.
// RESR_IMPL=<name or short name> (winograd63_bf16, winograd43_bf16, winograd63_f16w, winograd43_f16w,
// winograd63_avx512, winograd43_avx512, winograd63, winograd43, direct_avx512, direct_avx2, generic, direct = the best
// direct kernel) moves that entry to the front for every conv it can run; RESR_VERBOSE=dispatch prints the decisions on
// stderr. Weights are packed once, for the chosen kernel only.
#pragma once

#include <string>
#include <variant>

#include "backends/cpu/conv3x3.h"
#include "backends/cpu/conv3x3_winograd.h"
#include "backends/cpu/float_products.h"
#include "ir/graph.h"

namespace resr::cpu {

class Conv3x3Impl {
 public:
  // weights [oc][ic][3][3]; `precision`: the node's (ir::Node::quant.precision; kFp16 or kFp32, not kInt8);
  // `layer` names the conv in dispatch messages.
  static Conv3x3Impl create(const float* weights, int oc, int ic, ir::Precision precision, const std::string& layer,
                            FloatProducts products = FloatProducts::kFp32);
  // Same contract as the kernels (conv3x3.h).
  void run(const PaddedPlanes& in, const PaddedPlanes& out, const ConvEpilogue& ep) const;
  const char* kernel_name() const { return name_; }

 private:
  // The ordered list's order (conv3x3_impl.cpp's kEntries).
  enum class Kind {
    kWinograd63Bf16Avx512,
    kWinograd43Bf16Avx512,
    kWinograd63F16wAvx512,
    kWinograd43F16wAvx512,
    kWinograd63Avx512,
    kWinograd43Avx512,
    kWinograd63,
    kWinograd43,
    kDirectAvx512,
    kDirectAvx2,
    kGeneric
  };
  Kind kind_ = Kind::kGeneric;
  const char* name_ = "";
  std::variant<PackedConv3x3, PackedConv3x3Oc8, PackedWinograd, PackedWinogradOc8, PackedWinogradOc8F16,
               PackedWinogradOc8Bf16>
      packed_;
};

// Whether RESR_IMPL=`name` forces one of these kernels: a full or short name, or "direct" (every direct one).
bool conv3x3_forced_by(const char* name);

}  // namespace resr::cpu
