// A conv step with its whole epilogue (passes::ConvEpilogue: bias, activation or PReLU, output scale, residual
// sums) as one cuDNN graph-API operation graph with fp32 arithmetic. cuDNN's runtime-fusion engines compile it
// into one kernel, so the conv's raw result never goes to memory and back for a separate epilogue pass (the
// legacy path: cudnnConvolutionForward, then kernels.h conv_epilogue).
//
// The epilogue is epilogue_chain.h's chain of pointwise ops; its constants are per-channel fp32 tensors
// broadcast like the bias, passed as data (FusedConvData::constants). Conv inputs are fp16, or int8 for INT8
// convs (symmetric; make_int8), or FP8 E4M3 for FP8 convs (make_fp8; Hopper's FP8 tensor cores), never fp32 (whose
// engines could down-convert to TF32); residuals and outputs are fp16 or fp32 (FusedConvSpec::activations), or
// int8 / E4M3 where an INT8 / FP8 conv hands over to the next.
//
// Building (graph, heuristics, plan compilation) can work from device properties alone (FusedConvTarget), so
// tests/cuda/test_fused_conv_build.cpp builds the real models' graphs without a GPU. Choosing among the
// compiled plans and running them needs the GPU.
#pragma once

#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/cuda/backend_descriptor.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/device_layout.h"
#include "backends/cuda/epilogue_chain.h"
#include "backends/cuda/plan_cache.h"
#include "passes/fused_steps.h"

namespace resr::cuda {

enum class FusedType { kHalf, kFloat, kInt8, kFp8 };  // kFp8: E4M3

// Where a [c, h, w] tensor lies: its strides and the byte alignment of its start.
struct TensorPlace {
  int c = 0, h = 0, w = 0;
  Strides s;
  int alignment = 16;
};

struct FusedConvSpec {
  TensorPlace x, y;
  int kernel_h = 3, kernel_w = 3, pad = 1, stride = 1, dilation = 1;
  bool nhwc_filter = true;                   // weights [oc][kh][kw][ic], else [oc][ic][kh][kw]
  FusedType input = FusedType::kHalf;        // x and the weights (kInt8: int32 sums; kInt8, kFp8: dequantize)
  FusedType activations = FusedType::kHalf;  // the residuals, and y unless epilogue.quantize_output says otherwise
  EpilogueForm epilogue;
  TensorPlace residuals[passes::kMaxResiduals];

  // Equal keys: the same graph (plans are shared between steps of equal key; constant values are data).
  std::string key() const;
  // The key without the tensors' heights and widths: graphs of equal topology differ only in their size.
  std::string topology() const;

 private:
  std::string describe(bool with_size) const;
};

// The values of the chain's constant tensors, [k][y.c] (FusedConvData::constants).
std::vector<float> fused_constants(const FusedConvSpec& spec);

// The spec of conv step `s` placed by `memory` in `layout`, activations of type `activations`.
FusedConvSpec fused_conv_spec(const passes::Step& s, const DeviceLayout& memory, Layout layout,
                              FusedType activations = FusedType::kHalf);
// The INT8 form of a spec: x is a packed int8 NHWC buffer of x.c channels and the sums are dequantized first;
// with handover_scale > 0, y is the next INT8 conv's packed int8 input, quantized with that scale.
void make_int8(FusedConvSpec& spec, float handover_scale);
// The FP8 form: x is a packed E4M3 NHWC buffer of x.c channels (x / in_scale), the weights E4M3 (w / weight
// scale), the fp32 sums dequantized first (in_scale x weight scale per channel); y as the spec had it, or with
// handover_scale > 0 the next FP8 conv's packed E4M3 input, y / handover_scale saturated.
void make_fp8(FusedConvSpec& spec, float handover_scale);
// FP8 dense blocks (passes/code_blocks.h), after make_fp8: x is the first x.c channels of a packed E4M3 buffer of
// `block_channels` (its data pointer at the buffer's start); and a part's producer writes y in E4M3 (y / scale,
// saturated) as a channel range of such a buffer (its data pointer at the range).
void read_fp8_block(FusedConvSpec& spec, int block_channels);
void write_fp8_block(FusedConvSpec& spec, int block_channels, float scale);
// Whether the graph form above can express the step: an epilogue, no zero residual scale, and every tensor of
// whole 16-byte channel vectors (channels a multiple of 8, 16-byte aligned), as the fusion engines need.
bool fusable(const FusedConvSpec& spec);

// Device pointers of one run; unused ones (bias, slopes, dequantization factors, residuals) may be null.
struct FusedConvData {
  const void* x = nullptr;
  const void* w = nullptr;
  const float* bias = nullptr;
  const float* slopes = nullptr;
  const float* dequant = nullptr;
  const float* constants = nullptr;  // fused_constants(spec) on the device
  const void* residuals[passes::kMaxResiduals] = {};
  void* y = nullptr;
};

// Kernels shared by graphs of one topology (FusedConvSpec::topology) at different sizes: cuDNN's kernel cache,
// which works on dynamic-shape graphs (compiled for any height and width). A new input size then binds the
// kernels compiled for an earlier one instead of compiling its own (x4plus: 10 graphs of a second size in
// about 15 ms instead of 3.3 s here). Plans of one topology are finalized one at a time. Threads: safe.
class ShapeKernels {
 public:
  struct Shared {
    const BackendDescriptor* cache;
    std::mutex* mutex;  // held while a plan finalizes with the cache
  };
  // The cache of `topology`, made with `graph` (the first of that topology) when new.
  Result<Shared> for_graph(const std::string& topology, const BackendDescriptor& graph);
  // Drops every cache (before the handle the plans were built on goes).
  void clear() {
    const std::lock_guard<std::mutex> lock(mutex_);
    caches_.clear();
  }

 private:
  struct Entry {
    BackendDescriptor cache;
    std::mutex mutex;
  };
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Entry>> caches_;
};

// What plans are built for: the GPU behind a cuDNN handle (any cuDNN 9), or device properties alone (cuDNN >=
// 9.8, backend_descriptor.h; no GPU needed). With a cache (plan_cache.h, scoped to that GPU and cuDNN), a graph
// whose plan was chosen before loads it instead of compiling (FusedConv::remember stores the chosen one). With
// shape kernels, graphs are built with dynamic shapes and share compiled kernels across sizes.
struct FusedConvTarget {
  cudnnHandle_t handle = nullptr;
  const BackendDescriptor* device = nullptr;
  CacheView cache;
  ShapeKernels* kernels = nullptr;
};

class FusedConv {
 public:
  // The graph, and the execution plans cuDNN compiles for it on `target` from the first `max_tries` engine
  // configurations its heuristics propose; or the one plan the target's cache holds for the graph's signature
  // (from_cache()), when cuDNN accepts it. Error: cuDNN rejects the graph or proposes nothing; plan_count() == 0
  // when no proposed engine could be compiled (outcomes() says why).
  static Result<std::unique_ptr<FusedConv>> build(const FusedConvSpec& spec, const FusedConvTarget& target,
                                                  int max_tries);
  FusedConv(const FusedConv&) = delete;
  FusedConv& operator=(const FusedConv&) = delete;
  ~FusedConv();

  std::size_t plan_count() const { return plans_.size(); }
  struct PlanOutcome {
    long long engine = -1;  // cuDNN's global engine index
    cudnnStatus_t status;   // of compiling the plan
  };
  const std::vector<PlanOutcome>& outcomes() const { return outcomes_; }
  std::size_t max_workspace_bytes() const;  // over the candidate plans
  // The outcomes and the chosen engine, for reports.
  std::string describe() const;
  // Everything the graph is built from (places, types, the conv and the chain's ops), in order: equal
  // signatures, the same graph. The cache's key.
  const std::string& signature() const { return signature_; }
  bool from_cache() const { return from_cache_; }
  // Stores the chosen plan (cuDNN's JSON form) in `cache` under the signature, unless it came from there.
  void remember(const CacheView& cache) const;
  // Drops the cached plan of graphs of `signature` from `cache`: it no longer runs, and nothing replaced it.
  static void forget(const CacheView& cache, const std::string& signature);

  // On the GPU: times every candidate on `data` (which it overwrites) and keeps the fastest. `workspace` holds
  // at least max_workspace_bytes().
  Status choose(cudnnHandle_t handle, const FusedConvData& data, void* workspace, cudaStream_t stream);
  std::size_t workspace_bytes() const;  // the chosen plan's
  // Running the chosen plan (the first before choose()) in two parts: `data` and `workspace` bound once (cuDNN's
  // variant pack; a step's pointers are fixed for a memory plan), then launched as often as needed without
  // building the pack again. launch: an error when no plan compiled.
  Result<BackendDescriptor> bind(const FusedConvData& data, void* workspace) const;
  Status launch(cudnnHandle_t handle, const BackendDescriptor& bound) const;

 private:
  FusedConv() = default;
  struct Plan {
    BackendDescriptor plan;
    std::size_t workspace = 0;
    long long engine = -1;
  };
  Status execute(cudnnHandle_t handle, const Plan& p, const FusedConvData& data, void* workspace) const;
  static Result<Plan> load_plan(const std::string& entry, const FusedConvTarget& target);

  std::vector<PlanOutcome> outcomes_;
  std::vector<Plan> plans_;
  std::size_t chosen_ = 0;
  std::string signature_;
  bool from_cache_ = false;
  bool has_bias_ = false, per_channel_slopes_ = false, dequantize_ = false;
  int residual_count_ = 0, constant_count_ = 0, channels_ = 0;
};

// Builds every spec's FusedConv (FusedConv::build), `threads` at a time: compiling is CPU work that cuDNN allows
// from several threads, but not on one handle at once, so a target with a handle is built on one thread whatever
// `threads` says (device properties alone take any number). `conv` is null where the build failed (`status` says why).
struct FusedBuild {
  std::unique_ptr<FusedConv> conv;
  Status status;
};
std::vector<FusedBuild> build_fused_convs(const std::vector<FusedConvSpec>& specs, const FusedConvTarget& target,
                                          int max_tries, int threads);

}  // namespace resr::cuda
