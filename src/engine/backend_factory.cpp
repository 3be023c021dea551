#include "engine/backend_factory.h"

#include <string>

#include "backends/cpu/executor.h"
#include "backends/ref/executor.h"

namespace resr::engine {

Result<std::unique_ptr<Executable>> make_executable(std::shared_ptr<const ir::Graph> graph, std::string_view backend) {
  if (backend == "ref") return ref::compile(std::move(graph));
  if (backend == "cpu" || backend == "auto") return cpu::compile(std::move(graph));
  return Status::error("unknown backend '" + std::string(backend) + "' (use cpu or ref)");
}

}  // namespace resr::engine
