// Conv3x3Int8Impl: one INT8 3x3 stride-1 pad-1 convolution (ir::ConvQuant semantics, see conv3x3_int8.h)
// compiled for the best kernel this CPU has, from an ordered list (fastest first), each entry saying why it
// declines:
//   conv3x3_int8_vnni512   needs AVX-512F/BW/VL/DQ and AVX-512 VNNI
//   conv3x3_int8_avxvnni   needs AVX2 and AVX-VNNI (vpdpbusd on ymm: Intel client cores since Alder Lake)
//   conv3x3_int8_avx2      needs AVX2 (int16 multiply-adds: 2x an fp32 FMA's work per instruction, exact)
//   conv3x3_int8_generic   always
// RESR_IMPL=<name or short name> (int8_vnni512, int8_avxvnni, int8_avx2, int8_generic) moves that entry to the front
// for every INT8 conv it can run; RESR_VERBOSE=dispatch prints the decisions on stderr. Weights are quantized and
// packed once.
//
//   Conv3x3Int8Impl c = Conv3x3Int8Impl::create(weights, weight_scales, oc, ic, U8Quant::symmetric(s), "conv1");
//   std::vector<std::uint8_t> scratch(c.scratch_bytes(geo));   // reused across runs
//   c.run(in, scratch.data(), out, ep);                         // quantizes `in` into scratch, then the kernel
// A chain (c's output read only by the INT8 conv `next`) skips the fp32 tensor between them:
//   const QuantizedPlanes mid{buf, oc, geo, next.input_quant()};
//   c.run(c.quantize(in, scratch.data()), ep, mid);             // c's result, quantized for next
//   next.run(mid, out2, ep2);
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/conv3x3_int8.h"

namespace resr::cpu {

class Conv3x3Int8Impl {
 public:
  // weights [oc][ic][3][3] fp32, weight_scales [oc]; `act` encodes the input quantization (with per-channel
  // scales, `weights` are the folded ones, ir::folded_int8_weights; act.channel_scales' ic floats are copied);
  // `layer` names the conv in dispatch messages.
  static Conv3x3Int8Impl create(const float* weights, const float* weight_scales, int oc, int ic, U8Quant act,
                                const std::string& layer);
  // Bytes of the scratch run() needs for an input of geometry `geo` (QuantizedPlanes::bytes).
  std::size_t scratch_bytes(const PaddedGeometry& geo) const { return QuantizedPlanes::bytes(geo, packed_.ic); }
  // Same contract as the fp32 kernels (conv3x3.h, with `in` fp32); `scratch` (scratch_bytes(geo) bytes, best
  // 64-byte aligned) receives the quantized input.
  void run(const PaddedPlanes& in, std::uint8_t* scratch, const PaddedPlanes& out, const ConvEpilogue& ep) const;
  // Quantizes `in` into `scratch` with input_quant() (the first half of the run above). `in` may be the channels
  // [first_channel, first_channel + in.channels) of this conv's input (a part of a dense block): per-channel
  // scales are then those channels'.
  QuantizedPlanes quantize(const PaddedPlanes& in, std::uint8_t* scratch, int first_channel = 0) const;
  // The same on an input already quantized with input_quant(), e.g. by a producer's requantizing run.
  void run(const QuantizedPlanes& in, const PaddedPlanes& out, const ConvEpilogue& ep) const;
  // Requantizing: the result quantized into `qout` (for a consumer conv, with its input_quant()) instead of fp32.
  void run(const QuantizedPlanes& in, const ConvEpilogue& ep, const QuantizedPlanes& qout) const;
  U8Quant input_quant() const { return act_; }
  const char* kernel_name() const { return name_; }

 private:
  enum class Kind { kVnni512, kAvxVnni, kAvx2, kGeneric };  // conv3x3_int8_impl.cpp's kEntries order
  Kind kind_ = Kind::kGeneric;
  const char* name_ = "";
  U8Quant act_;
  std::shared_ptr<const std::vector<float>> channel_scales_;  // act_.channel_scales' storage, or null
  PackedConv3x3Int8 packed_;
  PackedInt8Pairs pairs_;  // the AVX2 kernel's widened copy of packed_ (empty for the others)
};

// Whether RESR_IMPL=`name` forces one of these kernels (a full or short name).
bool conv3x3_int8_forced_by(const char* name);

}  // namespace resr::cpu
