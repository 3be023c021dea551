#include "backends/cuda/step_timer.h"

#include <limits>
#include <string>

#include "backends/cuda/cuda_status.h"

namespace resr::cuda {

using passes::Step;
using passes::StepKind;

namespace {

void describe(StepTime& t, const Step& st, const char* conv_kernel, const Shape& o) {
  t.name = st.node->name;
  t.kernel = st.kind != StepKind::kConv ? passes::step_kind_name(st.kind) : conv_kernel;
  if (st.kind == StepKind::kConv) {
    const ir::ConvParams& c = st.node->conv;
    t.macs = double(c.out_channels) * c.in_channels * c.kernel_h * c.kernel_w * o.h * o.w;
    t.shape = std::to_string(c.in_channels) + "->" + std::to_string(c.out_channels) + " @" + std::to_string(o.w) + "x" +
              std::to_string(o.h);
  } else {
    t.shape = std::to_string(o.c) + " @" + std::to_string(o.w) + "x" + std::to_string(o.h);
  }
}

}  // namespace

StepTimer::~StepTimer() {
  for (cudaEvent_t e : events_) cudaEventDestroy(e);
}

Status StepTimer::start(cudaStream_t stream, std::size_t steps) {
  while (events_.size() < steps + 1) {
    cudaEvent_t e = nullptr;
    RESR_CUDA(cudaEventCreate(&e));
    events_.push_back(e);
  }
  RESR_CUDA(cudaEventRecord(events_[0], stream));
  return ok_status();
}

Status StepTimer::mark(cudaStream_t stream, std::size_t step) {
  RESR_CUDA(cudaEventRecord(events_[step + 1], stream));
  return ok_status();
}

Status StepTimer::collect(cudaStream_t stream, const std::vector<Step>& steps,
                          const std::vector<const char*>& conv_kernels, const std::vector<Shape>& shapes) {
  RESR_CUDA(cudaStreamSynchronize(stream));
  times_.resize(steps.size());
  for (std::size_t s = 0; s < steps.size(); ++s) {
    float ms = 0;
    RESR_CUDA(cudaEventElapsedTime(&ms, events_[s], events_[s + 1]));
    StepTime& t = times_[s];
    t.ms += ms;
    ++t.runs;
    if (t.name.empty()) describe(t, steps[s], conv_kernels[s], shapes[std::size_t(steps[s].node->output)]);
  }
  return ok_status();
}

double best_device_ms(cudaStream_t stream, const std::array<cudaEvent_t, 2>& events,
                      const std::function<Status()>& launch, int runs) {
  constexpr double kFailed = std::numeric_limits<double>::quiet_NaN();
  if (!launch().ok()) {
    cudaGetLastError();
    return kFailed;
  }
  double best = kFailed;
  for (int r = 0; r < runs; ++r) {
    float ms = 0;
    const bool ok = cudaEventRecord(events[0], stream) == cudaSuccess && launch().ok() &&
                    cudaEventRecord(events[1], stream) == cudaSuccess &&
                    cudaEventSynchronize(events[1]) == cudaSuccess &&
                    cudaEventElapsedTime(&ms, events[0], events[1]) == cudaSuccess;
    if (!ok) {
      cudaGetLastError();
      return kFailed;
    }
    if (!(best <= double(ms))) best = ms;  // NaN at first
  }
  return best;
}

}  // namespace resr::cuda
