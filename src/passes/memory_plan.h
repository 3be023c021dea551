// Where every value of a lowered graph (fused_steps.h) lives for one input size: a channel range of a storage,
// and every storage at a byte offset in one arena. Backends size storages their own way (the CPU's padded
// planes, the GPU's dense NCHW / NHWC) and turn locations into addresses.
//
// A concatenation is free when its members are written in place: concats are visited from last to first, the
// largest claims a storage, the earlier (smaller) ones become prefixes of it, and members are placed at their
// channel offsets, so x4plus's dense blocks write x1..x4 straight into the 192-channel input of conv5. Members
// already placed elsewhere (a value in two concats at different offsets, or itself a concat output) are listed
// for copying. Storages share memory when their lifetimes (first write to last read, over steps) do not
// overlap; they are placed first fit, largest first.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "passes/fused_steps.h"

namespace resr::passes {

struct Location {
  int storage = -1;  // -1: the value is never written (absorbed into a fused step)
  int channel = 0;   // first channel of the value in its storage
};

struct MemoryPlan {
  std::vector<Shape> shapes;                    // per value
  std::vector<Location> where;                  // per value
  std::vector<Shape> storage_shape;             // per storage: channels and size
  std::vector<std::size_t> storage_offset;      // per storage: bytes from the arena start
  std::vector<std::vector<int>> concat_copies;  // per step: concat members that must be copied into place
  std::size_t arena_bytes = 0;
};

// Bytes a storage of this shape takes in the backend's layout.
using StorageBytes = std::function<std::size_t(const Shape& storage)>;

// Every storage starts at a multiple of `alignment` bytes.
[[nodiscard]] Result<MemoryPlan> plan_memory(const ir::Graph& g, const std::vector<Step>& steps, int h, int w,
                                             const StorageBytes& storage_bytes, std::size_t alignment);

}  // namespace resr::passes
