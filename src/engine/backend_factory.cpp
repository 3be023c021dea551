#include "engine/backend_factory.h"

#include <string>

#include "backends/cpu/executor.h"
#include "backends/ref/executor.h"
#ifdef RESR_HAVE_CUDA
#include "backends/cuda/executor.h"
#endif

namespace resr::engine {

Result<std::unique_ptr<Executable>> make_executable(std::shared_ptr<const ir::Graph> graph, std::string_view backend) {
  if (backend == "ref") return ref::compile(std::move(graph));
  if (backend == "cpu" || backend == "auto") return cpu::compile(std::move(graph));
  if (backend == "cuda") {
#ifdef RESR_HAVE_CUDA
    return cuda::compile(std::move(graph));
#else
    return Status::error("this resr was built without the CUDA backend (CMake found no nvcc / cuDNN)");
#endif
  }
  return Status::error("unknown backend '" + std::string(backend) + "' (use cpu, cuda or ref)");
}

}  // namespace resr::engine
