// Executable: a model compiled for one backend. Compilation (kernel choice, weight packing) happens when it
// is made; run() only checks the input shape and executes.
//
//   std::unique_ptr<Executable> exe = ...;              // ref::compile(graph) or cpu::compile(graph)
//   Result<Tensor> out = exe->run(rgb);                 // rgb: 3 x H x W in [0,1]; out: 3 x sH x sW, unclamped
//
// Threads: run() is not reentrant; use one Executable per thread that runs concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "core/tensor.h"

namespace resr {

class Executable {
 public:
  virtual ~Executable() = default;
  [[nodiscard]] virtual Result<Tensor> run(const Tensor& input) = 0;
  // Bytes of working memory a run on an h x w input takes (activations, input and output tensors; not the
  // weights). Used to size tiles to a memory budget.
  [[nodiscard]] virtual Result<std::uint64_t> working_bytes(int h, int w) = 0;
  virtual std::string backend_name() const = 0;
};

}  // namespace resr
