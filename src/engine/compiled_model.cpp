#include "engine/compiled_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "engine/backend_factory.h"
#include "ir/split.h"
#include "tiling/tile_plan.h"

namespace resr::engine {
namespace {

constexpr int kSubTile = 64;  // tail sub-tile core: ~45 MB of x4plus tail activations, ~1% halo overhead

Tensor crop(const Tensor& t, const tiling::Rect& r) {
  Tensor out(t.c(), r.h, r.w);
  for (int c = 0; c < t.c(); ++c)
    for (int y = 0; y < r.h; ++y)
      std::memcpy(out.plane(c) + std::size_t(y) * r.w, t.plane(c) + std::size_t(r.y + y) * t.w() + r.x,
                  std::size_t(r.w) * sizeof(float));
  return out;
}

void paste(const Tensor& src, const tiling::Rect& from, Tensor& dst, int dx, int dy) {
  for (int c = 0; c < src.c(); ++c)
    for (int y = 0; y < from.h; ++y)
      std::memcpy(dst.plane(c) + std::size_t(dy + y) * dst.w() + dx,
                  src.plane(c) + std::size_t(from.y + y) * src.w() + from.x, std::size_t(from.w) * sizeof(float));
}

// Reflect-pads the bottom and right of `t` to multiples of `m` (as Real-ESRGAN does for its x2/x1 models, whose
// first layer is a pixel unshuffle by 2 or 4).
Tensor pad_to_multiple(const Tensor& t, int m) {
  const int h = (t.h() + m - 1) / m * m, w = (t.w() + m - 1) / m * m;
  Tensor out(t.c(), h, w);
  auto reflect = [](int i, int n) {
    if (n == 1) return 0;
    while (i >= n) i = 2 * (n - 1) - i;  // ... n-2, n-1, n-2 ...
    return std::max(i, 0);
  };
  for (int c = 0; c < t.c(); ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) out.at(c, y, x) = t.at(c, reflect(y, t.h()), reflect(x, t.w()));
  return out;
}

}  // namespace

Result<CompiledModel> CompiledModel::compile(const LoadedModel& model, std::string_view backend, bool split,
                                             int sub_tile, const BackendOptions& options) {
  CompiledModel m;
  m.summary_ = model.summary;
  const ir::Graph& g = *model.graph;
  const std::string name = resolve_backend(g, backend);
  const int cut = split && name != "cuda" ? ir::find_resolution_cut(g) : -1;
  if (cut < 0) {
    RESR_ASSIGN_OR_RETURN(m.whole_, make_executable(model.graph, name, options));
    return m;
  }
  RESR_ASSIGN_OR_RETURN(ir::GraphSplit parts, ir::split_graph(g, cut));
  m.head_channels_ = g.values[cut].channels;
  m.tail_halo_ = static_cast<int>(std::ceil(ir::receptive_radius(parts.tail)));
  m.sub_tile_ = sub_tile > 0 ? sub_tile : kSubTile;
  RESR_ASSIGN_OR_RETURN(m.head_,
                        make_executable(std::make_shared<const ir::Graph>(std::move(parts.head)), name, options));
  RESR_ASSIGN_OR_RETURN(m.tail_,
                        make_executable(std::make_shared<const ir::Graph>(std::move(parts.tail)), name, options));
  return m;
}

Result<Tensor> CompiledModel::run_tile(const Tensor& input) {
  const int m = std::max(1, summary_.input_multiple);
  if (input.h() % m != 0 || input.w() % m != 0) {
    RESR_ASSIGN_OR_RETURN(Tensor padded, run_tile(pad_to_multiple(input, m)));
    const int s = summary_.scale;
    return crop(padded, tiling::Rect{0, 0, input.w() * s, input.h() * s});
  }
  if (whole_) return whole_->run(input);
  RESR_ASSIGN_OR_RETURN(Tensor features, head_->run(input));
  const int s = summary_.scale;
  Tensor out(3, input.h() * s, input.w() * s);
  RESR_ASSIGN_OR_RETURN(tiling::TilePlan plan, tiling::plan_tiles(input.w(), input.h(), sub_tile_, tail_halo_));
  for (const tiling::Tile& t : plan.tiles) {
    RESR_ASSIGN_OR_RETURN(Tensor piece, tail_->run(crop(features, t.input)));
    paste(piece, t.crop_in_output(s), out, t.core.x * s, t.core.y * s);
  }
  return out;
}

Result<std::uint64_t> CompiledModel::working_bytes(int h, int w) {
  const int m = std::max(1, summary_.input_multiple);  // run_tile pads to this multiple
  h = (h + m - 1) / m * m;
  w = (w + m - 1) / m * m;
  if (whole_) return whole_->working_bytes(h, w);
  RESR_ASSIGN_OR_RETURN(std::uint64_t head, head_->working_bytes(h, w));
  const int sub = std::min(sub_tile_, std::max(h, w)) + 2 * tail_halo_;
  RESR_ASSIGN_OR_RETURN(std::uint64_t tail, tail_->working_bytes(std::min(sub, h), std::min(sub, w)));
  const std::uint64_t features = std::uint64_t(head_channels_) * h * w * sizeof(float);
  const std::uint64_t output = std::uint64_t(3) * h * w * summary_.scale * summary_.scale * sizeof(float);
  return head + features + tail + output;
}

std::vector<Executable*> CompiledModel::executables() {
  if (whole_) return {whole_.get()};
  return {head_.get(), tail_.get()};
}

}  // namespace resr::engine
