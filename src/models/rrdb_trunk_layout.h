// The RRDBNet key layout of the ESRGAN repository's later code and of mmsr, in which BSRGAN and the re-saved
// RRDB_ESRGAN_x4.pth are published, renamed to BasicSR's so that one builder (models/rrdbnet.h) serves it:
//
//   conv_first                 -> conv_first
//   RRDB_trunk.N.RDBk.convj    -> body.N.rdbk.convj
//   trunk_conv                 -> conv_body
//   upconv1, upconv2, upconv3  -> conv_up1, conv_up2, conv_up3   (each after a nearest x2 upsample; BSRGAN x2: one)
//   HRconv                     -> conv_hr
//   conv_last                  -> conv_last
//
// The network is the same (LeakyReLU 0.2, residuals scaled by 0.2, no pixel-unshuffle); only the names differ.
//
//   if (is_rrdb_trunk_layout(w)) RESR_ASSIGN_OR_RETURN(w, rrdb_trunk_to_basicsr(w));
//
// Errors name the tensor that has no BasicSR counterpart: "RRDB_trunk layout: unexpected tensor 'RRDB_trunk.0.x'".
#pragma once

#include "core/status.h"
#include "formats/weight_map.h"

namespace resr::models {

// True when the weights have this layout's keys (RRDB_trunk.0.RDB1.conv1.weight and trunk_conv.weight).
bool is_rrdb_trunk_layout(const formats::WeightMap& w);

// The same tensors under BasicSR's names.
[[nodiscard]] Result<formats::WeightMap> rrdb_trunk_to_basicsr(const formats::WeightMap& w);

}  // namespace resr::models
