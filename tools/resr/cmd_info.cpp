// resr info: what a model file holds, as recognised from its structure.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "commands.h"
#include "formats/resr_file.h"
#include "ir/fingerprint.h"
#include "model_options.h"

namespace resr::cli {
namespace {

struct InfoOptions {
  ModelOptions model;
  bool verbose = false;
};

std::string layer_details(const ir::Graph& g, const ir::Node& n) {
  char buf[160] = "";
  switch (n.op) {
    case ir::Op::kConv2d: {
      const char* act = n.conv.activation == ir::Activation::kLeakyRelu ? " + LeakyReLU"
                        : n.conv.activation == ir::Activation::kRelu    ? " + ReLU"
                                                                        : "";
      const bool fp32 = n.quant.precision == ir::Precision::kFp32;
      std::snprintf(buf, sizeof buf, "%d -> %d, %dx%d, stride %d, pad %d%s%s%s%s", n.conv.in_channels,
                    n.conv.out_channels, n.conv.kernel_h, n.conv.kernel_w, n.conv.stride, n.conv.pad,
                    n.bias.empty() ? "" : ", bias", act, fp32 ? "" : ", ",
                    fp32 ? "" : ir::precision_name(n.quant.precision));
      break;
    }
    case ir::Op::kWeightedSum:
      std::snprintf(buf, sizeof buf, "coefficients %g, %g%s", n.coeffs[0], n.coeffs[1],
                    n.coeffs.size() > 2 ? ", ..." : "");
      break;
    case ir::Op::kUpsampleNearest:
    case ir::Op::kPixelShuffle:
      std::snprintf(buf, sizeof buf, "x%d", n.factor);
      break;
    default:
      std::snprintf(buf, sizeof buf, "%d channels", g.values[n.output].channels);
  }
  return buf;
}

int run_info(const InfoOptions& o) {
  auto model = engine::load_model(o.model.upscale_source());
  if (!model) return fail(model.status().message());
  const models::ModelSummary& s = model->summary;
  std::printf("model:          %s\n", model->param_path.c_str());
  std::printf("format:         %s%s%s\n", model->format.c_str(), model->detected.empty() ? "" : ", detected ",
              model->detected.c_str());
  if (!model->dn_path.empty()) std::printf("blended with:   %s\n", model->dn_path.c_str());
  std::printf("architecture:   %s", s.architecture.c_str());
  if (s.architecture == "RRDBNet")
    std::printf(" (num_block %d, num_feat %d, num_grow_ch %d)", s.blocks, s.features, s.growth);
  else if (s.architecture == "SRVGGNetCompact")
    std::printf(" (num_conv %d, num_feat %d)", s.blocks, s.features);
  std::printf("\nscale:          %d\n", s.scale);
  std::printf("convolutions:   %d\n", s.convs);
  std::printf("parameters:     %lld (%.2f M)\n", static_cast<long long>(s.parameters), s.parameters / 1e6);
  std::printf("MACs per pixel: %.0f (%.3f M per input pixel)\n", s.macs_per_pixel, s.macs_per_pixel / 1e6);
  std::printf("receptive field radius: %.2f input pixels\n", s.receptive_radius);
  std::printf("file size:      %llu bytes\n", static_cast<unsigned long long>(model->file_bytes));
  std::printf("precision:      %s\n", formats::summarize_precision(*model->graph).line().c_str());
  if (model->format == "resr") {
    auto meta = formats::read_resr_metadata(model->param_path);
    if (!meta) return fail(meta.status().message());
    std::printf("compiled from:  %s (FP32 fingerprint %s)\n", meta->source.c_str(),
                ir::fingerprint_hex(meta->source_fingerprint).c_str());
    if (!meta->calib_method.empty())
      std::printf("calibration:    %s (table %s)\n", meta->calib_method.c_str(), meta->calib_fingerprint.c_str());
    if (meta->quality_tiles > 0)
      std::printf(
          "quality:        PSNR %.2f dB against FP32 on %d tiles of %dx%d (measured by resr convert --images)\n",
          meta->quality_psnr_db, meta->quality_tiles, meta->quality_tile, meta->quality_tile);
    else if (!meta->calib_method.empty())
      std::printf("quality:        not measured (resr convert --images measures it)\n");
    std::printf("written by:     resr %s on %s (format version %u)\n", meta->resr_version.c_str(),
                meta->created.c_str(), meta->format_version);
  }
  if (o.verbose) {
    const ir::Graph& g = *model->graph;
    std::printf("layers:         %zu\n", g.nodes.size());
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      const ir::Node& n = g.nodes[i];
      std::printf("  %4zu  %-16s %-22s %s\n", i, ir::op_name(n.op), n.name.c_str(), layer_details(g, n).c_str());
    }
  }
  return 0;
}

}  // namespace

void add_info_command(CLI::App& app, Action* action) {
  auto opts = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "describe a model: architecture, scale, size, cost");
  opts->model.add_to(*cmd, /*runs_the_model=*/false);
  cmd->add_flag("-v,--verbose", opts->verbose, "list every layer");
  cmd->callback([opts, action] { *action = [opts] { return run_info(*opts); }; });
}

}  // namespace resr::cli
