// resr::calibrate and resr::convert (include/resr/convert.h) over the convert module: the library's model
// lookup, then what `resr calibrate` and `resr convert` run.
#include "resr/convert.h"

#include "api/model_source.h"
#include "api/stop_on_false.h"
#include "convert/calibrate_to_file.h"
#include "convert/model_convert.h"
#include "engine/model_loader.h"

namespace resr {

using api_detail::model_source;
using api_detail::StopOnFalse;

Result<CalibrationResult> calibrate(const CalibrationOptions& o, const std::function<bool(int, int)>& on_tile) {
  conversion::CalibrationRequest r;
  r.images = o.images;
  r.output = o.output;
  quant::CalibrateOptions& c = r.options;
  RESR_RETURN_IF_ERROR(conversion::parse_calibration_method(o.method, &c.method));
  if (o.backend != "cpu" && o.backend != "ref")
    return Status::error("calibration runs on the cpu or ref backend, got '" + o.backend + "'");
  c.num_tiles = o.tiles;
  c.tile = o.tile;
  c.seed = o.seed;
  c.method_options.percentile = o.percentile;
  r.percentile_given = o.percentile != CalibrationOptions{}.percentile;
  c.backend = o.backend;
  StopOnFalse<int, int> progress(on_tile);  // calibration reports on this thread
  c.on_tile = progress.reporter();
  c.stop = progress.stopper();
  CalibrationResult result;
  c.on_warning = [&result](const std::string& w) { result.warnings.push_back(w); };
  RESR_RETURN_IF_ERROR(conversion::check_calibration_request(r));
  RESR_ASSIGN_OR_RETURN(const engine::ModelSource source, model_source(o));
  RESR_ASSIGN_OR_RETURN(engine::LoadedModel model, engine::load_model(source));
  quant::CalibrateReport report;
  RESR_ASSIGN_OR_RETURN(quant::CalibTable table, conversion::calibrate_to_file(model, r, &report));
  result.activation_assumed = model.activation_assumed;
  result.images_used = report.images_used;
  result.images_skipped = report.images_skipped;
  result.tiles = report.tiles;
  result.tensors = static_cast<int>(table.tensors.size());
  result.seconds = report.seconds;
  return result;
}

Result<ConvertResult> convert(const ConvertOptions& o, const std::function<bool(const std::string&)>& on_progress) {
  conversion::ConvertRequest r;
  r.output = o.output;
  r.precision = o.precision;
  r.storage = o.storage;
  r.calib = o.calib;
  r.qtable = o.qtable;
  r.asymmetric = o.asymmetric;
  r.input_scales = o.input_scales;
  r.scale_migration = o.scale_migration;
  r.target_psnr = o.target_psnr;
  r.images = o.images;
  r.search_tiles = o.search_tiles;
  r.search_tile = o.search_tile;
  StopOnFalse<const std::string&> progress(on_progress);  // the search reports on this thread
  r.on_progress = progress.reporter();
  r.stop = progress.stopper();
  RESR_RETURN_IF_ERROR(conversion::check_convert_request(r));
  RESR_ASSIGN_OR_RETURN(const engine::ModelSource source, model_source(o));
  RESR_ASSIGN_OR_RETURN(engine::LoadedModel model, engine::load_model(source));
  RESR_ASSIGN_OR_RETURN(conversion::ConvertReport rep, conversion::convert_model(model, r));
  ConvertResult result;
  result.files = rep.files;
  result.bytes = rep.bytes;
  result.architecture = rep.architecture;
  result.activation_assumed = model.activation_assumed;
  result.convs_fp32 = rep.precision.at(ir::Precision::kFp32).convs;
  result.convs_fp16 = rep.precision.at(ir::Precision::kFp16).convs;
  result.convs_int8 = rep.precision.at(ir::Precision::kInt8).convs;
  result.convs_fp8 = rep.precision.at(ir::Precision::kFp8).convs;
  result.quantized_share = rep.quantized_share;
  result.quality_psnr_db = rep.quality_psnr_db;
  result.quality_tiles = rep.quality_tiles;
  if (rep.search) {
    result.search_psnr_db = rep.search->psnr_db;
    result.target_reached = o.target_psnr <= 0 || rep.search->reached;
  }
  return result;
}

}  // namespace resr
