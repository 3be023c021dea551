#include "convert/model_convert.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "convert/file_checks.h"
#include "core/file_names.h"
#include "engine/host_memory.h"
#include "formats/file_bytes.h"
#include "formats/ncnn_reader.h"
#include "formats/ncnn_writer.h"
#include "formats/resr_file.h"
#include "image/image_files.h"
#include "ir/fingerprint.h"
#include "quant/migration_estimate.h"
#include "quant/quantize_graph.h"

namespace resr::conversion {
namespace {

constexpr const char* kInt8OrFp8 = "int8+fp8";

// An option's text for a message: bytes outside printable ASCII as \xNN (an API caller may pass anything).
std::string printable(const std::string& text) {
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f) {
      out += ch;
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out;
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

// target_psnr: measures which convs to keep at FP32 for the output to stay within the target. int8+fp8: measures
// which convs run in FP8 and which in INT8 first (with no target, only that).
Status search_precisions(const ConvertRequest& r, const ir::Graph& g, const quant::CalibTable& table,
                         const std::vector<Tensor>& samples, quant::QuantOptions* q, ConvertReport* report) {
  quant::SearchOptions so;
  so.choose_int8_or_fp8 = r.precision == kInt8OrFp8;
  so.target_psnr_db = r.target_psnr > 0 ? r.target_psnr : -INFINITY;
  so.on_progress = r.on_progress;
  so.stop = r.stop;
  RESR_ASSIGN_OR_RETURN(quant::SearchResult found, quant::search_precision(g, table, *q, samples, so));
  q->per_conv = found.per_conv;
  report->search = std::move(found);
  report->search_samples = static_cast<int>(samples.size());
  return ok_status();
}

// --scale-migration auto: the strength whose INT8 model measures best on the search's sample tiles.
Status measure_migration(const ConvertRequest& r, const ir::Graph& g, const quant::CalibTable& table,
                         const std::vector<Tensor>& samples, quant::QuantOptions* q, ConvertReport* report) {
  RESR_ASSIGN_OR_RETURN(quant::MigrationChoice choice,
                        quant::choose_channel_migration(g, table, *q, samples, {0.5f, 0.75f, 1.0f}, r.stop));
  q->channel_migration = choice.strength;
  report->scale_migration = choice.strength;
  if (r.on_progress) {
    std::string line = "scale migration (PSNR vs FP32 on " + std::to_string(samples.size()) + " tiles):";
    char buf[48];
    for (const auto& [a, psnr] : choice.psnr_db) {
      std::snprintf(buf, sizeof buf, " %.2f -> %.2f dB", double(a), psnr);
      line += buf;
    }
    std::snprintf(buf, sizeof buf, "; chose %.2f", double(choice.strength));
    r.on_progress(line + buf);
  }
  return ok_status();
}

// --images: the sample tiles the migration choice, the search and the quality measure on, read once for all.
Result<std::vector<Tensor>> load_samples(const ConvertRequest& r, int model_scale) {
  // The search keeps every sample tile and its FP32 output (3 floats a pixel, scale^2 more pixels out).
  const std::uint64_t tile_px = std::uint64_t(r.search_tile) * std::uint64_t(r.search_tile);
  const std::uint64_t scale2 = std::uint64_t(model_scale) * std::uint64_t(model_scale);
  RESR_RETURN_IF_ERROR(engine::check_host_memory(
      std::uint64_t(r.search_tiles) * tile_px * 12 * (1 + scale2), engine::available_host_memory(),
      std::to_string(r.search_tiles) + " search tiles of " + std::to_string(r.search_tile) + "x" +
          std::to_string(r.search_tile) + " (--search-tiles, --search-tile) with their outputs"));
  RESR_ASSIGN_OR_RETURN(std::vector<std::string> files, list_image_files(r.images));
  auto tiles = quant::load_sample_tiles(files, r.search_tiles, r.search_tile, /*seed=*/0, [&r](const std::string& why) {
    if (r.on_progress) r.on_progress("skipped " + why);
  });
  if (!tiles) return tiles.status().with_context(r.images);  // the folder the complaint is about
  return tiles;
}

// Sets the precision of every conv of g as asked; fills the calibration fields of meta for int8 and fp8. samples:
// --images' tiles, read once the table and the qtable are known to fit (empty without --images).
Status apply_precision(const ConvertRequest& r, ir::Precision p, const engine::LoadedModel& m, ir::Graph& g,
                       formats::ResrMetadata* meta, ConvertReport* report, std::vector<Tensor>* samples) {
  if (p == ir::Precision::kFp16) return quant::round_to_fp16(g);
  if (!ir::is_quantized(p)) return ok_status();
  RESR_ASSIGN_OR_RETURN(quant::CalibTable table, quant::read_calib_table(r.calib));
  // Checked before the search, whose runs would fail on it too. A blended model (realesr-general-x4v3 with its
  // twin, as upscale runs it) is another model than the file alone: said how to match them.
  if (Status fits = quant::check_table_model(g, table); !fits.ok())
    return m.dn_path.empty() || table.model_fingerprint == ir::graph_fingerprint(g)  // the blend: another model
               ? fits.with_context(r.calib)
               : Status::error(r.calib + ": made for another model than " + m.param_path + " blended with " +
                               m.dn_path + " (a table of the file alone needs -dn 1 here too; or calibrate again)");
  quant::QuantOptions q;
  q.precision = p;
  q.asymmetric = r.asymmetric;
  q.channel_scales = wants_channel_scales(r);
  const ScaleMigration migration = parse_scale_migration(r.scale_migration).value_or(ScaleMigration{});  // checked
  if (migration.mode == ScaleMigration::Mode::kFixed) q.channel_migration = migration.strength;
  if (migration.mode == ScaleMigration::Mode::kEstimated)  // inside quantize_graph: the search's graphs choose alike
    q.migration_candidates.assign(quant::kMigrationCandidates.begin(), quant::kMigrationCandidates.end());
  if (!r.qtable.empty()) {
    RESR_ASSIGN_OR_RETURN(q.per_conv, quant::read_qtable(r.qtable));
    RESR_RETURN_IF_ERROR(quant::check_conv_names(g, q.per_conv).with_context(r.qtable));
  }
  const bool measure = migration.mode == ScaleMigration::Mode::kMeasured,
             search = r.target_psnr > 0 || r.precision == kInt8OrFp8;
  if (!r.images.empty()) {
    RESR_ASSIGN_OR_RETURN(*samples, load_samples(r, m.summary.scale));
  }
  // measured on the graph as --qtable sets it (with --target-psnr: before the search, on all its INT8 convs)
  if (measure) RESR_RETURN_IF_ERROR(measure_migration(r, g, table, *samples, &q, report));
  RESR_ASSIGN_OR_RETURN(meta->calib_fingerprint, table_fingerprint(r.calib));
  meta->calib_method = table.method;
  if (search) RESR_RETURN_IF_ERROR(search_precisions(r, g, table, *samples, &q, report));
  std::map<std::string, float> migrations;
  RESR_RETURN_IF_ERROR(quant::quantize_graph(g, table, q, &migrations).with_context(r.calib));
  if (!q.migration_candidates.empty())
    for (const auto& [conv, a] : migrations) ++report->estimated_migrations[a];
  return ok_status();
}

// ncnn: OUT.param + OUT.bin; read back through the ncnn reader before anything is written.
Result<ConvertReport> write_ncnn(const engine::LoadedModel& m, const ConvertRequest& r) {
  std::filesystem::path param = r.output;
  if (lower_extension(r.output) != ".param")  // X.PARAM too, as X.RESR is a .resr
    return Status::error(r.output + ": the ncnn output must be a .param file");
  // The writer stores fp32 (or fp16) weights: an INT8 or FP8 model would lose its scales silently.
  for (const ir::Node& n : m.graph->nodes)
    if (n.op == ir::Op::kConv2d && ir::is_quantized(n.quant.precision))
      return Status::error(m.param_path + ": has " + ir::precision_name(n.quant.precision) +
                           " convolutions, which ncnn files written here cannot hold; convert from the FP32 source");
  std::filesystem::path bin = param;
  bin.replace_extension(".bin");
  const bool fp16 = r.storage == "fp16";
  const formats::NcnnFiles files = formats::serialize_ncnn_model(*m.graph, fp16);
  auto back = formats::parse_ncnn_model(files.param, files.bin);
  if (!back)
    return Status::error("internal error: the written ncnn model does not read back: " + back.status().message());
  RESR_RETURN_IF_ERROR(formats::write_ncnn_model(*m.graph, param.string(), bin.string(), fp16));
  ConvertReport report;
  report.target = "ncnn";
  report.files = param.string() + " and " + bin.string();
  report.bytes = files.bin.size();
  report.layers = back->nodes.size();
  report.architecture = m.summary.architecture;
  return report;
}

// .resr: the model at the precision asked; serialized, read back and compared before the file is written.
Result<ConvertReport> write_resr(const engine::LoadedModel& m, const ConvertRequest& r) {
  ir::Precision precision = ir::Precision::kInt8;  // int8+fp8: INT8 where FP8 is not chosen
  if (r.precision != kInt8OrFp8 && !ir::parse_precision(r.precision.empty() ? "fp32" : r.precision, &precision))
    return Status::error("unknown --precision '" + r.precision + "'");
  for (const ir::Node& n : m.graph->nodes)
    if (n.op == ir::Op::kConv2d && n.quant.precision != ir::Precision::kFp32)
      return Status::error(m.param_path + ": is already compiled (" + ir::precision_name(n.quant.precision) +
                           " convolutions); convert from the FP32 source model");
  ir::Graph g = *m.graph;
  formats::ResrMetadata meta;
  meta.model = m.name;
  meta.source = m.param_path;  // and what was blended in, which the file's weights hold and its name does not say
  if (!m.dn_path.empty()) {
    char strength[32];
    std::snprintf(strength, sizeof strength, "%g", double(m.dn_strength));
    meta.source += " blended with " + m.dn_path + " (dn " + strength + ")";
  }
  meta.architecture = architecture_line(m.summary);
  meta.scale = m.summary.scale;
  meta.source_fingerprint = ir::graph_fingerprint(g);
  ConvertReport report;
  std::vector<Tensor> samples;
  RESR_RETURN_IF_ERROR(apply_precision(r, precision, m, g, &meta, &report, &samples));
  if (!samples.empty()) {  // what the precision costs, measured (the search's own figure when it ran)
    if (report.search) {
      report.quality_psnr_db = report.search->psnr_db;
    } else {
      if (r.stop && r.stop()) return Status::stopped("conversion interrupted");
      RESR_ASSIGN_OR_RETURN(report.quality_psnr_db, quant::measure_psnr(*m.graph, g, samples));
    }
    report.quality_tiles = static_cast<int>(samples.size());
    meta.quality_psnr_db = report.quality_psnr_db;
    meta.quality_tiles = report.quality_tiles;
    meta.quality_tile = r.search_tile;
  }

  auto bytes = formats::serialize_resr(g, meta);
  if (!bytes) return bytes.status().with_context(r.output);
  auto back = formats::parse_resr(*bytes);
  if (!back) return Status::error("internal error: the .resr file does not read back: " + back.status().message());
  if (Status st = formats::compare_graphs(formats::stored_form(g), back->graph); !st)
    return Status::error("internal error: the .resr file reads back differently: " + st.message());
  if (r.stop && r.stop()) return Status::stopped("conversion interrupted");
  RESR_RETURN_IF_ERROR(formats::write_resr_file(*bytes, r.output));
  report.target = "resr";
  report.files = r.output;
  report.bytes = bytes->size();
  report.architecture = meta.architecture;
  report.precision = back->meta.precision;
  report.quantized_kind = quant::quantized_kind(r.precision == kInt8OrFp8, precision);
  for (const ir::Node& n : g.nodes) report.channel_scaled_convs += !n.quant.in_channel_scales.empty();
  report.quantized_share =
      report.precision.at(ir::Precision::kInt8).mac_share + report.precision.at(ir::Precision::kFp8).mac_share;
  return report;
}

}  // namespace

bool is_calibrated_precision(const std::string& precision) {
  return precision == "int8" || precision == "fp8" || precision == kInt8OrFp8;
}

std::string convert_target(const ConvertRequest& r) {
  if (!r.to.empty()) return r.to;
  return lower_extension(r.output) == ".resr" ? "resr" : "ncnn";
}

std::optional<ScaleMigration> parse_scale_migration(const std::string& text) {
  ScaleMigration m;
  if (text.empty()) return m;
  if (text == "auto") {
    m.mode = ScaleMigration::Mode::kMeasured;
    return m;
  }
  if (text == "estimate") {
    m.mode = ScaleMigration::Mode::kEstimated;
    return m;
  }
  float a = 0;  // from_chars: the "C" locale's decimal point whatever the process's locale, no leading space or '+'
  const char* end = text.data() + text.size();
  const auto [stop, ec] = std::from_chars(text.data(), end, a);
  if (ec != std::errc() || stop != end || !(a > 0) || a > 1) return std::nullopt;
  m.mode = ScaleMigration::Mode::kFixed;
  m.strength = a;
  return m;
}

Status check_convert_request(const ConvertRequest& r) {
  const std::string to = convert_target(r);
  if (to != "resr" && to != "ncnn") return Status::error("unknown --to target '" + to + "' (use ncnn or resr)");
  if (r.output.empty()) return Status::error("no output file given");
  const bool resr = to == "resr";
  const bool quantized = is_calibrated_precision(r.precision);
  if (!r.storage.empty() && r.storage != "fp32" && r.storage != "fp16")
    return Status::error("--storage must be fp32 or fp16, got '" + r.storage + "'");
  if (!r.precision.empty() && !quantized && r.precision != "fp32" && r.precision != "fp16")
    return Status::error("unknown --precision '" + r.precision + "' (use fp32, fp16, int8, fp8 or int8+fp8)");
  if (!resr && (!r.precision.empty() || !r.calib.empty() || !r.qtable.empty() || r.asymmetric))
    return Status::error(r.to.empty() ? "--precision, --calib, --qtable and --asymmetric make a .resr file: -o '" +
                                            r.output + "' does not end in .resr (ncnn output is chosen by extension)"
                                      : "--precision, --calib, --qtable and --asymmetric apply to --to resr");
  if (resr && !r.storage.empty()) return Status::error("--storage applies to --to ncnn (use --precision for .resr)");
  if (resr && lower_extension(r.output) != ".resr")
    return Status::error(r.output + ": the resr output must be a .resr file");
  if (quantized && r.calib.empty())
    return Status::error("--precision " + r.precision +
                         " needs --calib TABLE (a calibration table from resr calibrate)");
  if (!quantized && (!r.calib.empty() || !r.qtable.empty() || r.asymmetric || r.target_psnr > 0 || !r.images.empty()))
    return Status::error(
        "--calib, --qtable, --asymmetric, --target-psnr and --images apply to --precision int8, fp8 or int8+fp8");
  if (r.precision == "fp8" && r.asymmetric) return Status::error("--asymmetric applies to --precision int8 only");
  if (!r.input_scales.empty() && r.input_scales != "channel" && r.input_scales != "tensor")
    return Status::error("--input-scales must be channel or tensor, got '" + r.input_scales + "'");
  if (!r.input_scales.empty() && (!quantized || r.precision == "fp8"))
    return Status::error("--input-scales applies to --precision int8 or int8+fp8");
  if (!std::isfinite(r.target_psnr))  // NaN passes every comparison below
    return Status::error("--target-psnr must be in [1, 200] dB");
  if (r.input_scales == "channel" && r.asymmetric)
    return Status::error("--input-scales channel is for symmetric int8 (drop --asymmetric)");
  const std::optional<ScaleMigration> migration = parse_scale_migration(r.scale_migration);
  if (!migration)
    return Status::error("--scale-migration must be auto, estimate or in (0, 1], got '" + printable(r.scale_migration) +
                         "'");
  const bool measured = migration->mode == ScaleMigration::Mode::kMeasured;
  if (migration->mode != ScaleMigration::Mode::kDefault &&
      (r.asymmetric || r.input_scales == "tensor" || !quantized || r.precision == "fp8"))
    return Status::error("--scale-migration applies to int8 with per-channel input scales");
  if (measured && r.precision == kInt8OrFp8)
    return Status::error("--scale-migration auto applies to --precision int8 (give int8+fp8 a number)");
  if (measured && r.images.empty())
    return Status::error("--scale-migration auto needs --images DIR: the calibration images it measures on");
  if (r.target_psnr < 0 || (r.target_psnr > 0 && (r.target_psnr < 1 || r.target_psnr > 200)))
    return Status::error("--target-psnr must be in [1, 200] dB");
  if (r.search_tiles < 1 || r.search_tiles > 1000) return Status::error("--search-tiles must be in [1, 1000]");
  if (r.search_tile < 8 || r.search_tile > 1024) return Status::error("--search-tile must be in [8, 1024]");
  if (r.target_psnr > 0 && r.images.empty())
    return Status::error("--target-psnr needs --images DIR: the calibration images the search measures on");
  if (r.precision == kInt8OrFp8 && r.images.empty())
    return Status::error("--precision int8+fp8 needs --images DIR: the calibration images the choice measures on");
  // The files named exist (and the output can be written) before any long work.
  if (!r.calib.empty()) RESR_RETURN_IF_ERROR(check_readable_file(r.calib));
  if (!r.qtable.empty()) RESR_RETURN_IF_ERROR(check_readable_file(r.qtable));
  std::error_code ec;
  if (!r.images.empty() && !std::filesystem::is_directory(r.images, ec))
    return Status::error(r.images + ": not a folder (--images takes a folder of images)");
  return check_writable_file(r.output);
}

Result<ConvertReport> convert_model(const engine::LoadedModel& model, const ConvertRequest& r) {
  RESR_RETURN_IF_ERROR(check_convert_request(r));
  // The files written (OUT, and OUT.bin beside an ncnn OUT.param) must not be the model's own.
  const bool resr = convert_target(r) == "resr";
  std::vector<std::string> written = {r.output};
  if (!resr) written.push_back(std::filesystem::path(r.output).replace_extension(".bin").string());
  for (const std::string& out : written) RESR_RETURN_IF_ERROR(check_output_path(out, model.files()));
  return resr ? write_resr(model, r) : write_ncnn(model, r);
}

}  // namespace resr::conversion
