// resr convert: writes a loaded model (any input format) in another format. Targets are a table: ncnn
// (.param/.bin) and the compiled .resr (formats/resr_file.h) at a chosen precision (fp32, fp16, or int8 / fp8 from
// a calibration table, quant/quantize_graph.h, or int8+fp8: each conv the better of the two, as measured). Every option
// is checked and the output is read back before anything is written.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "formats/file_bytes.h"
#include "formats/ncnn_reader.h"
#include "formats/ncnn_writer.h"
#include "formats/resr_file.h"
#include "image/image_files.h"
#include "ir/fingerprint.h"
#include "model_options.h"
#include "quant/precision_search.h"
#include "quant/quantize_graph.h"

namespace resr::cli {
namespace {

struct ConvertOptions {
  ModelOptions model;
  std::string to;  // empty: resr when -o ends in .resr, else ncnn
  std::string output;
  std::string storage = "fp32";
  bool storage_given = false;
  std::string precision;  // resr; empty = fp32
  std::string calib, qtable;
  bool asymmetric = false;
  double target_psnr = 0;  // > 0: search the convs to keep out of INT8 (quant/precision_search.h)
  std::string search_images;
  int search_tiles = 8, search_tile = 48;
};

constexpr const char* kInt8OrFp8 = "int8+fp8";

// --target-psnr: measures which convs to keep at FP32 for the output to stay within the target; prints the curve.
// int8+fp8: measures which convs run in FP8 and which in INT8 first (with no target, only that).
Status search_precisions(const ConvertOptions& o, const ir::Graph& g, const quant::CalibTable& table,
                         quant::QuantOptions* q) {
  RESR_ASSIGN_OR_RETURN(std::vector<std::string> files, list_image_files(o.search_images));
  RESR_ASSIGN_OR_RETURN(std::vector<Tensor> samples, quant::load_sample_tiles(files, o.search_tiles, o.search_tile));
  quant::SearchOptions so;
  so.choose_int8_or_fp8 = o.precision == kInt8OrFp8;
  so.target_psnr_db = o.target_psnr > 0 ? o.target_psnr : -INFINITY;
  so.on_progress = [](const std::string& line) {
    std::printf("search: %s\n", line.c_str());
    std::fflush(stdout);  // a long search: show progress when stdout is a file too
  };
  RESR_ASSIGN_OR_RETURN(quant::SearchResult r, quant::search_precision(g, table, *q, samples, so));
  const char* kind = quant::quantized_kind(so.choose_int8_or_fp8, q->precision);
  std::printf("search: %d evaluations on %zu tiles of %dx%d; curve (%s share of multiply-adds, PSNR vs FP32):\n",
              r.evaluations, samples.size(), o.search_tile, o.search_tile, kind);
  for (const quant::CurvePoint& p : r.curve)
    std::printf("search:   %5.1f%%  %6.2f dB  (%d convs kept)\n", 100 * p.quantized_share, p.psnr_db, p.kept);
  if (o.target_psnr > 0)
    std::printf("search: %s: %d convs kept out of %s, %s share %.1f%%, PSNR %.2f dB (target %.2f dB)\n",
                r.reached ? "target met" : "target NOT met", r.kept, kind, kind, 100 * r.quantized_share, r.psnr_db,
                o.target_psnr);
  q->per_conv = r.per_conv;
  return {};
}

// ncnn: OUT.param + OUT.bin; read back through the ncnn reader before anything is written.
int write_ncnn(const ConvertOptions& o, const engine::LoadedModel& m) {
  std::filesystem::path param = o.output;
  if (param.extension() != ".param") return fail(o.output + ": the ncnn output must be a .param file");
  std::filesystem::path bin = param;
  bin.replace_extension(".bin");
  const bool fp16 = o.storage == "fp16";
  const formats::NcnnFiles files = formats::serialize_ncnn_model(*m.graph, fp16);
  auto back = formats::parse_ncnn_model(files.param, files.bin);
  if (!back) return fail("internal error: the written ncnn model does not read back: " + back.status().message());
  Status st = formats::write_ncnn_model(*m.graph, param.string(), bin.string(), fp16);
  if (!st.ok()) return fail(st.message());
  std::printf("wrote %s and %s (%zu layers, %s weights, %zu bytes) from %s [%s]\n", param.string().c_str(),
              bin.string().c_str(), back->nodes.size(), o.storage.c_str(), files.bin.size(), m.param_path.c_str(),
              m.summary.architecture.c_str());
  return 0;
}

std::string architecture_line(const models::ModelSummary& s) {
  char buf[128];
  if (s.architecture == "RRDBNet")
    std::snprintf(buf, sizeof buf, "RRDBNet (num_block %d, num_feat %d, num_grow_ch %d)", s.blocks, s.features,
                  s.growth);
  else if (s.architecture == "SRVGGNetCompact")
    std::snprintf(buf, sizeof buf, "SRVGGNetCompact (num_conv %d, num_feat %d)", s.blocks, s.features);
  else
    std::snprintf(buf, sizeof buf, "%s", s.architecture.c_str());
  return buf;
}

// FNV-1a 64 of the table file: names the exact calibration table a file was quantized with.
Result<std::string> table_fingerprint(const std::string& path) {
  auto bytes = formats::read_file_bytes(path, std::uint64_t{64} << 20);
  if (!bytes) return bytes.status().with_context(path);
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::uint8_t b : *bytes) h = (h ^ b) * 0x100000001b3ull;
  return ir::fingerprint_hex(h);
}

// Sets the precision of every conv of g as asked; fills the calibration fields of meta for int8 and fp8.
Status apply_precision(const ConvertOptions& o, ir::Precision p, ir::Graph& g, formats::ResrMetadata* meta) {
  if (p == ir::Precision::kFp16) return quant::round_to_fp16(g);
  if (!ir::is_quantized(p)) return {};
  RESR_ASSIGN_OR_RETURN(quant::CalibTable table, quant::read_calib_table(o.calib));
  quant::QuantOptions q;
  q.precision = p;
  q.asymmetric = o.asymmetric;
  if (!o.qtable.empty()) {
    RESR_ASSIGN_OR_RETURN(q.per_conv, quant::read_qtable(o.qtable));
  }
  RESR_ASSIGN_OR_RETURN(meta->calib_fingerprint, table_fingerprint(o.calib));
  meta->calib_method = table.method;
  if (o.target_psnr > 0 || o.precision == kInt8OrFp8) RESR_RETURN_IF_ERROR(search_precisions(o, g, table, &q));
  RESR_RETURN_IF_ERROR(quant::quantize_graph(g, table, q).with_context(o.calib));
  return {};
}

// .resr: the model at --precision; serialized, read back and compared before the file is written.
int write_resr(const ConvertOptions& o, const engine::LoadedModel& m) {
  ir::Precision precision = ir::Precision::kInt8;  // int8+fp8: INT8 where FP8 is not chosen
  if (o.precision != kInt8OrFp8 && !ir::parse_precision(o.precision.empty() ? "fp32" : o.precision, &precision))
    return fail("unknown --precision '" + o.precision + "'");
  for (const ir::Node& n : m.graph->nodes)
    if (n.op == ir::Op::kConv2d && n.quant.precision != ir::Precision::kFp32)
      return fail(m.param_path + ": is already compiled (" + ir::precision_name(n.quant.precision) +
                  " convolutions); convert from the FP32 source model");
  ir::Graph g = *m.graph;
  formats::ResrMetadata meta;
  meta.model = m.name;
  meta.source = m.param_path;
  meta.architecture = architecture_line(m.summary);
  meta.scale = m.summary.scale;
  meta.source_fingerprint = ir::graph_fingerprint(g);
  if (Status st = apply_precision(o, precision, g, &meta); !st) return fail(st.message());

  auto bytes = formats::serialize_resr(g, meta);
  if (!bytes) return fail(o.output + ": " + bytes.status().message());
  auto back = formats::parse_resr(*bytes);
  if (!back) return fail("internal error: the .resr file does not read back: " + back.status().message());
  if (Status st = formats::compare_graphs(formats::stored_form(g), back->graph); !st)
    return fail("internal error: the .resr file reads back differently: " + st.message());
  if (Status st = formats::write_resr_file(*bytes, o.output); !st) return fail(st.message());
  const formats::PrecisionSummary& s = back->meta.precision;
  std::string convs;
  for (ir::Precision p : {ir::Precision::kFp8, ir::Precision::kInt8, ir::Precision::kFp16, ir::Precision::kFp32})
    if (s.at(p).convs > 0)
      convs += (convs.empty() ? "" : ", ") + std::to_string(s.at(p).convs) + " " + ir::precision_name(p);
  const char* kind = quant::quantized_kind(o.precision == kInt8OrFp8, precision);
  const double share = s.at(ir::Precision::kInt8).mac_share + s.at(ir::Precision::kFp8).mac_share;
  std::printf("wrote %s: precision %s, %s %.1f%% of multiply-adds (convs: %s), %zu bytes, from %s [%s]\n",
              o.output.c_str(), o.precision.empty() ? "fp32" : o.precision.c_str(), kind, share * 100.0, convs.c_str(),
              bytes->size(), m.param_path.c_str(), meta.architecture.c_str());
  return 0;
}

struct Target {
  const char* name;
  int (*write)(const ConvertOptions&, const engine::LoadedModel&);
};
constexpr Target kTargets[] = {{"ncnn", write_ncnn}, {"resr", write_resr}};

// Option combinations, checked before the model is loaded.
Status check_options(const ConvertOptions& o, const std::string& to) {
  const bool resr = to == "resr";
  const bool int8 = o.precision == "int8" || o.precision == "fp8" || o.precision == kInt8OrFp8;  // calibrated
  if (!resr && (!o.precision.empty() || !o.calib.empty() || !o.qtable.empty() || o.asymmetric))
    return Status::error("--precision, --calib, --qtable and --asymmetric apply to --to resr");
  if (resr && o.storage_given) return Status::error("--storage applies to --to ncnn (use --precision for .resr)");
  if (resr && std::filesystem::path(o.output).extension() != ".resr")
    return Status::error(o.output + ": the resr output must be a .resr file");
  if (int8 && o.calib.empty())
    return Status::error("--precision " + o.precision +
                         " needs --calib TABLE (a calibration table from resr calibrate)");
  if (!int8 && (!o.calib.empty() || !o.qtable.empty() || o.asymmetric || o.target_psnr > 0))
    return Status::error(
        "--calib, --qtable, --asymmetric and --target-psnr apply to --precision int8, fp8 or int8+fp8");
  if (o.precision == "fp8" && o.asymmetric) return Status::error("--asymmetric applies to --precision int8 only");
  if (o.target_psnr > 0 && o.search_images.empty())
    return Status::error("--target-psnr needs --images DIR: the calibration images the search measures on");
  if (o.precision == kInt8OrFp8 && o.search_images.empty())
    return Status::error("--precision int8+fp8 needs --images DIR: the calibration images the choice measures on");
  return {};
}

int run_convert(const ConvertOptions& o) {
  std::string to = o.to;
  if (to.empty()) to = std::filesystem::path(o.output).extension() == ".resr" ? "resr" : "ncnn";
  if (Status st = check_options(o, to); !st) return fail(st.message());
  auto model = engine::load_model(o.model.source);
  if (!model) return fail(model.status().message());
  for (const Target& t : kTargets)
    if (to == t.name) return t.write(o, *model);
  return fail("unknown --to target '" + to + "'");
}

}  // namespace

void add_convert_command(CLI::App& app, Action* action) {
  auto opts = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand("convert", "write a model in another format (ncnn .param/.bin, compiled .resr)");
  opts->model.add_to(*cmd);
  std::vector<std::string> targets;
  for (const Target& t : kTargets) targets.emplace_back(t.name);
  cmd->add_option("--to", opts->to, "output format: ncnn or resr (default: resr when -o ends in .resr, else ncnn)")
      ->check(CLI::IsMember(targets));
  cmd->add_option("-o,--output", opts->output, "output file (ncnn: OUT.param, OUT.bin written beside it; OUT.resr)")
      ->required();
  CLI::Option* storage =
      cmd->add_option("--storage", opts->storage, "ncnn convolution weight storage: fp32 (default, exact) or fp16")
          ->check(CLI::IsMember({"fp32", "fp16"}));
  cmd->add_option("--precision", opts->precision,
                  "resr: convolution precision fp32 (default), fp16, int8, fp8 (E4M3; Hopper's FP8 tensor cores) or "
                  "int8+fp8 (each conv the one that measured better on --images)")
      ->check(CLI::IsMember({"fp32", "fp16", "int8", "fp8", kInt8OrFp8}));
  cmd->add_option("--calib", opts->calib, "resr int8/fp8: calibration table (from resr calibrate)");
  cmd->add_option("--qtable", opts->qtable,
                  "resr int8/fp8: per-conv precisions, one '<name> <fp32|fp16|int8|fp8>' a line");
  cmd->add_flag("--asymmetric", opts->asymmetric, "resr int8: asymmetric (uint8, zero point) activations");
  cmd->add_option(
         "--target-psnr", opts->target_psnr,
         "resr int8/fp8: keep the least tolerant convs at FP32 until the output is within DB of FP32 on --images")
      ->check(CLI::Range(1.0, 200.0));
  cmd->add_option("--images", opts->search_images,
                  "resr --target-psnr, int8+fp8: folder of calibration images to measure on");
  cmd->add_option("--search-tiles", opts->search_tiles, "resr --target-psnr, int8+fp8: sample tiles (default 8)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--search-tile", opts->search_tile, "resr --target-psnr, int8+fp8: sample tile size (default 48)")
      ->check(CLI::Range(8, 1024));
  cmd->callback([opts, action, storage] {
    opts->storage_given = storage->count() > 0;
    *action = [opts] { return run_convert(*opts); };
  });
}

}  // namespace resr::cli
