// Executable: a model compiled for one backend. Compilation (kernel choice, weight packing) happens when it
// is made; run() only checks the input shape and executes.
//
//   std::unique_ptr<Executable> exe = ...;              // ref::compile(graph) or cpu::compile(graph)
//   Result<Tensor> out = exe->run(rgb);                 // rgb: 3 x H x W in [0,1]; out: 3 x sH x sW, unclamped
//
// Threads: run() is not reentrant; use one Executable per thread that runs concurrently.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "core/tensor.h"

namespace resr {

class Executable {
 public:
  virtual ~Executable() = default;
  [[nodiscard]] virtual Result<Tensor> run(const Tensor& input) = 0;
  virtual std::string backend_name() const = 0;
};

}  // namespace resr
