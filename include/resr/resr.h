// resr: Real-ESRGAN super-resolution as a C++ library.
//
//   #include <resr/resr.h>
//   resr::UpscalerOptions opts;
//   opts.model = "x4fast";                         // a name in the model folder, or opts.model_path = "x.pth"
//   resr::Result<resr::Upscaler> up = resr::Upscaler::create(opts);
//   if (!up.ok()) { std::fprintf(stderr, "%s\n", up.status().message().c_str()); return 1; }
//   resr::Status st = up->upscale_file("in.jpg", "out.png");       // or up->upscale(image)
//
// Errors are one-line Status messages naming the file and the problem; nothing throws for bad input.
// Threads: an Upscaler is used by one thread at a time (make one per thread); its kernels use all cores.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "image/image.h"

namespace resr {

struct UpscalerOptions {
  std::string model;            // model name, looked up in model_dir
  std::string model_path;       // or a model file (.param, .pth, .safetensors, .onnx); wins over `model`
  std::string model_dir;        // default: $RESR_MODELS, else the models/ folder of the source tree
  std::string backend = "cpu";  // "cpu", "cuda" (NVIDIA GPU), "auto" (cuda when a GPU is present) or "ref"
  bool fp32 = false;            // on the GPU, run FP32 models in FP32 (default: FP16, as Real-ESRGAN does)
  double scale = 0;             // output scale; 0 = the model's
  int tile = 0;                 // tile core size; 0 = from the memory budget
  int tile_pad = -1;            // context pixels; -1 = the model's default
  int quality = 95;             // JPEG/WebP quality for upscale_file
};

class Upscaler {
 public:
  [[nodiscard]] static Result<Upscaler> create(const UpscalerOptions& options);
  Upscaler(Upscaler&&) noexcept;
  Upscaler& operator=(Upscaler&&) noexcept;
  ~Upscaler();

  // The model's architecture ("RRDBNet", "SRVGGNetCompact") and native scale.
  std::string architecture() const;
  int model_scale() const;

  // Upscales a decoded image (8/16-bit, 1-4 channels), keeping its layout and bit depth.
  [[nodiscard]] Result<Image> upscale(const Image& image);
  // Reads, upscales and writes (format from the output extension; written atomically).
  [[nodiscard]] Status upscale_file(const std::string& input, const std::string& output);

 private:
  struct Impl;
  explicit Upscaler(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace resr
