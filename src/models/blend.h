// Blending two models of the same structure weight by weight (Real-ESRGAN's "dni", used for the denoise
// strength of realesr-general-x4v3): out = alpha * a + (1 - alpha) * b for every conv weight and bias and
// every PReLU slope; the structure (ops, channels, parameters) must match node for node.
//
//   RESR_ASSIGN_OR_RETURN(ir::Graph g, blend_graphs(general, general_wdn, 0.5f));
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace resr::models {

// Errors: "node 3 ('body.2'): structures differ (Conv2d 64 -> 64 vs PReLU)".
[[nodiscard]] Result<ir::Graph> blend_graphs(const ir::Graph& a, const ir::Graph& b, float alpha);

}  // namespace resr::models
