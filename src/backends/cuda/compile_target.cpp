#include "backends/cuda/compile_target.h"

#include <cmath>

namespace resr::cuda {

std::string reason_to_compile_on_handle(bool parallel_off, bool dynamic_shapes,
                                        const std::optional<std::string>& verdict) {
  if (parallel_off) return "RESR_CUDA_PARALLEL_COMPILE=0";
  if (dynamic_shapes) return "kernels shared across sizes";
  if (!verdict.has_value() || *verdict == kDevicelessRan || *verdict == kDevicelessTrying) return "";
  if (*verdict == kDevicelessFailed)
    return "the plan cache says plans compiled for the device's properties failed on this GPU";
  return "the plan cache says two processes ended while first running plans compiled for the device's properties";
}

const char* verdict_while_trying(const std::optional<std::string>& found) {
  return found.has_value() && *found == kDevicelessTrying ? kDevicelessTryingAgain : kDevicelessTrying;
}

std::string FusedCompileReport::describe() const {
  if (compiled + loaded + without_plan == 0) return "";
  std::string d = "cuDNN conv graphs: " + std::to_string(compiled) + " compiled, " + std::to_string(loaded) +
                  " cached, " + std::to_string(without_plan) + " without a plan, in " +
                  std::to_string(std::lround(ms)) + " ms on " + std::to_string(threads) +
                  (threads == 1 ? " thread" : " threads") +
                  (deviceless ? " for the device's properties" : " on the handle");
  if (!deviceless && !handle_reason.empty()) d += " (" + handle_reason + ")";
  if (rebuilt_on_handle > 0) d += ", " + std::to_string(rebuilt_on_handle) + " compiled again on the handle";
  return d;
}

}  // namespace resr::cuda
