#include "core/aligned_buffer.h"

#include "core/populate_pages.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace resr {

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

std::size_t padded_bytes(std::size_t count) {
  return (count * sizeof(float) + AlignedBuffer::kAlignment - 1) / AlignedBuffer::kAlignment *
         AlignedBuffer::kAlignment;
}

// Anonymous memory, zero as mapped, its pages populated now (populate_pages.h).
void* map_populated(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
#ifdef MADV_HUGEPAGE
  if (bytes >= kHugePage) madvise(p, bytes, MADV_HUGEPAGE);  // advice: refused or ignored, nothing changes
#endif
  populate_pages(p, bytes);
  return p;
}

}  // namespace

AlignedBuffer::AlignedBuffer(std::size_t count) : size_(count) {
  if (count == 0) return;
  const std::size_t bytes = padded_bytes(count);
  if (bytes >= kMappedBytes) {
    data_ = static_cast<float*>(map_populated(bytes));
  } else {
    data_ = static_cast<float*>(std::aligned_alloc(kAlignment, bytes));
    if (data_ != nullptr) std::memset(data_, 0, bytes);
  }
  if (data_ == nullptr) {
    size_ = 0;
    throw std::bad_alloc();
  }
}

void AlignedBuffer::release() noexcept {
  if (data_ == nullptr) return;
  const std::size_t bytes = padded_bytes(size_);
  if (bytes >= kMappedBytes) {
    munmap(data_, bytes);
  } else {
    std::free(data_);
  }
  data_ = nullptr;
  size_ = 0;
}

}  // namespace resr
