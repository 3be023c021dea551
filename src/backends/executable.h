// Executable: a model compiled for one backend. Compilation (kernel choice, weight packing) happens when it
// is made; run() only checks the input shape and executes.
//
//   std::unique_ptr<Executable> exe = ...;              // ref::compile(graph) or cpu::compile(graph)
//   Result<Tensor> out = exe->run(rgb);                 // rgb: 3 x H x W in [0,1]; out: 3 x sH x sW, unclamped
//
// Threads: run() is not reentrant; use one Executable per thread that runs concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace resr {

// Time spent in one step of a run (a fused step is named after its first node), summed over the runs since
// timing was enabled.
struct StepTime {
  std::string name;    // layer name in the model file
  std::string kernel;  // kernel or op that ran
  std::string shape;   // "64->32 @128x128" for convolutions, the output size otherwise
  double ms = 0;
  double macs = 0;  // multiply-adds per run (convolutions), for effective throughput
  int runs = 0;
};

// One activation tensor inside a backend's buffers, valid only during the observer call:
// element (c, y, x) is data[c * channel_stride + y * row_stride + x].
struct ActivationView {
  const float* data = nullptr;
  int c = 0, h = 0, w = 0;
  std::size_t channel_stride = 0, row_stride = 0;
  float at(int ch, int y, int x) const {
    return data[std::size_t(ch) * channel_stride + std::size_t(y) * row_stride + x];
  }
};

// Called with the graph value id of every Conv2d's input, just before that conv runs (calibration).
using ActivationObserver = std::function<void(int value, const ActivationView& view)>;

// 8/16-bit interleaved pixels in host memory: `height` rows `row_bytes` apart, each `width` pixels of
// `channels` samples (16-bit samples in host byte order). PixelRect is read, PixelWindow written.
template <class Byte>
struct PixelRows {
  Byte* data = nullptr;
  int width = 0, height = 0, channels = 0, bits = 8;
  std::size_t row_bytes = 0;
};
using PixelRect = PixelRows<const std::uint8_t>;
using PixelWindow = PixelRows<std::uint8_t>;

// Where a pixel run's time went (device-side pre/post-processing includes the copies).
struct PixelRunTimes {
  double preprocess_ms = 0, inference_ms = 0, postprocess_ms = 0;
};

class Executable {
 public:
  virtual ~Executable() = default;
  [[nodiscard]] virtual Result<Tensor> run(const Tensor& input) = 0;
  // Bytes of working memory a run on an h x w input takes (activations, input and output tensors; not the
  // weights). Used to size tiles to a memory budget.
  [[nodiscard]] virtual Result<std::uint64_t> working_bytes(int h, int w) = 0;
  virtual std::string backend_name() const = 0;
  // Per-step timing (resr bench --layers); backends without it return nothing.
  virtual void set_step_timing(bool /*on*/) {}
  virtual std::vector<StepTime> step_times() const { return {}; }
  // Activation observation (resr calibrate); an empty function turns it off. Every backend supports it.
  virtual void set_observer(ActivationObserver observer) = 0;

  // The pixel path of backends that read and write pixels themselves (CUDA on the device, the CPU into and out of
  // its planes): the model on `in` (1 or 3 channels; gray is replicated), and the out.width x out.height window of
  // its output at (crop_x, crop_y) written to `out` (1 or 3 channels, its own bit depth), clamped and rounded as
  // engine::paste_tensor_region does. No float image of either end: on the GPU the pixels cross to the device as
  // they are (8 or 16 bits).
  virtual bool has_pixel_path() const { return false; }
  [[nodiscard]] virtual Status run_pixels(const PixelRect& /*in*/, int /*crop_x*/, int /*crop_y*/,
                                          const PixelWindow& /*out*/, PixelRunTimes* /*times*/) {
    return Status::error(backend_name() + " has no pixel path");
  }
  // GPU backends: the device time of the last run's model steps, without the copies and conversions at either
  // end (what a framework's forward() timed with CUDA events covers); < 0 where not measured.
  virtual double last_device_ms() const { return -1.0; }
  // The working-memory budget the backend suggests for automatic tiles (free device memory); 0: none, the
  // caller's host budget applies.
  virtual std::uint64_t memory_budget_hint() { return 0; }
  // The most input pixels (h * w) one run can take whatever the memory, for backends whose libraries index
  // tensors in 32 bits (cuDNN); 0: no such limit. A run above it fails with Status::out_of_memory.
  virtual std::uint64_t max_run_pixels() { return 0; }
  // Whether a run of a new input size costs far more than one of a size seen before (the CUDA backend plans per
  // size: arena, algorithm search, fused graphs, CUDA graph): tiled images then take tiles of one input size.
  virtual bool plans_per_input_size() const { return false; }
};

}  // namespace resr
