#include "convert/calibrate_to_file.h"

#include <filesystem>
#include <vector>

#include "convert/file_checks.h"
#include "core/file_names.h"
#include "image/image_files.h"
#include "quant/calib_table.h"
#include "quant/threshold_methods.h"

namespace resr::conversion {
namespace {
namespace fs = std::filesystem;

Result<std::vector<std::string>> input_images(const std::string& input) {
  std::error_code ec;
  if (fs::is_directory(input, ec)) return list_image_files(input);
  if (fs::is_regular_file(input, ec)) return std::vector<std::string>{input};
  return Status::error(input + ": no such file or folder");
}

}  // namespace

Status parse_calibration_method(const std::string& name, quant::Method* out) {
  if (!quant::parse_method(name, out))
    return Status::error("unknown method '" + name + "' (use minmax, percentile, kl or mse)");
  return ok_status();
}

Status check_calibration_request(const CalibrationRequest& r) {
  const quant::CalibrateOptions& o = r.options;
  // 100-1000 is the usual range; the tile choice is held in memory (1e9 took 20 GB before failing).
  if (o.num_tiles < 1 || o.num_tiles > quant::kMaxCalibrationTiles)
    return Status::error("--num (tiles) must be in [1, " + std::to_string(quant::kMaxCalibrationTiles) + "], got " +
                         std::to_string(o.num_tiles));
  if (o.tile < 8) return Status::error("--tile must be at least 8, got " + std::to_string(o.tile));
  if (!(o.method_options.percentile > 0 && o.method_options.percentile <= 100))
    return Status::error("--percentile must be in (0, 100], got " + std::to_string(o.method_options.percentile));
  if (r.percentile_given && o.method != quant::Method::kPercentile)
    return Status::error(std::string("--percentile applies to --method percentile, not ") +
                         quant::method_name(o.method));
  if (r.output.empty()) return Status::error("no calibration table file given");
  RESR_RETURN_IF_ERROR(check_writable_file(r.output));
  return input_images(r.images).status();
}

Result<quant::CalibTable> calibrate_to_file(const engine::LoadedModel& model, const CalibrationRequest& r,
                                            quant::CalibrateReport* report) {
  RESR_RETURN_IF_ERROR(check_calibration_request(r));
  RESR_ASSIGN_OR_RETURN(std::vector<std::string> images, input_images(r.images));
  // The table must not replace the model or an image it is made from.
  std::vector<std::string> inputs = model.files();
  inputs.insert(inputs.end(), images.begin(), images.end());
  RESR_RETURN_IF_ERROR(check_output_path(r.output, inputs));
  RESR_ASSIGN_OR_RETURN(quant::CalibTable table, quant::calibrate(model, images, r.options, report));
  RESR_RETURN_IF_ERROR(quant::write_calib_table(table, r.output));
  return table;
}

}  // namespace resr::conversion
