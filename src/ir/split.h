// Splitting a graph in two at a single value through which everything flows, so the halves can be run on
// differently sized tiles: a deep low-resolution head (big receptive field, little memory per pixel) on big
// tiles, and a shallow high-resolution tail (small receptive field, much memory per pixel) on small ones.
//
//   int cut = find_resolution_cut(g);            // x4plus: the body output before upsampling; -1 if none
//   Result<GraphSplit> parts = split_graph(g, cut);
//   tail(head(x)) == g(x) on the whole image.
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace resr::ir {

struct GraphSplit {
  Graph head;  // the input -> `cut`
  Graph tail;  // a new Input with cut's channels -> the output
};

// True when no node after cut's producer reads a value produced before it, except `cut` itself.
bool is_single_value_cut(const Graph& g, int cut);

// The last value at the input's resolution that is a single-value cut and is followed by an upsampling
// (so the tail is where memory per input pixel grows); -1 when there is none (x4fast adds the upsampled
// input at the very end, so it has none).
int find_resolution_cut(const Graph& g);

[[nodiscard]] Result<GraphSplit> split_graph(const Graph& g, int cut);

// How far, in its input's pixels, an output pixel of `g` sees: each conv's reach divided by the upscaling
// before it. Context of this many pixels makes tiled output equal the whole-image one.
double receptive_radius(const Graph& g);

}  // namespace resr::ir
