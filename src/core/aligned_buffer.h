// AlignedBuffer: an owning, 64-byte aligned, zero-initialised float array for SIMD kernels.
//
// Large buffers (packed weights, activation arenas) are mapped from the kernel with their pages populated in one
// call, instead of being faulted in one 4 KiB page at a time by a zero-fill: on virtual machines a page fault
// costs microseconds, and a model's packed weights run to hundreds of MB. Buffers of 2 MiB or more are also
// advised for transparent huge pages. Small ones come from the C heap.
#pragma once

#include <cstddef>
#include <utility>

namespace resr {

class AlignedBuffer {
 public:
  static constexpr std::size_t kAlignment = 64;
  // From this many bytes on, a buffer is its own populated mapping.
  static constexpr std::size_t kMappedBytes = std::size_t{256} << 10;

  AlignedBuffer() = default;
  // Throws std::bad_alloc when memory cannot be had.
  explicit AlignedBuffer(std::size_t count);
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    if (this != &o) {
      release();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~AlignedBuffer() { release(); }

  float* data() { return data_; }
  const float* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  void release() noexcept;

  float* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace resr
