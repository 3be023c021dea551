// Tensor: a dense float32 CHW image-shaped tensor (batch 1), the exchange format between the pipeline and
// every backend. Backends may keep private layouts inside; they take and return Tensor at their boundary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "core/populate_pages.h"

namespace resr {

struct Shape {
  int c = 0, h = 0, w = 0;
  std::int64_t numel() const { return std::int64_t{c} * h * w; }
  friend bool operator==(const Shape&, const Shape&) = default;
};

// std::allocator that default-initialises: a vector<float> resized with it is left uninitialised (see
// Tensor::uninitialized).
template <class T>
struct DefaultInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  using std::allocator<T>::allocator;
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape) : shape_(shape), data_(static_cast<std::size_t>(shape.numel()), 0.0f) {}
  Tensor(int c, int h, int w) : Tensor(Shape{c, h, w}) {}
  // Contents unspecified: for producers that write every element (no 4 bytes of zeroing per element first).
  static Tensor uninitialized(Shape shape) {
    Tensor t;
    t.shape_ = shape;
    resize_populated(t.data_, static_cast<std::size_t>(shape.numel()));  // its pages in one call (populate_pages.h)
    return t;
  }

  const Shape& shape() const { return shape_; }
  int c() const { return shape_.c; }
  int h() const { return shape_.h; }
  int w() const { return shape_.w; }
  std::int64_t numel() const { return shape_.numel(); }
  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  float* plane(int ch) { return data_.data() + std::size_t(ch) * shape_.h * shape_.w; }
  const float* plane(int ch) const { return data_.data() + std::size_t(ch) * shape_.h * shape_.w; }
  float& at(int ch, int y, int x) { return data_[(std::size_t(ch) * shape_.h + y) * shape_.w + x]; }
  float at(int ch, int y, int x) const { return data_[(std::size_t(ch) * shape_.h + y) * shape_.w + x]; }

 private:
  Shape shape_;
  std::vector<float, DefaultInitAllocator<float>> data_;
};

}  // namespace resr
