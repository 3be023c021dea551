#include "core/populate_pages.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

namespace resr {

void populate_pages(void* data, std::size_t bytes) noexcept {
  constexpr std::size_t kWorthIt = std::size_t{64} << 10;
  if (data == nullptr || bytes < kWorthIt) return;
  static const std::uintptr_t page = std::uintptr_t(sysconf(_SC_PAGESIZE));
  // Whole pages: the first and last ones hold the range's own bytes, so they are the caller's too.
  const std::uintptr_t at = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t lead = at % page, end = (at + bytes + page - 1) / page * page;
  // a hint: failure changes nothing
  madvise(static_cast<char*>(data) - lead, end - (at - lead), kMadvPopulateWrite);
}

}  // namespace resr
