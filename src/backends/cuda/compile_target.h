// Where the CUDA backend compiles a plan's new cuDNN fused conv graphs (fused_conv.h): for the GPU's device
// properties, on every core (cuDNN >= 9.8), or on the cuDNN handle, one at a time (cuDNN lets no two threads use
// one handle); the plan cache's verdict, per GPU, on plans compiled for the properties and run on the handle; and
// the planning report's account of a plan's graphs. Host code: tested without a GPU (test_cuda_plan).
//
//   const std::string why = reason_to_compile_on_handle(off, dynamic, cache.get(kDevicelessVerdictKey));
//   if (why.empty()) ... device_properties_of(handle) ...;  // may still fail: then that is the reason
#pragma once

#include <optional>
#include <string>

namespace resr::cuda {

// The verdict's key in the plan cache, and its values: being tried (a process that ends while running the first
// such plans leaves it so), being tried a second time after one did, ran, or failed where plans compiled on the
// handle ran.
inline constexpr const char* kDevicelessVerdictKey = "deviceless fused plans";
inline constexpr const char* kDevicelessTrying = "trying";
inline constexpr const char* kDevicelessTryingAgain = "trying again";
inline constexpr const char* kDevicelessRan = "ran";
inline constexpr const char* kDevicelessFailed = "failed";

// Why graphs compile on the handle: RESR_CUDA_PARALLEL_COMPILE=0 (`parallel_off`), dynamic shapes (their kernel
// caches are per topology, and a retry on the handle would reuse the kernel that failed), or the verdict: failed,
// or two processes that ended while trying (a damaged entry counts as that). One that ended while trying gets a
// second try: being killed in the first compile (Ctrl-C twice, a timeout) is likelier than a fault that kills
// (faults come back as errors, which give "failed"). Empty: they may compile for the properties.
std::string reason_to_compile_on_handle(bool parallel_off, bool dynamic_shapes,
                                        const std::optional<std::string>& verdict);

// The verdict to leave while the first plans compiled for the properties run, given the one found.
const char* verdict_while_trying(const std::optional<std::string>& found);

// How the graphs of one input size's plan were built, for its planning line (RESR_VERBOSE=plans).
struct FusedCompileReport {
  int compiled = 0, loaded = 0;  // graphs with plans: compiled, or loaded from the plan cache
  int without_plan = 0;          // graphs cuDNN refused or compiled no plan for (before any retry on the handle)
  double ms = 0;                 // building them, retries on the handle included
  int threads = 1;               // the most asked for
  bool deviceless = false;       // some compiled for the device's properties
  std::string handle_reason;     // why on the handle, if so
  int rebuilt_on_handle = 0;     // built for the properties, ran only when compiled on the handle

  // "cuDNN conv graphs: 10 compiled, 0 cached, 0 without a plan, in 1234 ms on 10 threads for the device's
  // properties", or "... on 1 thread on the handle (why)"; empty when no graph was built. Never "fused ..." nor
  // "from the plan cache": the CUDA tests read those phrases from other parts of the line.
  std::string describe() const;
};

}  // namespace resr::cuda
