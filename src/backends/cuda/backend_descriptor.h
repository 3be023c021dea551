// cuDNN graph-API descriptors (cudnnBackend*) as owned values with typed setters, and device properties from a
// GPU's JSON description (cuDNN >= 9.8), so graphs and plans can be built and checked on machines without a GPU
// (tests/cuda/test_fused_conv_build.cpp), or on a GPU by many threads.
#pragma once

#include <cudnn.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backends/cuda/owned_descriptor.h"
#include "core/status.h"

namespace resr::cuda {

// A cuDNN status with cuDNN's own last message (which names the failed check) appended.
Status cudnn_graph_status(cudnnStatus_t e, const char* what);

// Owns its descriptor (owned_descriptor.h): movable, not copyable.
class BackendDescriptor {
 public:
  static Result<BackendDescriptor> create(cudnnBackendDescriptorType_t type);

  cudnnBackendDescriptor_t get() const { return d_.get(); }

  Status set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, std::int64_t count,
             const void* values);
  Status set_int64(cudnnBackendAttributeName_t name, std::int64_t v) { return set(name, CUDNN_TYPE_INT64, 1, &v); }
  Status set_int64s(cudnnBackendAttributeName_t name, const std::vector<std::int64_t>& v) {
    return set(name, CUDNN_TYPE_INT64, std::int64_t(v.size()), v.data());
  }
  Status set_data_type(cudnnBackendAttributeName_t name, cudnnDataType_t t) {
    return set(name, CUDNN_TYPE_DATA_TYPE, 1, &t);
  }
  Status set_descriptor(cudnnBackendAttributeName_t name, const BackendDescriptor& d) {
    cudnnBackendDescriptor_t raw = d.get();
    return set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &raw);
  }
  Status finalize();

 private:
  OwnedDescriptor<cudnnBackendDescriptor_t, cudnnBackendDestroyDescriptor> d_;
};

// The properties of a GPU from its JSON description (what cuDNN writes for a device; fields as cudaDeviceProp's), no
// GPU needed.
Result<BackendDescriptor> device_properties_from_json(const std::string& json);

// The properties of the GPU behind `handle`. Plans finalized for them instead of on the handle may be compiled on
// several threads at once (cuDNN allows no two threads on one handle) and run on the handle. Error: a cuDNN before
// 9.8 (no device properties), or cuDNN refuses.
Result<BackendDescriptor> device_properties_of(cudnnHandle_t handle);

}  // namespace resr::cuda
