// A real model quantized as `resr calibrate` + `resr convert --precision int8|fp8` would do it, calibrated on
// `tiles` tiles of `tile` pixels of one test image (the tests' small, fast stand-in for a calibration set).
#pragma once

#include <memory>
#include <string>

#include "engine/model_loader.h"
#include "quant/calibrate.h"
#include "quant/quantize_graph.h"

namespace resr::test {

inline Result<std::shared_ptr<ir::Graph>> quantized_on_image(const engine::LoadedModel& model,
                                                             const std::string& image_path,
                                                             const quant::QuantOptions& options, int tiles, int tile) {
  quant::CalibrateOptions o;
  o.num_tiles = tiles;
  o.tile = tile;
  RESR_ASSIGN_OR_RETURN(quant::CalibTable table, quant::calibrate(model, {image_path}, o));
  auto g = std::make_shared<ir::Graph>(*model.graph);
  RESR_RETURN_IF_ERROR(quant::quantize_graph(*g, table, options));
  return g;
}

}  // namespace resr::test
