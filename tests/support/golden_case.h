// One golden case of tests/data: the real model (from the model folder), its input <stem>.in.png as a tensor,
// and the independent float32 implementation's output <stem>.out.npy.
#pragma once

#include <string>

#include "core/status.h"
#include "core/tensor.h"
#include "engine/model_loader.h"
#include "image/codec.h"
#include "image/convert.h"
#include "support/npy.h"
#include "support/paths.h"

namespace resr::test {

struct GoldenData {
  engine::LoadedModel model;
  Tensor input;
  NpyArray golden;
};

inline Result<GoldenData> load_golden_case(const std::string& model, const std::string& stem) {
  auto loaded = engine::load_model({model_dir(), model});
  if (!loaded.ok()) return Status::error(loaded.status().message() + " (run scripts/setup.sh to fetch the models)");
  auto image = read_image_file(data_path(stem + ".in.png"));
  if (!image.ok()) return image.status();
  auto golden = read_npy_f32(data_path(stem + ".out.npy"));
  if (!golden.has_value()) return Status::error(data_path(stem + ".out.npy") + ": cannot read");
  return GoldenData{std::move(*loaded), image_rgb_to_tensor(*image), std::move(*golden)};
}

}  // namespace resr::test
