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
//
// A member written in place keeps its whole storage alive as long as the member is read. x4plus's RRDB input is
// the first 64 channels of its first dense block's 192-channel storage, and the RRDB's residual reads it two
// blocks later (the trunk's input, read at the trunk's end, likewise), so two of the four 192-channel storages
// in x4plus's arena hold 64 live channels each. ConcatMembers::kCopyOutliving gives such a member (read after the
// last reader of the concat it is first placed in) its own storage and copies it into the concat once, at the
// earliest concat step that holds it there: 64 channels copied per RRDB, and x4plus's body is laid out in two
// 192-channel slots and three 64-channel ones (the trunk's input, an RRDB's input and the next, which share the
// RRDB's last step) instead of four 192-channel slots.
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
  bool operator==(const Location&) const = default;
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

enum class ConcatMembers {
  kInPlace,        // every member written in place: no copies, more memory
  kCopyOutliving,  // a member read after its concat's readers are done lives apart and is copied in
};

// Every storage starts at a multiple of `alignment` bytes.
[[nodiscard]] Result<MemoryPlan> plan_memory(const ir::Graph& g, const std::vector<Step>& steps, int h, int w,
                                             const StorageBytes& storage_bytes, std::size_t alignment,
                                             ConcatMembers members = ConcatMembers::kInPlace);

}  // namespace resr::passes
