// The per-channel input factors of symmetric INT8 convs (ir::ConvQuant::in_channel_scales), and the choice of
// their migration strength per input-quantization group by an analytic error estimate, without running the model
// (`resr convert --scale-migration estimate`, QuantOptions::migration_candidates).
//
//   std::vector<float> f = channel_factors(range, 64, 0.5f);   // f_c = max((m_c / T)^0.5, 1/64)
//   float a = choose_migration({&conv1, &conv2}, range, kMigrationCandidates);
//
// A group is the convs that share one input quantization: one conv, or all readers of one dense block (they share
// one quantized copy of the block, so they must agree on its channels' factors, quantize_graph.h).
//
// The estimate, for one conv with factors f, threshold T (s = T / 127) and weights w[o][c][k], every rounding error
// taken as uniform and independent of the others:
//   input:   sum_c ||w[.][c]||^2 min((s f_c)^2 / 12, E[x_c^2])       channel c's codes have step s f_c in x
//   weights: sum_o sum_c E[x_c^2] / f_c^2 sum_k min(d_o^2 / 12, (w[o][c][k] f_c)^2),  d_o = max |w[o][.] f| / 127
// each rounding error at most the value it rounds (a value under half a step becomes 0). E[x_c^2] is taken as
// (kRmsPerMax m_c)^2, m_c the channel's largest |x| from the calibration table (the table has no second moments).
// The sum is divided by the conv's output power, sum_c ||w[.][c]||^2 E[x_c^2], so that a block's readers count
// alike. Not modelled: clipping of channels whose largest |x| exceeds T (percentile thresholds; none clips at
// a = 1), and correlations between channels.
#pragma once

#include <array>
#include <span>
#include <vector>

#include "ir/graph.h"
#include "quant/calib_table.h"

namespace resr::quant {

// The smallest factor: near-silent channels keep it, so their weights are not scaled to nothing.
inline constexpr float kMinChannelFactor = 1.0f / 64.0f;

// The strengths `--scale-migration estimate` chooses from.
inline constexpr std::array<float, 4> kMigrationCandidates{0.25f, 0.5f, 0.75f, 1.0f};

// RMS over largest |x| of a channel, the proxy for E[x_c^2]. Measured with bench/ncnn_torch.py on tiles of 64 from
// data/quant/calib (median over channels 0.11 for x4fast, 0.13 for x4plus), over fewer pixels than a calibration
// sees, whose larger maxima give smaller ratios. 0.3 chose smaller strengths: better on x4fast, still short of a
// fixed 0.5 there (docs/quantization.md).
inline constexpr double kRmsPerMax = 0.1;

// f_c = max((m_c / T)^migration, kMinChannelFactor) for the first `channels` channels of range (T: its threshold,
// or 1 below kMinThreshold). The candidate strengths (0.25, 0.5, 0.75, 1) are computed by sqrt and products,
// correctly rounded everywhere, so a table gives the same factors on every machine (other strengths by pow).
// range.channel_max must have at least `channels` entries.
std::vector<float> channel_factors(const TensorRange& range, int channels, float migration);

// The estimate above for conv n (INT8, symmetric) reading the first n.conv.in_channels channels of range with
// strength `migration`: noise over output power (0 when the output power is 0).
double estimated_relative_error(const ir::Node& n, const TensorRange& range, float migration);

// The candidate whose summed estimate over the group's convs is least (ties: the first). candidates: not empty.
float choose_migration(std::span<const ir::Node* const> group, const TensorRange& range,
                       std::span<const float> candidates);

}  // namespace resr::quant
