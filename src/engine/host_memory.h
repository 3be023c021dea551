// host_memory: the working-memory budget for automatic tiles on host backends (cpu, ref). Fewer, larger tiles
// recompute less context (x4plus on a 510x408 photo: one tile instead of three, 1.34x faster), so the budget is a
// quarter of the memory the machine can still give, within [512 MiB, 4 GiB] but at most half of it, shared by the
// images upscaled at once.
// GPU backends size theirs from free device memory (Executable::memory_budget_hint).
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace resr::engine {

inline constexpr std::uint64_t kMinHostTileBudget = std::uint64_t{512} << 20;
inline constexpr std::uint64_t kMaxHostTileBudget = std::uint64_t{4} << 30;
inline constexpr std::uint64_t kLeastHostTileBudget = std::uint64_t{64} << 20;  // however little is left

// Bytes the machine can still give this process: MemAvailable (/proc/meminfo), or what its cgroups still allow
// (cgroup_memory_left) when that is lower; 0 when neither can be read.
std::uint64_t available_host_memory();

// What the memory cgroups this process is in still allow, v2 and v1 alike: for its own cgroup, read from
// `self_cgroup` (the text of /proc/self/cgroup), and each ancestor up to `root` (/sys/fs/cgroup), the limit less
// the usage, with reclaimable page cache counted as free; the least of them. 0 when none has a limit. Folders
// that do not exist (a path named from outside a container's view) count as unlimited; with an empty
// `self_cgroup`, the hierarchies' roots are read.
std::uint64_t cgroup_memory_left(const std::string& root, const std::string& self_cgroup);

// The budget for one image of `concurrent` (>= 1) upscaled at once, from `available` bytes (0: unknown, the
// minimum): available / 4 within [kMinHostTileBudget, kMaxHostTileBudget], divided by `concurrent`, and never
// below kMinHostTileBudget / 2; but never more than half of `available` in all, whatever those floors say (down
// to kLeastHostTileBudget each).
std::uint64_t host_tile_budget(std::uint64_t available, int concurrent);

// The working-memory budget of one image's automatic tiles: `user` when non-zero (--tile-memory); else a GPU's,
// `device` (Executable::memory_budget_hint; 0 on host backends), split between the `concurrent` images upscaled at
// once, since each processing thread's executable sizes its tiles from the same free memory (two asked for 120% of
// it), and capped at `host` under TTA, whose tiles' outputs are summed on the host; else `host`.
std::uint64_t tile_memory_budget(std::uint64_t user, std::uint64_t host, std::uint64_t device, bool tta,
                                 int concurrent);

// For work whose size the user sets (calibration and search tiles): an error when `need` bytes are more than half
// of `available` (0: unknown, no check), "<what> needs about 2.3 GiB, more than half of the 3.1 GiB available".
[[nodiscard]] Status check_host_memory(std::uint64_t need, std::uint64_t available, const std::string& what);

}  // namespace resr::engine
