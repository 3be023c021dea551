// Page population ahead of writing: the pages under a range of fresh memory (already allocated, not yet
// written) are faulted in by one system call instead of one page fault per 4 KiB on first write. On virtual
// machines a fault costs microseconds, so filling a few hundred MB of new weights or arenas is dominated by
// them. Linux 5.14+ (MADV_POPULATE_WRITE); elsewhere, and on any failure, nothing happens and the pages fault in
// as they are written. Ranges under 64 KiB are left alone. Thread-safe.
#pragma once

#include <cstddef>

namespace resr {

// madvise's MADV_POPULATE_WRITE (Linux 5.14), spelled here for C libraries whose headers predate it.
inline constexpr int kMadvPopulateWrite = 23;

// The range must lie inside memory the caller owns (its first and last pages included); its contents are not
// changed.
void populate_pages(void* data, std::size_t bytes) noexcept;

// v.resize(n) for a vector about to be written: the pages of its new elements are populated first, so that their
// value-initialisation (or the caller's writes) do not fault page by page. Capacity still grows geometrically.
// Throws what reserve and resize throw.
template <class Vector>
void resize_populated(Vector& v, std::size_t n) {
  if (n > v.capacity()) v.reserve(n > 2 * v.capacity() ? n : 2 * v.capacity());  // (no <algorithm> here: hot)
  if (n > v.size()) populate_pages(v.data() + v.size(), (n - v.size()) * sizeof(typename Vector::value_type));
  v.resize(n);
}

}  // namespace resr
