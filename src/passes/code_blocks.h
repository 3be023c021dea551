// Code blocks: 8-bit convs that read one dense block share one quantized copy of it. In RRDBNet's dense blocks
// conv k reads concat(x, x1, ..., x_{k-1}); quantizing each conv's whole input in its own pass would read the
// block's growing concat five times. The quantizer gives such convs one input quantization
// (quant/quantize_graph.h), so one buffer of codes for the widest concat serves them all: each part is quantized
// into its channel range once, and each reader reads its prefix of the channels.
// A part whose every reader is a reader of the block, and whose producer is a member conv of the block's
// precision, is "direct": a backend may have that conv write it as codes (its fp value is then never written);
// the other parts are quantized by a pass before the first reader that needs them. The concats of a block that
// only its readers read need not run (only_codes_read).
//
// Backends say which steps are members and the channel alignment of a part: the CPU's INT8 and FP8 3x3 convs
// (INT8 codes in groups of 4 channels, written by direct producers; FP8 as rounded fp32 planes, every part
// rounded by a pass), the CUDA backend's FP8 fused graphs, or its tensor-core kernel's INT8 and FP8 convs (NHWC
// codes in 16-byte vectors).
// Plain C++ over the lowered steps (size-independent), tested without a GPU (tests/unit/passes).
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "ir/graph.h"
#include "passes/fused_steps.h"

namespace resr::passes {

struct CodeBlock {
  std::vector<int> parts;    // values, in channel order (the widest concat's inputs)
  std::vector<int> offsets;  // channel offset of each part
  std::vector<bool> direct;  // per part: written as codes by its producer, a member conv of `precision`
  int channels = 0;          // of the widest concat
  ir::Precision precision = ir::Precision::kInt8;  // of the readers: the codes' kind
  float scale = 0;                                 // the readers' input scale (their zero points are equal too)
  std::vector<std::size_t> readers;                // conv steps, in order
  std::size_t widest = 0;  // the reader of every part: its per-channel input scales (if any) cover the block
  int slot = 0;            // the buffer that holds it: blocks alive at the same time get different slots
};

struct CodeBlockPlan {
  std::vector<CodeBlock> blocks;
  std::vector<int> reader_of;                  // per step: the block a member conv reads, else -1
  std::vector<std::pair<int, int>> writer_of;  // per step: (block, part) a conv writes directly, else (-1, -1)
  // per step: the (block, part) pairs quantized before it runs (every part, direct ones included: a backend
  // quantizes those only when their producer did not write them, e.g. in observed runs)
  std::vector<std::vector<std::pair<int, int>>> round_before;
  std::vector<bool> only_codes_read;  // per step: a concat whose output only blocks' readers read
  int slots = 0;
};

// Blocks of at least two member readers of one precision whose concats are prefixes of one widest concat of flat
// parts, all with one input quantization (scale, zero point, symmetry, per-channel scales), and channel offsets that
// are multiples of `alignment`. INT8 and FP8 readers of one dense block make two blocks (a part both read is quantized
// by passes). `member`: per step, whether it is a conv of the backend's code kind.
CodeBlockPlan plan_code_blocks(const ir::Graph& g, const std::vector<Step>& steps, const std::vector<bool>& member,
                               int alignment);

}  // namespace resr::passes
