#include "engine/memory_estimate.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace resr::engine {

Result<std::uint64_t> estimate_run_bytes(const ir::Graph& g, int h, int w) {
  RESR_ASSIGN_OR_RETURN(std::vector<Shape> shapes, ir::infer_shapes(g, h, w));
  std::vector<std::uint64_t> sizes;
  for (const Shape& s : shapes) sizes.push_back(std::uint64_t(s.c) * (s.h + 2) * (s.w + 2) * sizeof(float));
  std::sort(sizes.rbegin(), sizes.rend());
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(3, sizes.size()); ++i) total += sizes[i];
  const Shape out = shapes[g.output];
  total += std::uint64_t(out.c) * out.h * out.w * (sizeof(float) + 2);  // result tensor + encoded image
  return total;
}

std::uint64_t available_memory_bytes() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  std::uint64_t kb = 0;
  std::string unit;
  while (f >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

Status check_memory(const ir::Graph& g, int h, int w) {
  RESR_ASSIGN_OR_RETURN(std::uint64_t need, estimate_run_bytes(g, h, w));
  const std::uint64_t have = available_memory_bytes();
  if (have != 0 && need > have) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "too large to upscale in one pass: needs about %.1f GiB, %.1f GiB available",
                  need / 1073741824.0, have / 1073741824.0);
    return Status::error(buf);
  }
  return {};
}

}  // namespace resr::engine
