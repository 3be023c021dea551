#include "engine/upscale.h"
#include "core/elapsed.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "core/populate_pages.h"
#include "engine/host_memory.h"
#include "engine/tile_io.h"
#include "engine/tta.h"
#include "image/alpha.h"
#include "image/codec.h"
#include "image/metadata.h"
#include "image/resize.h"
#include "tiling/tile_plan.h"

namespace resr::engine {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxTilePad = 48;
constexpr int kMinRetryTile = 16;  // out-of-memory retries halve tiles down to this core size

// A zeroed image of `in`'s channels, `w` x `h` at `bits`, without its metadata.
Image blank_like(const Image& in, int w, int h, int bits) {
  Image out;
  out.width = w;
  out.height = h;
  out.channels = in.channels;
  out.bits = bits;
  resize_populated(out.bytes, out.sample_count() * (bits / 8));  // zeros, without a fault per page
  return out;
}

// How a pass runs tiles under TTA: whether the next tile's 8 runs start with the transposed orientations. Each
// TTA ends on the other shape it began with, so flipping this after each keeps runs of one input shape together
// (a backend that plans per shape, CUDA, then re-plans once per non-square tile instead of twice).
struct TtaState {
  bool on = false;
  bool transposed_first = false;
};

// The model on one tile tensor, in 8 orientations when tta.on.
Result<Tensor> run_model(CompiledModel& model, const Tensor& x, TtaState& tta) {
  if (!tta.on) return model.run_tile(x);
  const bool first = tta.transposed_first;
  tta.transposed_first = !first;
  return run_with_tta(
      x, [&model](const Tensor& t) { return model.run_tile(t); }, first);
}

// A tile through float tensors on the host: convert, run, clamp / round / paste (`out` holds output rows from
// `out_y0` on).
Status run_tile_tensors(const Image& in, CompiledModel& model, int scale, const tiling::Tile& t, bool alpha_by_model,
                        TtaState& tta, Image& out, int out_y0, StageTimes& times) {
  auto t0 = Clock::now();
  Tensor rgb_in = image_region_to_tensor(in, t.input);
  times.preprocess_ms += ms_since(t0);
  t0 = Clock::now();
  RESR_ASSIGN_OR_RETURN(Tensor rgb, run_model(model, rgb_in, tta));
  Tensor alpha;
  if (alpha_by_model && in.has_alpha()) {
    RESR_ASSIGN_OR_RETURN(alpha, run_model(model, image_region_to_tensor(in, t.input, /*alpha_as_rgb=*/true), tta));
  }
  times.inference_ms += ms_since(t0);
  t0 = Clock::now();
  const tiling::Rect crop = t.crop_in_output(scale);
  if (rgb.h() != t.input.h * scale || rgb.w() != t.input.w * scale)
    return Status::error("model output size does not match its scale");
  paste_tensor_region(rgb, alpha.numel() > 0 ? &alpha : nullptr, crop, out, t.core.x * scale,
                      t.core.y * scale - out_y0);
  times.postprocess_ms += ms_since(t0);
  return ok_status();
}

// A tile through the backend's pixel path: the tile's pixels in, the core's output pixels straight into `out`
// (which holds output rows from `out_y0` on).
Status run_tile_pixels(const Image& in, CompiledModel& model, int scale, const tiling::Tile& t, Image& out, int out_y0,
                       StageTimes& times) {
  const std::size_t in_px = std::size_t(in.channels) * (in.bits / 8),
                    out_px = std::size_t(out.channels) * (out.bits / 8);
  PixelRect src;
  src.data = in.bytes.data() + (std::size_t(t.input.y) * in.width + t.input.x) * in_px;
  src.width = t.input.w;
  src.height = t.input.h;
  src.channels = in.channels;
  src.bits = in.bits;
  src.row_bytes = std::size_t(in.width) * in_px;
  const tiling::Rect crop = t.crop_in_output(scale);
  PixelWindow dst;
  dst.data =
      out.bytes.data() + (std::size_t(t.core.y * scale - out_y0) * out.width + std::size_t(t.core.x) * scale) * out_px;
  dst.width = crop.w;
  dst.height = crop.h;
  dst.channels = out.channels;
  dst.bits = out.bits;
  dst.row_bytes = std::size_t(out.width) * out_px;
  PixelRunTimes pt;
  RESR_RETURN_IF_ERROR(model.run_pixels(src, crop.x, crop.y, dst, &pt));
  times.preprocess_ms += pt.preprocess_ms;
  times.inference_ms += pt.inference_ms;
  times.postprocess_ms += pt.postprocess_ms;
  return ok_status();
}

// One tile either way; an allocation that fails is reported as out of memory, so the pass can be retried with
// smaller tiles.
Status run_tile(const Image& in, CompiledModel& model, int scale, const tiling::Tile& t, bool pixel_path,
                bool alpha_by_model, TtaState& tta, Image& out, int out_y0, StageTimes& times) {
  try {
    if (pixel_path) return run_tile_pixels(in, model, scale, t, out, out_y0, times);
    return run_tile_tensors(in, model, scale, t, alpha_by_model, tta, out, out_y0, times);
  } catch (const std::bad_alloc&) {
    return Status::out_of_memory("out of memory on a " + std::to_string(t.input.w) + "x" + std::to_string(t.input.h) +
                                 " tile");
  }
}

// The alpha channel of `input` as a one-channel image of its size and bits.
Image alpha_plane(const Image& input) {
  Image alpha;
  alpha.width = input.width;
  alpha.height = input.height;
  alpha.channels = 1;
  alpha.bits = input.bits;
  const int bps = input.bits / 8;
  alpha.bytes.resize(std::size_t(input.width) * input.height * bps);
  for (std::size_t i = 0; i < std::size_t(input.width) * input.height; ++i)
    std::memcpy(alpha.bytes.data() + i * bps, input.bytes.data() + (i * input.channels + input.channels - 1) * bps,
                bps);
  return alpha;
}

// Replaces the alpha channel of rows [0, rows) of `image` with rows [first, first + rows) of `alpha` (one channel,
// the same width and bits).
void set_alpha_rows(Image& image, int rows, const Image& alpha, int first) {
  const int bps = image.bits / 8;
  const std::size_t width = std::size_t(image.width);
  for (std::size_t i = 0; i < width * std::size_t(rows); ++i)
    std::memcpy(image.bytes.data() + (i * image.channels + image.channels - 1) * bps,
                alpha.bytes.data() + (std::size_t(first) * width + i) * bps, bps);
}
void set_alpha(Image& image, const Image& alpha) {
  set_alpha_rows(image, image.height, alpha, 0);
}

// One model pass over the whole image, tile by tile, into an image of `out_bits` carrying the input's metadata.
// Given `resample`, the output is held one row of tiles at a time instead (no metadata), each pushed to it once its
// tiles are in (its alpha first set from `band_alpha`, an alpha plane of the output's size, when given), and an
// empty image is returned.
Result<Image> run_pass(const Image& in, CompiledModel& model, int scale, tiling::TileGrid grid, int pad, int out_bits,
                       bool alpha_by_model, const UpscaleSettings& s, StageTimes& times, int& tiles_done,
                       int tiles_total, RowResampler* resample, const Image* band_alpha) {
  // Aligned to the model's pixel-unshuffle factor: a tile's pixels are then grouped as the whole image's are. Of one
  // input size where a new size costs a plan (the GPU); elsewhere the edge tiles' extra context would cost time.
  const int align = std::max(1, model.summary().input_multiple);
  RESR_ASSIGN_OR_RETURN(tiling::TilePlan plan, tiling::plan_tiles(in.width, in.height, grid.tile_w, grid.tile_h, pad,
                                                                  align, model.wants_uniform_tiles()));
  int held_rows = in.height;  // input rows whose output `out` holds: all, or the tallest row of tiles
  if (resample != nullptr) {
    held_rows = 0;
    for (const tiling::Tile& t : plan.tiles) held_rows = std::max(held_rows, t.core.h);
  }
  Image out;
  try {
    out = blank_like(in, in.width * scale, held_rows * scale, out_bits);
  } catch (const std::bad_alloc&) {  // smaller tiles would not help: not marked out of memory
    return Status::error("out of memory for the " + std::to_string(in.width * scale) + "x" +
                         std::to_string(held_rows * scale) + (resample != nullptr ? " band of the" : "") +
                         " output image");
  }
  // Streaming: `out` holds output rows [band_y, band_y + band_rows), those of the row of tiles being run.
  int band_y = 0, band_rows = 0;
  auto push_band = [&] {
    const auto t0 = Clock::now();
    if (band_alpha != nullptr) set_alpha_rows(out, band_rows, *band_alpha, band_y);
    resample->push(out, 0, band_rows);
    times.postprocess_ms += ms_since(t0);
  };
  double model_pixels = 0;
  const bool first_pass = tiles_done == 0;
  const bool pixel_path = model.has_pixel_path() && !in.has_alpha() && !s.tta;
  TtaState tta{s.tta, false};
  for (const tiling::Tile& t : plan.tiles) {
    if (s.stop && s.stop()) return Status::stopped("stopped");
    if (resample != nullptr) {
      if (t.core.y * scale != band_y) {  // plan_tiles gives the tiles row by row
        push_band();
        band_y = t.core.y * scale;
      }
      band_rows = t.core.h * scale;
    }
    RESR_RETURN_IF_ERROR(run_tile(in, model, scale, t, pixel_path, alpha_by_model, tta, out, band_y, times));
    ++times.tiles;
    model_pixels += double(t.input.w) * t.input.h;
    if (s.on_tile) s.on_tile(++tiles_done, tiles_total);
    if (s.stop && s.stop()) return Status::stopped("stopped");
  }
  if (first_pass) times.context_overhead = model_pixels / (double(in.width) * in.height);
  if (resample != nullptr) {
    push_band();
    return Image{};
  }
  carry_metadata(in, out);
  return out;
}

int tile_count(int w, int h, const tiling::TileGrid& grid) {
  return ((w + grid.tile_w - 1) / grid.tile_w) * ((h + grid.tile_h - 1) / grid.tile_h);
}

// The core the tile plan really gives an axis: `extent` cut into ceil(extent / tile) balanced parts.
int used_core(int tile, int extent) {
  const int parts = (extent + tile - 1) / tile;
  return (extent + parts - 1) / parts;
}

// The grid for a retry after running out of memory: half the core each axis really gets, not below
// kMinRetryTile; the same cores when they cannot shrink.
tiling::TileGrid smaller_grid(const tiling::TileGrid& grid, int w, int h) {
  auto half = [](int tile, int extent) {
    const int used = used_core(tile, extent);
    return used <= kMinRetryTile ? used : std::max(kMinRetryTile, (used + 1) / 2);
  };
  return tiling::TileGrid{half(grid.tile_w, w), half(grid.tile_h, h)};
}

}  // namespace

int default_tile_pad(const models::ModelSummary& model) {
  return std::min(kMaxTilePad, static_cast<int>(std::ceil(model.receptive_radius)));
}

Result<tiling::TileGrid> auto_tile_grid(CompiledModel& model, int width, int height, int pad, std::uint64_t budget,
                                        int held_tensor_pairs) {
  // Working memory is affine in the tile's pixel count: fit it from two sizes, pick the grid, then check the
  // chosen tile for real and tighten if the fit was optimistic. Tensors the run holds beside the model's own are
  // RGB floats of the tile's input and output size.
  const int scale = model.summary().scale;
  const auto working = [&](int h, int w) -> Result<std::uint64_t> {
    RESR_ASSIGN_OR_RETURN(std::uint64_t own, model.working_bytes(h, w));
    const std::uint64_t pair = std::uint64_t(h) * std::uint64_t(w) * (1 + std::uint64_t(scale) * scale) * 3 * 4;
    return own + std::uint64_t(std::max(0, held_tensor_pairs)) * pair;
  };
  RESR_ASSIGN_OR_RETURN(std::uint64_t small, working(64, 64));
  RESR_ASSIGN_OR_RETURN(std::uint64_t large, working(128, 128));
  const double per_pixel = double(large - small) / (128.0 * 128.0 - 64.0 * 64.0);
  const double fixed = double(small) - per_pixel * 64.0 * 64.0;
  double target = double(budget);
  const std::uint64_t max_pixels = model.max_tile_pixels();          // 0: none
  const int multiple = std::max(1, model.summary().input_multiple);  // run_tile pads to it
  auto padded = [multiple](int v) {
    const std::uint64_t m = std::uint64_t(multiple);
    return (std::uint64_t(v) + m - 1) / m * m;
  };
  for (int attempt = 0; attempt < 4; ++attempt) {
    auto fits = [&](int w, int h) {
      if (max_pixels != 0 && padded(w) * padded(h) > max_pixels) return false;
      return fixed + per_pixel * double(w) * double(h) <= target;
    };
    // Alignment (plan_tiles) grows an input by up to multiple - 1 pixels a side: counted as context.
    const int grown_pad = pad + multiple - 1;
    auto chosen = tiling::choose_tile_grid(width, height, grown_pad, fits);
    if (!chosen.ok()) {
      // Name what the smallest tile (one pixel and its context) needs, so the user knows what budget would do.
      // The smallest tile the grid can have: a one-pixel core high, and as narrow as the most columns allow.
      const int narrowest = (width + tiling::kMaxTileColumns - 1) / tiling::kMaxTileColumns;
      const int side_w = std::min(width, narrowest + 2 * grown_pad), side_h = std::min(height, 1 + 2 * grown_pad);
      RESR_ASSIGN_OR_RETURN(std::uint64_t least, working(side_h, side_w));
      if (least <= budget) {
        // The affine fit overshoots near the budget (its fixed part is from 64- and 128-pixel tiles): choose with
        // the exact working memory instead, slower but rare ("no tile size fits" for x4plus on 37x29 in 16 MiB),
        // checked with the largest input the plan really gives a tile (used_core), a margin at a time.
        for (double margin = 1.0; margin > 0.5; margin -= 0.05) {
          auto exact_fits = [&](int w, int h) {
            if (max_pixels != 0 && padded(w) * padded(h) > max_pixels) return false;
            const Result<std::uint64_t> need = working(h, w);
            return need.ok() && double(*need) <= double(budget) * margin;
          };
          auto exact = tiling::choose_tile_grid(width, height, grown_pad, exact_fits);
          if (!exact.ok()) break;
          const int exact_w = std::min(width, used_core(exact->tile_w, width) + 2 * grown_pad);
          const int exact_h = std::min(height, used_core(exact->tile_h, height) + 2 * grown_pad);
          RESR_ASSIGN_OR_RETURN(std::uint64_t need, working(exact_h, exact_w));
          if (need <= budget) return exact;
        }
        if (max_pixels != 0) return chosen.status();  // the backend's largest run
      }
      return Status::error("no tile size fits the memory budget of " + std::to_string(budget >> 20) +
                           " MiB: the smallest tile (" + std::to_string(side_w) + "x" + std::to_string(side_h) +
                           " input, context included) needs " + std::to_string((least + (1 << 20) - 1) >> 20) + " MiB");
    }
    const tiling::TileGrid grid = chosen.value();
    const int in_w = std::min(width, grid.tile_w + 2 * grown_pad), in_h = std::min(height, grid.tile_h + 2 * grown_pad);
    RESR_ASSIGN_OR_RETURN(std::uint64_t need, working(in_h, in_w));
    if (need <= budget) return grid;
    target *= double(budget) / double(need) * 0.95;
  }
  return Status::error("cannot find a tile size within the memory budget");
}

Result<std::pair<int, int>> output_size(int width, int height, const models::ModelSummary& model,
                                        const UpscaleSettings& s) {
  double w = 0, h = 0;
  if (s.width > 0 || s.height > 0) {
    w = s.width > 0 ? s.width : double(width) * s.height / height;
    h = s.height > 0 ? s.height : double(height) * s.width / width;
  } else {
    const double scale = s.scale > 0 || std::isnan(s.scale) ? s.scale : model.scale;  // NaN: refused, not defaulted
    if (!(scale > 0) || scale > 64)
      return Status::error("output scale must be in (0, 64], got " + std::to_string(scale));
    w = width * scale;
    h = height * scale;
  }
  const long long ow = std::max(1LL, std::llround(w)), oh = std::max(1LL, std::llround(h));
  // (The model's own output, before a resize, is checked too, below: found at the header or before a video's
  // encoder opens, not at the first frame.)
  // The limit passed named: a side, or the pixels in all.
  if (ow > kMaxImageSide || oh > kMaxImageSide)
    return Status::error("output size " + std::to_string(ow) + "x" + std::to_string(oh) + " exceeds the limit of " +
                         std::to_string(kMaxImageSide) + " pixels per side");
  if (ow * oh > kMaxOutputPixels)
    return Status::error("output size " + std::to_string(ow) + "x" + std::to_string(oh) + " (" +
                         std::to_string(ow * oh) + " pixels) exceeds the limit of " + std::to_string(kMaxOutputPixels) +
                         " pixels");
  RESR_RETURN_IF_ERROR(model_reach(width, height, int(ow), int(oh), model.scale).status());
  return std::make_pair(static_cast<int>(ow), static_cast<int>(oh));
}

Result<ModelReach> model_reach(int width, int height, int target_w, int target_h, int m) {
  // Passes: enough model applications to reach the target on both axes (at least one). An x1 model (a
  // restoration model) runs once, and the resize below makes any larger size, as Real-ESRGAN's outscale does.
  // At most 6: what an x2 model needs for the largest --scale (64). An output of another shape stops short of
  // more than m^2 times its own pixels, which the resize would only throw away: 32x24 to 16384x64 ran x4fast to
  // 32768x24576 (5 minutes for 2 frames); it goes to 2048x1536, and the resize makes the rest.
  constexpr int kMaxPasses = 6;
  ModelReach r{1, 1LL * width * m, 1LL * height * m};
  bool stopped_at_area = false;
  while (m > 1 && (r.width < target_w || r.height < target_h) && r.passes < kMaxPasses) {
    stopped_at_area = double(r.width) * r.height > double(target_w) * target_h;  // the next: over m^2 times
    if (stopped_at_area) break;
    ++r.passes;
    r.width *= m;
    r.height *= m;
  }
  if (m > 1 && !stopped_at_area && (r.width < target_w || r.height < target_h))
    return Status::error("output " + std::to_string(target_w) + "x" + std::to_string(target_h) + " is more than " +
                         std::to_string(r.passes) + " passes of the x" + std::to_string(m) + " model can reach from " +
                         std::to_string(width) + "x" + std::to_string(height));
  if (r.width * r.height > kMaxOutputPixels)
    return Status::error("intermediate size " + std::to_string(r.width) + "x" + std::to_string(r.height) +
                         " (the model's output, before the resize to " + std::to_string(target_w) + "x" +
                         std::to_string(target_h) + ") exceeds the limit of " + std::to_string(kMaxOutputPixels) +
                         " pixels");
  return r;
}

Status check_stored_size(int stored_width, int stored_height, const models::ModelSummary& model,
                         const UpscaleSettings& settings) {
  Result<std::pair<int, int>> as_stored = output_size(stored_width, stored_height, model, settings);
  if (as_stored.ok() || output_size(stored_height, stored_width, model, settings).ok()) return ok_status();
  return as_stored.status();
}

Result<Image> upscale_image(const Image& input, CompiledModel& compiled, const UpscaleSettings& settings,
                            StageTimes* times_out) {
  const models::ModelSummary& model = compiled.summary();
  StageTimes times;
  RESR_ASSIGN_OR_RETURN(auto target, output_size(input.width, input.height, model, settings));
  const auto [target_w, target_h] = target;
  RESR_ASSIGN_OR_RETURN(const ModelReach reach,
                        model_reach(input.width, input.height, target_w, target_h, model.scale));
  const int m = model.scale, passes = reach.passes;
  const long long reach_w = reach.width, reach_h = reach.height;
  const int pad = settings.tile_pad >= 0 ? settings.tile_pad : default_tile_pad(model);
  const bool needs_resize = reach_w != target_w || reach_h != target_h;

  auto t0 = Clock::now();
  Image current = input;
  if (current.has_alpha()) bleed_transparent_colors(current);
  times.preprocess_ms += ms_since(t0);
  const bool alpha_by_model = settings.alpha == AlphaMode::kModel;

  std::uint64_t budget = settings.tile_memory_bytes;
  if (budget == 0) {
    const std::uint64_t host =
        settings.host_budget_bytes != 0 ? settings.host_budget_bytes : host_tile_budget(available_host_memory(), 1);
    budget = tile_memory_budget(0, host, compiled.memory_budget_hint(), settings.tta, settings.concurrent_images);
  }
  // Beside the model's run, a tile holds TTA's sum and its oriented input, and the RGB result (and input) while
  // the model upscales the alpha channel.
  const int held_tensor_pairs = (settings.tta ? 1 : 0) + (alpha_by_model && current.has_alpha() ? 1 : 0);
  // Tiles per pass, for progress.
  std::vector<tiling::TileGrid> grids;
  int tiles_total = 0;
  {
    int w = current.width, h = current.height;
    for (int p = 0; p < passes; ++p) {
      tiling::TileGrid grid{settings.tile, settings.tile};
      if (settings.tile <= 0) {
        RESR_ASSIGN_OR_RETURN(grid, auto_tile_grid(compiled, w, h, pad, budget, held_tensor_pairs));
      }
      grids.push_back(grid);
      tiles_total += tile_count(w, h, grid);
      w *= m;
      h *= m;
    }
  }
  int tiles_done = 0;
  // The last pass's output goes to the resize a row of tiles at a time and is never whole (an 8K photo to -s 2
  // through an x4 model: 3.2 GB of 16-bit intermediate less). Under --alpha bicubic each row of tiles first gets
  // its alpha from the original's resized to the intermediate size (one 16-bit plane, a quarter of the RGBA
  // intermediate): the resize weights colour by alpha, and the passes carried zeros.
  const bool stream_resize = needs_resize;
  const bool bicubic_alpha = input.has_alpha() && !alpha_by_model;
  Image intermediate_alpha;
  Image resized;
  if (stream_resize) {
    try {
      resized = blank_like(current, target_w, target_h, input.bits);
      carry_metadata(current, resized);
    } catch (const std::bad_alloc&) {
      return Status::error("out of memory for the " + std::to_string(target_w) + "x" + std::to_string(target_h) +
                           " output image");
    }
  }
  // After a pass ran out of memory: the largest cores that then fit. A tile's working memory depends on its
  // input size (core plus context), not on the pass, so later passes start from them rather than fail again.
  int fit_w = 0, fit_h = 0;
  for (int p = 0; p < passes; ++p) {
    const bool last = p + 1 == passes;
    if (fit_w > 0) {
      const tiling::TileGrid capped{std::min(grids[p].tile_w, fit_w), std::min(grids[p].tile_h, fit_h)};
      tiles_total +=
          tile_count(current.width, current.height, capped) - tile_count(current.width, current.height, grids[p]);
      grids[p] = capped;
    }
    const int bits = (last && !needs_resize) ? input.bits : 16;  // never round to 8 bits between passes
    // Out of memory (another process took the GPU's, or the estimate was short): the pass again with smaller
    // tiles, from its start, so no tile of the failed attempt is kept.
    const int done_before = tiles_done, counted_before = times.tiles;
    const int pass_w = current.width, pass_h = current.height;
    if (last && stream_resize && bicubic_alpha) {
      const auto t_alpha = Clock::now();
      intermediate_alpha =
          resize_image(alpha_plane(input), current.width * m, current.height * m, ResizeFilter::kBicubic, bits);
      times.postprocess_ms += ms_since(t_alpha);
    }
    for (;;) {
      std::unique_ptr<RowResampler> resampler;  // a new one for each try: it starts from the top
      if (last && stream_resize)
        resampler =
            std::make_unique<RowResampler>(current.width * m, current.height * m, resized, ResizeFilter::kLanczos3);
      Result<Image> out =
          run_pass(current, compiled, m, grids[p], pad, bits, alpha_by_model, settings, times, tiles_done, tiles_total,
                   resampler.get(), intermediate_alpha.channels != 0 ? &intermediate_alpha : nullptr);
      if (out.ok()) {
        if (p == 0) {
          times.tile_w = used_core(grids[p].tile_w, pass_w);
          times.tile_h = used_core(grids[p].tile_h, pass_h);
        }
        if (times.memory_retries > 0) {
          fit_w = used_core(grids[p].tile_w, current.width);
          fit_h = used_core(grids[p].tile_h, current.height);
        }
        if (resampler == nullptr) current = std::move(*out);  // else the output is `resized`, below
        break;
      }
      const tiling::TileGrid smaller = smaller_grid(grids[p], current.width, current.height);
      if (!out.status().is_out_of_memory() || (smaller.tile_w == used_core(grids[p].tile_w, current.width) &&
                                               smaller.tile_h == used_core(grids[p].tile_h, current.height))) {
        if (times_out != nullptr) *times_out = times;
        return out.status();
      }
      tiles_total +=
          tile_count(current.width, current.height, smaller) - tile_count(current.width, current.height, grids[p]);
      grids[p] = smaller;
      tiles_done = done_before;
      times.tiles = counted_before;
      ++times.memory_retries;
    }
  }
  times.passes = passes;
  if (stream_resize) current = std::move(resized);
  t0 = Clock::now();
  // --alpha bicubic: alpha resized bicubically from the original, replacing what the passes carried along (zeros)
  // or the resize made of the intermediate's.
  if (bicubic_alpha)
    set_alpha(current, resize_image(alpha_plane(input), target_w, target_h, ResizeFilter::kBicubic, current.bits));
  set_metadata_pixel_dimensions(current);  // the carried EXIF and XMP state the output's size, not the input's
  times.postprocess_ms += ms_since(t0);
  if (times_out != nullptr) *times_out = times;
  return current;
}

}  // namespace resr::engine
