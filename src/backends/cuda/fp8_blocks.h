// FP8 convs that read one dense block share one E4M3 copy of it. In RRDBNet's dense blocks conv k reads
// concat(x, x1, ..., x_{k-1}); rounding each conv's whole input to E4M3 in its own pass would read and write the
// block's growing concat five times. The quantizer gives such convs one input scale (quant/quantize_graph.h), so
// one packed E4M3 buffer [h][w][channels of the widest concat] serves them all: each part is rounded into its
// channel range once, and each reader reads its prefix of the channels (a strided slice, as the fp16 concat).
// A part whose every reader is a reader of the block, and whose producer is an FP8 conv, is written in E4M3 by
// that conv's fused graph (its fp16 value is then never written); the other parts are rounded from fp16 by a pass
// before the first reader that needs them.
//
// Plain C++ over the lowered steps (size-independent), tested without a GPU (tests/unit/cuda_plan).
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "ir/graph.h"
#include "passes/fused_steps.h"

namespace resr::cuda {

struct Fp8Block {
  std::vector<int> parts;            // values, in channel order (the widest concat's inputs)
  std::vector<int> offsets;          // channel offset of each part
  std::vector<bool> direct;          // per part: written in E4M3 by its producer, an FP8 conv
  int channels = 0;                  // of the widest concat
  float scale = 0;                   // the readers' input scale
  std::vector<std::size_t> readers;  // conv steps, in order
  int slot = 0;                      // the buffer that holds it: blocks alive at the same time get different slots
};

struct Fp8BlockPlan {
  std::vector<Fp8Block> blocks;
  std::vector<int> reader_of;                  // per step: the block an FP8 conv reads, else -1
  std::vector<std::pair<int, int>> writer_of;  // per step: (block, part) a conv writes directly, else (-1, -1)
  // per step: the (block, part) pairs rounded from fp16 before it runs (every part, direct ones included: those
  // are rounded only when their producer did not write them, in observed runs)
  std::vector<std::vector<std::pair<int, int>>> round_before;
  int slots = 0;
};

// Blocks of at least two FP8 readers whose concats are prefixes of one widest concat of flat parts, all with
// one input scale, and channel offsets of whole 16-byte vectors (the fused graphs' alignment).
Fp8BlockPlan plan_fp8_blocks(const ir::Graph& g, const std::vector<passes::Step>& steps);

}  // namespace resr::cuda
