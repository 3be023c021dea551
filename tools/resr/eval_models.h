// resr eval --models REF MODEL... --dir DIR: the quality each model (a precision: an FP16 or INT8 .resr, another
// format) loses against a reference model (normally the FP32 one) over a folder of images.
//
// Every image is widened to 16 bits and upscaled by every model with the same tiling, so the outputs are compared
// at 1/65535 resolution (a PSNR ceiling near 100 dB) instead of after rounding to 8 bits, which would hide the
// differences this is meant to measure. PSNR and SSIM are reported on RGB and on BT.601 luma (Y), per image and
// as means per model, as text or JSON.
#pragma once

#include <string>
#include <vector>

namespace resr::cli {

struct ModelComparisonOptions {
  std::vector<std::string> models;  // first = reference; each a model file or a name in the model folder
  std::string dir;
  std::string backend = "cpu";
  int tile = 0;  // 0 = auto
  int crop = 0;  // border pixels the metrics ignore (--crop)
  bool json = false;
  bool bf16 = false;  // the models after the first multiply in bfloat16 on the CPU (engine::BackendOptions::cpu_bf16)
};

int run_model_comparison(const ModelComparisonOptions& o);

}  // namespace resr::cli
