// CUDA device discovery. Safe on machines without a GPU or driver: they report no device, with the reason.
#pragma once

#include <string>

struct cudnnContext;  // cudnnHandle_t is a cudnnContext* (cudnn.h stays out of this header)

namespace resr::cuda {

struct DeviceInfo {
  int count = 0;       // usable CUDA devices (0 without a driver or GPU)
  std::string name;    // device 0's name, when count > 0
  std::string reason;  // why count is 0 ("no CUDA driver", ...), empty otherwise
};

DeviceInfo query_devices();

// Makes the CUDA context and loads cuDNN (a handle, kept for the next executor: take_warm_handle) on a background
// thread, so that a process's GPU start-up overlaps what it does meanwhile (reading the model). Safe without a
// GPU; a second call does nothing.
void start_warm_up();
// The handle the warm-up made (waiting for it), once; null without a warm-up, a GPU, or after the first take.
cudnnContext* take_warm_handle();
// Waits for a warm-up still running and releases a handle nobody took (before the process exits, so that the
// thread never outlives the CUDA runtime).
void end_warm_up();

// What plans compiled or measured on the current device depend on (plan_cache.h's scope): its name, compute
// capability, SM count and memory, and the driver, runtime and cuDNN versions. Empty when it cannot be read.
std::string device_fingerprint();

}  // namespace resr::cuda
