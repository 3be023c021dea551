#include "engine/host_memory.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace resr::engine {
namespace {

// The first number in `path`, or 0 ("max" or an unreadable file).
std::uint64_t read_number(const char* path) {
  std::FILE* f = std::fopen(path, "r");
  if (f == nullptr) return 0;
  unsigned long long v = 0;
  if (std::fscanf(f, "%llu", &v) != 1) v = 0;
  std::fclose(f);
  return v;
}

std::uint64_t mem_available() {
  std::FILE* f = std::fopen("/proc/meminfo", "r");
  if (f == nullptr) return 0;
  char line[256];
  std::uint64_t kib = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    unsigned long long v = 0;
    if (std::sscanf(line, "MemAvailable: %llu kB", &v) == 1) {
      kib = v;
      break;
    }
  }
  std::fclose(f);
  return kib * 1024;
}

// `key value` from a cgroup memory.stat file, or 0.
std::uint64_t stat_value(const char* path, const char* key) {
  std::FILE* f = std::fopen(path, "r");
  if (f == nullptr) return 0;
  char name[128];
  unsigned long long v = 0, found = 0;
  while (std::fscanf(f, "%127s %llu", name, &v) == 2) {
    if (std::strcmp(name, key) == 0) {
      found = v;
      break;
    }
  }
  std::fclose(f);
  return found;
}

// What the cgroup (v2, else v1) still allows: its limit less its usage, where reclaimable page cache (inactive
// files) counts as free; 0 without a limit. Read at the hierarchy's root, which inside a container is its own.
std::uint64_t cgroup_left() {
  struct Files {
    const char *limit, *usage, *stat, *inactive;
  };
  const Files kFiles[] = {
      {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory.stat", "inactive_file"},
      {"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes",
       "/sys/fs/cgroup/memory/memory.stat", "total_inactive_file"},
  };
  for (const Files& f : kFiles) {
    const std::uint64_t limit = read_number(f.limit);               // 0 for "max"
    if (limit == 0 || limit >= (std::uint64_t{1} << 60)) continue;  // v1 writes "no limit" as a huge number
    const std::uint64_t inactive = stat_value(f.stat, f.inactive);
    const std::uint64_t used = read_number(f.usage);
    const std::uint64_t busy = used > inactive ? used - inactive : 0;
    return limit > busy ? limit - busy : 1;  // 1, not 0: a limit that is used up is not "no limit"
  }
  return 0;
}

}  // namespace

std::uint64_t available_host_memory() {
  const std::uint64_t avail = mem_available(), left = cgroup_left();
  if (left == 0) return avail;
  return avail == 0 ? left : std::min(avail, left);
}

std::uint64_t host_tile_budget(std::uint64_t available, int concurrent) {
  const std::uint64_t whole = std::clamp(available / 4, kMinHostTileBudget, kMaxHostTileBudget);
  return std::max(whole / std::uint64_t(std::max(1, concurrent)), kMinHostTileBudget / 2);
}

}  // namespace resr::engine
