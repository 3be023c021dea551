#include "backends/cuda/backend_descriptor.h"

#include <utility>

#include "backends/cuda/cuda_status.h"

namespace resr::cuda {

Status cudnn_graph_status(cudnnStatus_t e, const char* what) {
  if (e == CUDNN_STATUS_SUCCESS) return ok_status();
  char detail[512] = {};
  cudnnGetLastErrorString(detail, sizeof(detail));
  std::string message = std::string("cudnn: ") + what + ": " + cudnnGetErrorString(e);
  if (detail[0] != '\0') message += std::string(" (") + detail + ")";
  return cudnn_failure(e, std::move(message));
}

Result<BackendDescriptor> BackendDescriptor::create(cudnnBackendDescriptorType_t type) {
  BackendDescriptor b;
  RESR_RETURN_IF_ERROR(cudnn_graph_status(cudnnBackendCreateDescriptor(type, b.d_.put()), "create descriptor"));
  return b;
}

Status BackendDescriptor::set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, std::int64_t count,
                              const void* values) {
  return cudnn_graph_status(cudnnBackendSetAttribute(d_.get(), name, type, count, values), "set attribute");
}

Status BackendDescriptor::finalize() {
  return cudnn_graph_status(cudnnBackendFinalize(d_.get()), "finalize");
}

Result<BackendDescriptor> device_properties_from_json(const std::string& json) {
  RESR_ASSIGN_OR_RETURN(BackendDescriptor d, BackendDescriptor::create(CUDNN_BACKEND_DEVICEPROP_DESCRIPTOR));
  RESR_RETURN_IF_ERROR(
      d.set(CUDNN_ATTR_DEVICEPROP_JSON_REPRESENTATION, CUDNN_TYPE_CHAR, std::int64_t(json.size()), json.data()));
  RESR_RETURN_IF_ERROR(d.finalize());
  return d;
}

Result<BackendDescriptor> device_properties_of(cudnnHandle_t handle) {
  constexpr std::size_t kFirstWithDeviceProperties = 90800;
  if (cudnnGetVersion() < kFirstWithDeviceProperties)
    return Status::error("cudnn: device properties need cuDNN 9.8 or later");
  RESR_ASSIGN_OR_RETURN(BackendDescriptor d, BackendDescriptor::create(CUDNN_BACKEND_DEVICEPROP_DESCRIPTOR));
  RESR_RETURN_IF_ERROR(d.set(CUDNN_ATTR_DEVICEPROP_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle));
  RESR_RETURN_IF_ERROR(d.finalize());
  return d;
}

}  // namespace resr::cuda
