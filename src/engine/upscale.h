// Upscaling one image: tiles (bounded memory), any output scale, gray/alpha/16-bit, per-stage timing.
//
//   UpscaleSettings s;                  // defaults: auto tile from memory, the model's own context, x model scale
//   StageTimes times;
//   Result<Image> out = upscale_image(img, compiled_model, s, &times);
//
// - Tiles: cores partition the image; each tile sees `tile_pad` pixels of context (clamped at the border,
//   where the model's zero padding applies exactly as on the whole image) and only its core is kept. A pass
//   that runs out of memory is run again with half the tile (StageTimes::memory_retries).
// - Scale: as many model passes as needed to reach the target, then a Lanczos (down) resize to the exact
//   size; intermediates between passes are kept at 16 bits, never rounded to 8. The last pass's output is resized
//   as its rows of tiles come (RowResampler) and never held whole (with a bicubic alpha, that alpha alone is, at
//   the intermediate size: the resize weights colour by it).
// - On a backend with a pixel path (CUDA) and an image without alpha, tiles cross to the device as 8/16-bit
//   pixels and come back as output pixels: conversion, clamping and rounding happen there.
// - Channels and bit depth of the input are kept. Gray goes through the model as RGB; alpha goes through
//   the model as a gray image (AlphaMode::kModel) or is resized bicubically (kBicubic). Colours under fully
//   transparent pixels are bled from their visible neighbours first, so edges do not darken.
#pragma once

#include <functional>

#include "engine/compiled_model.h"
#include "image/image.h"
#include "ir/graph.h"
#include "models/summary.h"
#include "tiling/tile_plan.h"

namespace resr::engine {

enum class AlphaMode { kModel, kBicubic };

struct UpscaleSettings {
  int tile = 0;       // core size in input pixels; 0 = auto from tile_memory_bytes
  int tile_pad = -1;  // context pixels; -1 = default_tile_pad(model)
  // Working-memory budget for auto tiles; 0: the backend's (free device memory on the GPU), else
  // host_budget_bytes.
  std::uint64_t tile_memory_bytes = 0;
  // The host budget (host_memory.h), fixed once for a run by the caller (with the number of images it upscales
  // at once), so that the tiles, and with them the output, do not change from image to image or frame to frame
  // with the memory free at that moment; 0: host_tile_budget(available_host_memory(), 1) per image.
  std::uint64_t host_budget_bytes = 0;
  // Images upscaled at once on this backend's device (each with its own executable): a GPU's budget is split
  // between them (tile_memory_budget).
  int concurrent_images = 1;
  double scale = 0;           // output scale; 0 = the model's scale
  int width = 0, height = 0;  // exact output size (one alone keeps the aspect ratio); overrides scale
  AlphaMode alpha = AlphaMode::kModel;
  // Test-time augmentation (tta.h): each tile through the model in 8 orientations, averaged; 8x the inference.
  // Tiles then go through float tensors on the host, not a backend's pixel path.
  bool tta = false;
  // Progress, called after each tile; after an out-of-memory retry the count starts that pass again, with the
  // new total.
  std::function<void(int tiles_done, int tiles_total)> on_tile;
  // Asked before and after each tile (after on_tile): true ends the image with the error "stopped" (not retried).
  std::function<bool()> stop;
};

struct StageTimes {
  double preprocess_ms = 0, inference_ms = 0, postprocess_ms = 0;
  int tiles = 0, passes = 0;
  // Pixels fed to the model over pixels upscaled (first pass): the cost of the tiles' context, 1.0 = none.
  double context_overhead = 1.0;
  // Passes run again with half the tile after running out of memory: a failure the backend marks
  // Status::is_out_of_memory (CUDA allocations), or std::bad_alloc thrown on the calling thread (the CPU
  // kernels allocate what grows with the tile before their parallel regions; a throw inside one would still end
  // the process); an image still out of memory at 16-pixel tiles fails. Later passes start from the cores that
  // fit.
  int memory_retries = 0;
  // The tile core the first pass used (after any retry): what -t 0 chose, or the -t given, fitted to the image.
  int tile_w = 0, tile_h = 0;
};

// Context that makes tiles match the whole image for small receptive fields (x4fast: 34), capped for
// models that see much further (x4plus: ~348) where the cap trades exactness for speed.
int default_tile_pad(const models::ModelSummary& model);

// The tile grid that recomputes the least context while each tile's run fits `budget` bytes (the model's own
// working-memory figure, plus `held_tensor_pairs` RGB float tensors of the tile's input and output size that the
// caller keeps alive beside it: TTA's, alpha's) and the backend's largest run (CompiledModel::max_tile_pixels);
// the whole image as one tile when it fits.
[[nodiscard]] Result<tiling::TileGrid> auto_tile_grid(CompiledModel& model, int width, int height, int pad,
                                                      std::uint64_t budget, int held_tensor_pairs = 0);

// Output size for the settings (errors: bad scale, target too large, or a model output on the way past the limit:
// model_reach).
[[nodiscard]] Result<std::pair<int, int>> output_size(int width, int height, const models::ModelSummary& model,
                                                      const UpscaleSettings& s);

// How an image of width x height reaches target_w x target_h through an x`m` model: its passes (model runs, then a
// resize) and the model's last output size. Errors: a target more passes than allowed (6) cannot reach, a model
// output past the output limit ("intermediate size ... exceeds the limit").
struct ModelReach {
  int passes = 1;
  long long width = 0, height = 0;
};
[[nodiscard]] Result<ModelReach> model_reach(int width, int height, int target_w, int target_h, int m);

// For an image's header, before it is decoded (image/codec.h SizeCheck): ok when the image stored as
// `stored_width` x `stored_height` has an output size within the limits upright or turned (its orientation, still
// to be applied, may swap the sides); else output_size's error.
[[nodiscard]] Status check_stored_size(int stored_width, int stored_height, const models::ModelSummary& model,
                                       const UpscaleSettings& settings);

[[nodiscard]] Result<Image> upscale_image(const Image& input, CompiledModel& model, const UpscaleSettings& settings,
                                          StageTimes* times = nullptr);

}  // namespace resr::engine
