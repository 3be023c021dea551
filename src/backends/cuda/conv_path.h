// RESR_CUDA_FUSED=auto: each fp16 conv runs on whichever of its two paths was faster when timed on this GPU,
// its fused cuDNN graph (conv, bias, activation and residuals in one launch: fused_conv.h) or the legacy path
// (cuDNN's measured algorithm, then one epilogue kernel). Convs of one structure (one fused graph) share the
// choice. Before it is timed, a graph is run on test data against the legacy path: one whose output differs
// (outputs_agree) takes the legacy path, untimed. The choice is kept in the plan cache under the graph's
// signature, so that later processes on the same GPU take the same path without checking or timing it again; its
// entry records both times, for reports.
//
//   ConvPath p = faster_path(fused_ms, legacy_ms);
//   cache.put(conv_path_key(signature), encode_conv_path({p, fused_ms, legacy_ms}));
//   if (std::optional<ConvPathChoice> c = decode_conv_path(*cache.get(conv_path_key(signature)))) ...
//
// Plain C++ (no CUDA), so the host tests check it.
#pragma once

#include <optional>
#include <string>

namespace resr::cuda {

enum class ConvPath { kFused, kLegacy };

struct ConvPathChoice {
  ConvPath path = ConvPath::kFused;
  double fused_ms = 0, legacy_ms = 0;  // as timed when the choice was made
  bool fused_differs = false;          // the graph's output differed from the legacy path's: legacy, untimed
  // Not checked (no memory for the check, or a path did not run in it): decided by the times alone, for this
  // process only.
  bool unchecked = false;
};

// Whether two paths' outputs on the same data agree: the largest absolute difference is within 1e-2 of the larger
// of 1 and the largest output (fp16 storage, different algorithms and roundings). Not where either is not finite.
bool outputs_agree(float max_abs_difference, float largest_output);

// The faster path; a tie goes to the fused graph (one launch and one pass over the output fewer). A time that
// is not a finite positive number (a failed measurement) loses.
ConvPath faster_path(double fused_ms, double legacy_ms);

// Whether a choice may go to the plan cache: checked, and both paths measured or the graph's output differed. One
// failed measurement (a transient launch failure) decides for this process only, and is timed again by the next.
bool worth_keeping(const ConvPathChoice& c);

// Versioned: choices made before the check existed ("path|") are not read, so each graph is checked once.
std::string conv_path_key(const std::string& signature);
std::string encode_conv_path(const ConvPathChoice& c);
// nullopt for anything encode_conv_path did not write.
std::optional<ConvPathChoice> decode_conv_path(const std::string& entry);

}  // namespace resr::cuda
