// RESR_CUDA_TENSOR_CONV=auto's verdict for one conv geometry on one GPU: which cut of resr's tensor-core conv
// (tensor_conv_math.h) runs it, or cuDNN's path where none matched or beat it, with the times it was decided on.
// Kept in the plan cache (scoped to the GPU and its software) under the geometry, so that a later process takes
// the same path without checking and timing every cut again; the key carries the kernel's version, so that a
// changed kernel is timed afresh.
//
//   cache.put(tensor_verdict_key(geometry), encode_tensor_verdict(v));
//   if (std::optional<TensorVerdict> v = decode_tensor_verdict(*cache.get(tensor_verdict_key(geometry)))) ...
//
// Plain C++ (no CUDA), so the host tests check it.
#pragma once

#include <optional>
#include <string>

#include "backends/cuda/tensor_conv_math.h"

namespace resr::cuda {

struct TensorVerdict {
  std::optional<tensor_conv::Cut> cut;  // the fastest cut that matched cuDNN, if it beat cuDNN's path
  double cudnn_ms = 0, tensor_ms = 0;   // tensor_ms: that cut's (or the fastest matching one's); 0 if none matched
};

std::string tensor_verdict_key(const std::string& geometry);
std::string encode_tensor_verdict(const TensorVerdict& v);
// nullopt for anything encode_tensor_verdict did not write (a damaged entry, another version's).
std::optional<TensorVerdict> decode_tensor_verdict(const std::string& entry);
// Whether a verdict may go to the plan cache: cuDNN's path was timed (a failed measurement decides for this
// process only).
bool worth_keeping(const TensorVerdict& v);

}  // namespace resr::cuda
