// The original ESRGAN repository's key layout of RRDBNet ("old arch"), in which most community models are
// published (OpenModelDB: 4x-UltraSharp, Remacri, 1x deJPEG models, ...), renamed to BasicSR's, so that one
// builder (models/rrdbnet.h) serves both:
//
//   model.0                          -> conv_first
//   model.1.sub.N.RDBk.convj.0       -> body.N.rdbk.convj        (N < num_block)
//   model.1.sub.<num_block>          -> conv_body
//   model.3, model.6, ... (3i)       -> conv_up1, conv_up2, ...  (each after a nearest x2 upsample at 3i - 1)
//   model.<3n + 2>, model.<3n + 4>   -> conv_hr, conv_last       (n upsampling convs, 0 to 3)
//
// The architecture is the same (LeakyReLU 0.2, residuals scaled by 0.2); only the names differ.
//
//   if (is_esrgan_layout(w)) RESR_ASSIGN_OR_RETURN(w, esrgan_to_basicsr(w));
//
// Layouts this cannot map (pixel-shuffle upsamplers, ESRGAN+'s conv1x1) fail with what was found. A x3 model
// of this layout (one nearest x3 upsample) has exactly the keys and shapes of a x2 one and cannot be told apart:
// it is read as x2.
#pragma once

#include "core/status.h"
#include "formats/weight_map.h"

namespace resr::models {

// True when the weights have the old layout's keys (model.0.weight and model.1.sub.0.RDB1.conv1.0.weight).
bool is_esrgan_layout(const formats::WeightMap& w);

// The same tensors under BasicSR's names. Errors: "ESRGAN layout: unexpected tensor
// 'model.1.sub.0.RDB1.conv1x1.weight' (known: ...)", "ESRGAN layout: the convs after the trunk (model.2, model.5,
// model.8, model.10) are not 0 to 3 nearest-upsample convs ...". Indices are plain decimals ("03" is refused).
[[nodiscard]] Result<formats::WeightMap> esrgan_to_basicsr(const formats::WeightMap& w);

}  // namespace resr::models
