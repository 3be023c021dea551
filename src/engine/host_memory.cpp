#include "engine/host_memory.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

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

// A cgroup folder's limit less its usage, where reclaimable page cache (inactive files) counts as free; 0 without a
// limit (or without the files).
std::uint64_t cgroup_dir_left(const std::string& dir, bool v2) {
  const std::string limit_file = dir + (v2 ? "/memory.max" : "/memory.limit_in_bytes");
  const std::uint64_t limit = read_number(limit_file.c_str());    // 0 for "max"
  if (limit == 0 || limit >= (std::uint64_t{1} << 60)) return 0;  // v1 writes "no limit" as a huge number
  const std::string stat = dir + "/memory.stat", usage = dir + (v2 ? "/memory.current" : "/memory.usage_in_bytes");
  const std::uint64_t inactive = stat_value(stat.c_str(), v2 ? "inactive_file" : "total_inactive_file");
  const std::uint64_t used = read_number(usage.c_str());
  const std::uint64_t busy = used > inactive ? used - inactive : 0;
  return limit > busy ? limit - busy : 1;  // 1, not 0: a limit that is used up is not "no limit"
}

// The least of what the folders from `base + path` up to `base` allow (a parent's limit binds its children too);
// 0 when none has a limit. Folders that do not exist (a path from outside a container's view) count as unlimited.
std::uint64_t cgroup_chain_left(const std::string& base, std::string path, bool v2) {
  std::uint64_t least = 0;
  for (;;) {
    while (!path.empty() && path.back() == '/') path.pop_back();
    const std::uint64_t left = cgroup_dir_left(base + path, v2);
    if (left != 0) least = least == 0 ? left : std::min(least, left);
    if (path.empty()) return least;
    const std::size_t slash = path.find_last_of('/');
    path.erase(slash == std::string::npos ? 0 : slash);
  }
}

std::string read_text(const char* path) {
  std::FILE* f = std::fopen(path, "r");
  if (f == nullptr) return {};
  std::string text;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  return text;
}

}  // namespace

std::uint64_t cgroup_memory_left(const std::string& root, const std::string& self_cgroup) {
  std::uint64_t least = 0;
  auto take = [&least](std::uint64_t left) {
    if (left != 0) least = least == 0 ? left : std::min(least, left);
  };
  std::size_t at = 0;
  while (at < self_cgroup.size()) {
    std::size_t end = self_cgroup.find('\n', at);
    if (end == std::string::npos) end = self_cgroup.size();
    const std::string line = self_cgroup.substr(at, end - at);
    at = end + 1;
    // "hierarchy-id:controllers:path"; v2 is "0::path", v1's memory controller is named in its list.
    const std::size_t c1 = line.find(':'), c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string::npos) continue;
    const std::string id = line.substr(0, c1);
    std::string controllers = ",";  // (appended, not "," + ...: GCC 12 reports a false -Wrestrict there)
    controllers.append(line, c1 + 1, c2 - c1 - 1).push_back(',');
    const std::string path = line.substr(c2 + 1);
    if (id == "0" && controllers == ",,") take(cgroup_chain_left(root, path, true));
    if (controllers.find(",memory,") != std::string::npos) take(cgroup_chain_left(root + "/memory", path, false));
  }
  // Without /proc/self/cgroup: the hierarchies' roots, which inside a container are its own.
  if (self_cgroup.empty()) {
    take(cgroup_dir_left(root, true));
    take(cgroup_dir_left(root + "/memory", false));
  }
  return least;
}

std::uint64_t available_host_memory() {
  const std::uint64_t avail = mem_available(),
                      left = cgroup_memory_left("/sys/fs/cgroup", read_text("/proc/self/cgroup"));
  if (left == 0) return avail;
  return avail == 0 ? left : std::min(avail, left);
}

std::uint64_t host_tile_budget(std::uint64_t available, int concurrent) {
  const std::uint64_t images = std::uint64_t(std::max(1, concurrent));
  const std::uint64_t whole = std::clamp(available / 4, kMinHostTileBudget, kMaxHostTileBudget);
  const std::uint64_t each = std::max(whole / images, kMinHostTileBudget / 2);
  if (available == 0) return each;
  // The floors must not ask for more than is left: past it the kernel's OOM killer ends the process, and the
  // smaller-tile retry never runs.
  return std::max(std::min(each, available / 2 / images), kLeastHostTileBudget);
}

std::uint64_t tile_memory_budget(std::uint64_t user, std::uint64_t host, std::uint64_t device, bool tta,
                                 int concurrent) {
  if (user != 0) return user;
  if (device == 0) return host;
  const std::uint64_t each = device / std::uint64_t(std::max(1, concurrent));
  return tta ? std::min(each, host) : each;
}

Status check_host_memory(std::uint64_t need, std::uint64_t available, const std::string& what) {
  if (available == 0 || need <= available / 2) return {};
  auto gib = [](std::uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f GiB", double(bytes) / double(std::uint64_t{1} << 30));
    return std::string(buf);
  };
  return Status::error(what + " needs about " + gib(need) + ", more than half of the " + gib(available) + " available");
}

}  // namespace resr::engine
