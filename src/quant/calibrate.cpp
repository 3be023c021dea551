#include "quant/calibrate.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "engine/compiled_model.h"
#include "engine/host_memory.h"
#include "engine/tile_io.h"
#include "ir/fingerprint.h"
#include "quant/sample_images.h"
#include "quant/tile_sampler.h"

namespace resr::quant {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Every channel spans less than kFlatTileLevels.
bool is_flat(const Tensor& t) {
  for (int c = 0; c < t.c(); ++c) {
    const float* p = t.plane(c);
    const auto [lo, hi] = std::minmax_element(p, p + std::size_t(t.h()) * std::size_t(t.w()));
    if (*hi - *lo >= kFlatTileLevels) return false;
  }
  return true;
}

}  // namespace

CalibTable make_table(const ir::Graph& g, const ActivationStats& stats, Method method, const MethodOptions& options,
                      int samples, int tile) {
  CalibTable t;
  t.model_fingerprint = ir::graph_fingerprint(g);
  t.method = method_name(method);
  t.samples = samples;
  t.tile = tile;
  t.date = utc_timestamp();
  for (const auto& [value, s] : stats.tensors())
    t.tensors.push_back(TensorRange{g.values[value].name, compute_threshold(s, method, options), s.min(), s.max(),
                                    s.channel_max_abs()});
  return t;
}

Result<CalibTable> calibrate(const engine::LoadedModel& model, const std::vector<std::string>& images,
                             const CalibrateOptions& o, CalibrateReport* report) {
  const auto start = Clock::now();
  if (o.num_tiles < 1 || o.num_tiles > kMaxCalibrationTiles)
    return Status::error("the number of tiles must be in [1, " + std::to_string(kMaxCalibrationTiles) + "]");
  if (o.tile < 8) return Status::error("the tile size must be at least 8");
  if (images.empty()) return Status::error("no calibration images");
  for (const ir::Node& n : model.graph->nodes)  // thresholds are for the FP32 model the table names
    if (n.op == ir::Op::kConv2d && n.quant.precision != ir::Precision::kFp32)
      return Status::error(model.param_path + ": is already compiled (" + ir::precision_name(n.quant.precision) +
                           " layers); calibrate the FP32 model");
  CalibrateReport r;

  // Pass 1: which images decode, and their sizes.
  const SampleImages probed = probe_sample_images(images);
  // One image that does not decode is the error itself, not also a warning that it was skipped.
  if (images.size() == 1 && probed.paths.empty()) return Status::error(probed.skipped.front());
  for (const std::string& why : probed.skipped)
    if (o.on_warning) o.on_warning(why);
  r.images_skipped = static_cast<int>(probed.skipped.size());
  if (probed.paths.empty())
    return Status::error("none of the " + std::to_string(images.size()) + " images could be read (" +
                         probed.skipped.front() + ")");
  r.images_used = static_cast<int>(probed.paths.size());
  for (const auto& [w, h] : probed.sizes) {
    const std::uint64_t positions =
        std::uint64_t(std::max(w - o.tile, 0) + 1) * std::uint64_t(std::max(h - o.tile, 0) + 1);
    r.distinct_tiles = std::min(r.distinct_tiles + positions, std::uint64_t{1} << 62);
  }
  const std::vector<TileChoice> tiles = choose_tiles(probed.sizes, o.num_tiles, o.tile, o.seed);

  RESR_ASSIGN_OR_RETURN(engine::CompiledModel compiled,
                        engine::CompiledModel::compile(model, o.backend, /*split=*/false));
  // Each tile runs through the whole model at once: one the machine cannot hold is refused, not swapped to death.
  // Tiles are cut no larger than their image, so the largest chosen is what is asked.
  int tile_w = 0, tile_h = 0;
  for (const TileChoice& t : tiles) {
    tile_w = std::max(tile_w, t.rect.w);
    tile_h = std::max(tile_h, t.rect.h);
  }
  RESR_ASSIGN_OR_RETURN(const std::uint64_t need, compiled.working_bytes(tile_h, tile_w));
  RESR_RETURN_IF_ERROR(engine::check_host_memory(need, engine::available_host_memory(),
                                                 "a calibration tile of " + std::to_string(tile_w) + "x" +
                                                     std::to_string(tile_h) + " (--tile) through this model"));
  ActivationStats stats(o.bins);
  double observe_s = 0;
  ActivationObserver timed = [&stats, &observe_s](int value, const ActivationView& view) {
    const auto t0 = Clock::now();
    stats.observe(value, view);
    observe_s += seconds_since(t0);
  };
  for (Executable* exe : compiled.executables()) exe->set_observer(timed);

  // Pass 2: the tiles of each image in turn.
  RESR_RETURN_IF_ERROR(for_each_chosen_tile(probed, tiles, [&](const Image& img, const TileChoice& t) -> Status {
    stats.begin_sample();
    const Tensor input = engine::image_region_to_tensor(img, t.rect);
    r.flat_tiles += is_flat(input) ? 1 : 0;
    auto out = compiled.run_tile(input);
    if (!out) return out.status().with_context(probed.paths[std::size_t(t.image)]);
    ++r.tiles;
    if (o.on_tile) o.on_tile(r.tiles, static_cast<int>(tiles.size()));
    if (o.stop && o.stop()) return Status::stopped("calibration interrupted");
    return {};
  }));
  for (Executable* exe : compiled.executables()) exe->set_observer({});

  const ir::Graph& g = *model.graph;
  for (const ir::Node& n : g.nodes)
    if (n.op == ir::Op::kConv2d && !stats.tensors().count(n.inputs[0]))
      return Status::error("internal: the input of conv '" + n.name + "' was never observed");
  std::set<std::string> names;  // tables address tensors by name
  for (const auto& [value, s] : stats.tensors())
    if (!names.insert(g.values[value].name).second)
      return Status::error("the model has two tensors named '" + g.values[value].name + "'; cannot calibrate it");
  const auto t_thr = Clock::now();
  CalibTable table = make_table(g, stats, o.method, o.method_options, r.tiles, o.tile);
  r.threshold_seconds = seconds_since(t_thr);
  r.observe_seconds = observe_s;
  r.seconds = seconds_since(start);
  if (report) *report = r;
  return table;
}

}  // namespace resr::quant
