// CUDA device discovery. Safe on machines without a GPU or driver: they report no device, with the reason.
#pragma once

#include <string>

namespace resr::cuda {

struct DeviceInfo {
  int count = 0;       // usable CUDA devices (0 without a driver or GPU)
  std::string name;    // device 0's name, when count > 0
  std::string reason;  // why count is 0 ("no CUDA driver", ...), empty otherwise
};

DeviceInfo query_devices();

// What plans compiled or measured on the current device depend on (plan_cache.h's scope): its name, compute
// capability, SM count and memory, and the driver, runtime and cuDNN versions. Empty when it cannot be read.
std::string device_fingerprint();

}  // namespace resr::cuda
