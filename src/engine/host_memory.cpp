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

}  // namespace

std::uint64_t available_host_memory() {
  std::uint64_t avail = mem_available();
  const std::uint64_t limit = read_number("/sys/fs/cgroup/memory.max");
  const std::uint64_t used = read_number("/sys/fs/cgroup/memory.current");
  if (limit > 0) {
    const std::uint64_t left = limit > used ? limit - used : 0;
    avail = avail == 0 ? left : std::min(avail, left);
  }
  return avail;
}

std::uint64_t host_tile_budget(std::uint64_t available, int concurrent) {
  const std::uint64_t whole = std::clamp(available / 4, kMinHostTileBudget, kMaxHostTileBudget);
  return std::max(whole / std::uint64_t(std::max(1, concurrent)), kMinHostTileBudget / 2);
}

}  // namespace resr::engine
