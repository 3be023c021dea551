// A cuDNN descriptor handle that destroys itself: legacy ones (filter, convolution: conv_weights.h) and graph-API
// ones (cudnnBackendDescriptor_t: backend_descriptor.h). Movable, not copyable.
#pragma once

#include <cudnn.h>

#include <utility>

namespace resr::cuda {

template <class T, cudnnStatus_t (*kDestroy)(T)>
class OwnedDescriptor {
 public:
  OwnedDescriptor() = default;
  OwnedDescriptor(const OwnedDescriptor&) = delete;
  OwnedDescriptor& operator=(const OwnedDescriptor&) = delete;
  OwnedDescriptor(OwnedDescriptor&& o) noexcept : d_(std::exchange(o.d_, nullptr)) {}
  OwnedDescriptor& operator=(OwnedDescriptor&& o) noexcept {
    std::swap(d_, o.d_);
    return *this;
  }
  ~OwnedDescriptor() {
    if (d_ != nullptr) kDestroy(d_);
  }
  T get() const { return d_; }
  T* put() { return &d_; }  // for cudnnCreate*Descriptor, on an empty one

 private:
  T d_ = nullptr;
};

}  // namespace resr::cuda
