// Calibration as `resr calibrate` and the library's resr::calibrate run it: the model's FP32 activations on seeded
// tiles of sample images (a folder, or one image), thresholds by the chosen method (quant/calibrate.h), and the
// table written to a file for conversion to INT8 / FP8 (convert/model_convert.h).
//
//   CalibrationRequest r{"photos/", "x4fast.calib", {}};
//   RESR_RETURN_IF_ERROR(check_calibration_request(r));       // before loading the model
//   RESR_ASSIGN_OR_RETURN(quant::CalibTable t, calibrate_to_file(model, r, &report));
#pragma once

#include <string>

#include "engine/model_loader.h"
#include "quant/calibrate.h"

namespace resr::conversion {

struct CalibrationRequest {
  std::string images;  // a folder of images (.png, .jpg, .webp), or one image
  std::string output;  // the table to write
  quant::CalibrateOptions options;
  // The caller named a percentile (the CLI's --percentile; the library's a value other than the default): with
  // another method it would be ignored, so it is refused.
  bool percentile_given = false;
};

// `name` as a threshold method (minmax, percentile, kl or mse); error: "unknown method 'x' (use ...)".
[[nodiscard]] Status parse_calibration_method(const std::string& name, quant::Method* out);

// What can be checked before the long run: the images exist, the table's folder is writable and the path is no
// folder, the options are in range and apply to the method.
[[nodiscard]] Status check_calibration_request(const CalibrationRequest& r);

[[nodiscard]] Result<quant::CalibTable> calibrate_to_file(const engine::LoadedModel& model, const CalibrationRequest& r,
                                                          quant::CalibrateReport* report = nullptr);

}  // namespace resr::conversion
