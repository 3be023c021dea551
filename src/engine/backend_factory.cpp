#include "engine/backend_factory.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "backends/cpu/conv3x3_impl.h"
#include "backends/cpu/conv3x3_int8_impl.h"
#include "backends/cpu/executor.h"
#include "backends/ref/executor.h"
#ifdef RESR_HAVE_CUDA
#include "backends/cuda/device.h"
#include "backends/cuda/executor.h"
#endif

namespace resr::engine {

std::string resolve_backend(const ir::Graph& graph, std::string_view backend) {
  if (backend != "auto") return std::string(backend);
#ifdef RESR_HAVE_CUDA
  auto any = [&](ir::Precision p) {
    return std::any_of(graph.nodes.begin(), graph.nodes.end(),
                       [p](const ir::Node& n) { return n.op == ir::Op::kConv2d && n.quant.precision == p; });
  };
  if ((!any(ir::Precision::kInt8) || any(ir::Precision::kFp8)) && cuda::query_devices().count > 0) return "cuda";
#else
  (void)graph;
#endif
  return "cpu";
}

std::string built_backends() {
#ifdef RESR_HAVE_CUDA
  return "cpu, ref, cuda";
#else
  return "cpu, ref";
#endif
}

GpuWarmUp::GpuWarmUp(std::string_view backend) {
#ifdef RESR_HAVE_CUDA
  started_ = backend == "cuda" || backend == "auto";
  if (started_) cuda::start_warm_up();
#else
  (void)backend;
#endif
}

GpuWarmUp::~GpuWarmUp() {
#ifdef RESR_HAVE_CUDA
  if (started_) cuda::end_warm_up();
#endif
}

Result<std::unique_ptr<Executable>> make_executable(std::shared_ptr<const ir::Graph> graph, std::string_view backend,
                                                    const BackendOptions& options) {
  const std::string name = resolve_backend(*graph, backend);
  if (name == "ref") return ref::compile(std::move(graph));
  if (name == "cpu") {
    // A name no kernel has (a typo) quietly ran the default kernels, in a run meant to measure another.
    if (const char* forced = std::getenv("RESR_IMPL");
        forced != nullptr && *forced != '\0' && !cpu::conv3x3_forced_by(forced) && !cpu::conv3x3_int8_forced_by(forced))
      return Status::error("RESR_IMPL=" + std::string(forced) +
                           " names no CPU kernel (such as winograd63_avx512, winograd43, direct_avx2, direct, "
                           "generic, int8_avx2; RESR_VERBOSE=dispatch shows each choice); unset it for the default");
    return cpu::compile(std::move(graph), options.cpu_pack_cache,
                        options.cpu_bf16 ? cpu::FloatProducts::kBf16 : cpu::FloatProducts::kFp32);
  }
  if (name == "cuda") {
#ifdef RESR_HAVE_CUDA
    return cuda::compile(std::move(graph), options.fp32_as_fp16);
#else
    (void)options;
    return Status::error("this resr was built without the CUDA backend (CMake found no nvcc / cuDNN)");
#endif
  }
  return Status::error("unknown backend '" + name + "' (use auto, cpu, cuda or ref)");
}

}  // namespace resr::engine
