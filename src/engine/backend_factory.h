// Backend selection by name: "cpu" (AVX2/FMA when the CPU has it, portable kernels otherwise), "ref", "cuda"
// (when built with it), or "auto": cuda when this resr has the CUDA backend, a GPU is present and the graph
// has no INT8 convs, or has FP8 ones (made for Hopper: the CPU only emulates FP8); cpu otherwise. (An INT8 graph
// takes the CUDA INT8 path, symmetric tables only, when asked for by name until that has been measured against
// the CPU's.)
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "backends/executable.h"
#include "ir/graph.h"

namespace resr::cpu {
class PackCache;
}  // namespace resr::cpu

namespace resr::engine {

// The backends this resr was built with, for `resr --version`: "cpu, ref", and ", cuda" with the CUDA backend.
std::string built_backends();

// The backend `backend` stands for: "auto" resolved as above, any other name as it is.
std::string resolve_backend(const ir::Graph& graph, std::string_view backend);

// The GPU's start-up (CUDA context, cuDNN) in the background while it lives, when `backend` may be cuda ("cuda",
// "auto"), so that it overlaps reading the model; the next CUDA executable made meanwhile uses what it made. The
// destructor waits for it and releases what nobody used. Does nothing for other backends.
class GpuWarmUp {
 public:
  explicit GpuWarmUp(std::string_view backend);
  ~GpuWarmUp();
  GpuWarmUp(const GpuWarmUp&) = delete;
  GpuWarmUp& operator=(const GpuWarmUp&) = delete;

 private:
  bool started_ = false;
};

// How a backend may run the graph. fp32_as_fp16: the CUDA backend runs a graph whose convs are all FP32 in FP16
// (binary16 weights and activations, fp32 sums), as PyTorch Real-ESRGAN runs half precision on GPUs unless told
// --fp32 (the golden cases: >= 50 dB against FP32). Other backends, and graphs with FP16, INT8 or FP8 convs, run
// as they are. cpu_pack_cache: the CPU backend takes packed convs from there and keeps new ones there
// (backends/cpu/pack_cache.h), for callers that compile many variants of one model. cpu_bf16: the CPU backend
// multiplies in bfloat16 where the CPU has AVX512_BF16 (cpu::FloatProducts::kBf16; faster, less exact); other
// backends ignore it.
struct BackendOptions {
  bool fp32_as_fp16 = false;
  cpu::PackCache* cpu_pack_cache = nullptr;
  bool cpu_bf16 = false;
};

[[nodiscard]] Result<std::unique_ptr<Executable>> make_executable(std::shared_ptr<const ir::Graph> graph,
                                                                  std::string_view backend,
                                                                  const BackendOptions& options = {});

}  // namespace resr::engine
