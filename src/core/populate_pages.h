// Page population ahead of writing: the pages under a range of fresh memory (already allocated, not yet
// written) are faulted in by one system call instead of one page fault per 4 KiB on first write. On virtual
// machines a fault costs microseconds, so filling a few hundred MB of new weights or arenas is dominated by
// them. Linux 5.14+ (MADV_POPULATE_WRITE); elsewhere, and on any failure, nothing happens and the pages fault in
// as they are written. Ranges under 64 KiB are left alone. Thread-safe.
#pragma once

#include <cstddef>

namespace resr {

// The range must lie inside memory the caller owns (its first and last pages included); its contents are not
// changed.
void populate_pages(void* data, std::size_t bytes) noexcept;

}  // namespace resr
