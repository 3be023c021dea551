// CompiledModel: a loaded model compiled for one backend, ready to upscale tiles.
//
// When the graph has a resolution cut (ir::find_resolution_cut: x4plus's body output before upsampling),
// it is compiled as a head and a tail: run_tile() runs the head on the whole tile and the tail on small
// sub-tiles with a halo of the tail's receptive field, so memory per input pixel is that of the
// low-resolution body (about 1.5 KB for x4plus instead of 9 KB) while the output is the same. On the CUDA
// backend the graph stays whole: device memory holds 1080p inputs, and small sub-tiles would starve the GPU.
#pragma once

#include <algorithm>
#include <memory>
#include <string_view>
#include <utility>

#include "backends/executable.h"
#include "engine/backend_factory.h"
#include "engine/model_loader.h"

namespace resr::engine {

class CompiledModel {
 public:
  // split: allow the head/tail split (off = one executable for the whole graph); sub_tile: tail sub-tile
  // core size (0 = default); options: how the backend may run it (backend_factory.h).
  [[nodiscard]] static Result<CompiledModel> compile(const LoadedModel& model, std::string_view backend,
                                                     bool split = true, int sub_tile = 0,
                                                     const BackendOptions& options = {});
  [[nodiscard]] static Result<CompiledModel> compile(const LoadedModel& model, std::string_view backend,
                                                     const BackendOptions& options) {
    return compile(model, backend, true, 0, options);
  }

  // One executable made elsewhere for the whole graph (a wrapped or instrumented backend).
  static CompiledModel from_executable(models::ModelSummary summary, std::unique_ptr<Executable> whole) {
    CompiledModel m;
    m.summary_ = std::move(summary);
    m.whole_ = std::move(whole);
    return m;
  }

  const models::ModelSummary& summary() const { return summary_; }
  std::string backend_name() const { return whole_ ? whole_->backend_name() : head_->backend_name(); }
  bool is_split() const { return head_ != nullptr; }

  // The model output for a 3 x h x w input (unclamped, 3 x sh x sw).
  [[nodiscard]] Result<Tensor> run_tile(const Tensor& input);
  // Working memory of run_tile on an h x w input.
  [[nodiscard]] Result<std::uint64_t> working_bytes(int h, int w);
  // The device pixel path (Executable::run_pixels) when the backend has one and the model takes any size (no
  // padding to a multiple): 8/16-bit pixels in, the output window's pixels out.
  bool has_pixel_path() const {
    return whole_ && whole_->has_pixel_path() && std::max(1, summary_.input_multiple) == 1;
  }
  [[nodiscard]] Status run_pixels(const PixelRect& in, int crop_x, int crop_y, const PixelWindow& out,
                                  PixelRunTimes* times) {
    return whole_->run_pixels(in, crop_x, crop_y, out, times);
  }
  // The backend's memory budget for automatic tiles (free device memory), 0 when it has none.
  std::uint64_t memory_budget_hint() { return whole_ ? whole_->memory_budget_hint() : 0; }
  // The most input pixels of one tile (context included) the backend can run whatever the memory; 0: no limit.
  std::uint64_t max_tile_pixels() { return whole_ ? whole_->max_run_pixels() : 0; }
  // Whether tiles should all take one input size (Executable::plans_per_input_size).
  bool wants_uniform_tiles() const { return whole_ && whole_->plans_per_input_size(); }
  // The executables, for per-step timing (head then tail when split).
  std::vector<Executable*> executables();

 private:
  models::ModelSummary summary_;
  std::unique_ptr<Executable> whole_, head_, tail_;
  int head_channels_ = 0;
  int tail_halo_ = 0;  // head-output pixels of context each tail sub-tile needs
  int sub_tile_ = 0;   // tail sub-tile core size
};

}  // namespace resr::engine
