// The CUDA executable (executor.h) as one class, shared by the files that define its parts:
//   executor.cpp              set-up from the graph, runs (tensors and pixels), memory figures, the report's name;
//   executor_planning.cpp     the plan for an input size: memory, staging, conv algorithms, the paths chosen;
//   executor_fused.cpp        fused cuDNN conv graphs: compiled (in parallel), timed, checked and kept where faster;
//   executor_steps.cpp        launching the steps: convs on their chosen path, epilogues, element steps, observers,
//                             and one step on test data for the checks of one path against another;
//   executor_tensor_convs.cpp resr's tensor-core convs: which convs run them, their hand-overs and dense blocks.
// Private to the backend: nothing outside src/backends/cuda includes it.
#pragma once

#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "backends/cuda/compile_target.h"
#include "backends/cuda/conv_algorithm.h"
#include "backends/cuda/conv_path.h"
#include "backends/cuda/conv_weights.h"
#include "backends/cuda/device.h"
#include "backends/cuda/device_layout.h"
#include "backends/cuda/fused_conv.h"
#include "backends/cuda/kernels.h"
#include "backends/cuda/plan_cache.h"
#include "backends/cuda/step_graph.h"
#include "backends/cuda/step_timer.h"
#include "backends/cuda/tensor_conv.h"
#include "backends/cuda/tensor_verdict.h"
#include "backends/executable.h"
#include "ir/graph.h"
#include "passes/code_blocks.h"
#include "passes/fused_steps.h"

namespace resr::cuda {

// ic, oc, kh, kw, pad, stride, dilation, h, w, input and output pixel strides (NHWC slices may take other
// algorithms) and INT8 or not
using AlgoKey = std::tuple<int, int, int, int, int, int, int, int, int, std::size_t, std::size_t, bool>;

// Everything sized for one input size: the arena, the conv algorithms, the staging buffers, the CUDA graph.
struct Plan {
  DeviceLayout memory;
  DeviceBuffer arena, workspace;
  std::vector<AlgoChoice> algos;       // per step (convs only)
  std::vector<std::string> no_legacy;  // per step: why a fused conv has no legacy algorithm, or empty
  // Per step: the conv's legacy path runs on packed copies of its strided NHWC input and output (stage_in,
  // stage_out), because cuDNN gave no legacy algorithm for the channel slices themselves (seen on an H200,
  // cuDNN 9.19: x4plus's first conv, 3 -> 64 into its dense block's 192 channels).
  std::vector<bool> staged;
  DeviceBuffer stage_in, stage_out;
  std::vector<const FusedConv*> fused;  // per step: the conv's fused graph (RESR_CUDA_FUSED=1), else null
  // Per step: the launch of resr's tensor-core kernel (tensor_conv.h; RESR_CUDA_TENSOR_CONV) that runs the conv.
  std::vector<std::optional<TensorConvLaunch>> tensor;
  // Per step: an 8-bit conv that the kernel runs and that writes the next one's codes, which the kernel runs too
  // (CudaExecutable::tensor_link_); set once the plan's tensor-core convs are chosen.
  std::vector<bool> tensor_handover;
  std::vector<BackendDescriptor> fused_bound;  // per step: its pointers bound on the first run (FusedConv::bind)
  DeviceBuffer device_io;                      // fp32 tensors or raw pixels on their way in and out
  // INT8 and FP8 convs: the quantized inputs (int8 or E4M3; two, so that a conv handing over to the next writes
  // the other one). INT8's legacy path: the int32 sums as fp32 (NHWC).
  std::array<DeviceBuffer, 2> quant_in;
  DeviceBuffer int8_acc;
  // Dense blocks (passes/code_blocks.h): one buffer of codes per slot (E4M3 for the fused FP8 graphs; int8 or
  // E4M3 on the tensor-core kernel); per block, whether it is shared in this plan (every reader and direct writer
  // got its fused graph, or runs on the kernel and it accepts their codes: share_tensor_blocks).
  std::vector<DeviceBuffer> block_buf;
  std::vector<bool> block_on;
  PinnedBuffer host_in, host_out;
  StepGraph graph;  // the steps, captured on the first run
};

class CudaExecutable final : public Executable {
 public:
  CudaExecutable(std::shared_ptr<const ir::Graph> g, bool fp32_as_fp16)
      : g_(std::move(g)), fp32_as_fp16_(fp32_as_fp16) {}
  ~CudaExecutable() override;

  Status init();

  // Whether fused graphs compile for the GPU's properties (compile_properties_, parallel_compile_), else why not
  // (compile_report_.handle_reason).
  void choose_compile_target();

  // Per step: a conv for which `member(s)` holds (the members of dense blocks of codes).
  template <class Member>
  std::vector<bool> convs_where(Member member) const {
    std::vector<bool> members(steps_.size(), false);
    for (std::size_t s = 0; s < steps_.size(); ++s) members[s] = steps_[s].kind == passes::StepKind::kConv && member(s);
    return members;
  }
  // FP8 convs (the fused FP8 graphs' blocks); INT8 or FP8 convs of the tensor-core kernel's form (its blocks).
  std::vector<bool> fp8_convs() const {
    return convs_where([&](std::size_t s) { return steps_[s].node->quant.precision == ir::Precision::kFp8; });
  }
  std::vector<bool> quantized_tensor_convs() const {
    return convs_where(
        [&](std::size_t s) { return ir::is_quantized(steps_[s].node->quant.precision) && quantized_tensor_form(s); });
  }

  // INT8 conv -> INT8 conv, and FP8 -> FP8, where the next step is the value's only reader (and for INT8 the
  // channels need no padding): the first may write the second's quantized input itself, and the value is then
  // not stored. Whether it does in a plan: hands_over; or where both have the tensor-core kernel's form,
  // tensor_hands_over.
  void link_handovers();

  // Whether conv step s writes the next conv's quantized input in this plan instead of its own output. INT8: its
  // fused graph or the legacy epilogue kernel (int8_epilogue) does. FP8: only its fused graph can write E4M3, and
  // only the next conv's fused graph reads it (prepare_fused_convs keeps such pairs fused together or not at
  // all). Never while observed: an observer reads the fp values.
  bool hands_over(const Plan& p, std::size_t s) const {
    if (!handover_[s] || observer_) return false;
    return convs_[conv_of_step_[s]].int8 || p.fused[s] != nullptr;
  }
  // Whether conv step s, on the tensor-core kernel, writes the next conv's codes in this run (the next one then
  // reads them): both run the kernel in this plan, and the run is not observed (an observer reads fp values).
  bool tensor_hands_over(const Plan& p, std::size_t s) const {
    return !observer_ && s < p.tensor_handover.size() && p.tensor_handover[s];
  }

  // Whether conv step s has per-channel INT8 input scales. quantize_nhwc_s8 and the tensor-core kernel (as it
  // loads, as it hands codes over, and so its dense blocks) quantize by them; the cuDNN paths' epilogues that hand
  // codes over (int8_epilogue, the fused graphs) quantize by one scale.
  bool per_channel_input(std::size_t s) const { return !steps_[s].node->quant.in_channel_scales.empty(); }
  // Whether the tensor-core kernel may quantize conv step s's input, or hand its codes to it, by its per-channel
  // scales (ConvWeights::kernel_quantizable): always where it has none.
  bool kernel_quantizes_input(std::size_t s) const { return convs_[conv_of_step_[s]].kernel_quantizable; }

  // Whether conv step s has the form of the tensor-core kernel with 8-bit products (tensor_conv_math.h computes),
  // and scales the kernel quantizes by (kernel_quantizes_input).
  bool quantized_tensor_form(std::size_t s) const {
    const ir::ConvParams& c = steps_[s].node->conv;
    return kernel_quantizes_input(s) &&
           tensor_conv::computes(c.in_channels, c.out_channels, c.kernel_h, c.kernel_w, c.stride, c.pad, c.dilation,
                                 tensor_conv::Products::kInt8);
  }

  void* quant_input(const Plan& p, std::size_t step) const { return p.quant_in[quant_slot_[step]].get(); }

  // Whether dense block b is shared in this run: on in the plan, and for the tensor-core kernel's blocks, not
  // observed (an observer reads fp values; the kernel's readers then quantize as they load).
  bool block_in_use(const Plan& p, int b) const { return p.block_on[std::size_t(b)] && !(tensor_blocks_ && observer_); }
  // The dense block step s reads, or writes a part of, in this run (-1: none).
  int block_read(const Plan& p, std::size_t s) const {
    const int b = blocks_.reader_of[s];
    return b >= 0 && block_in_use(p, b) ? b : -1;
  }
  int block_written(const Plan& p, std::size_t s) const {
    const int b = blocks_.writer_of[s].first;
    return b >= 0 && block_in_use(p, b) ? b : -1;
  }
  char* block_data(const Plan& p, int b) const {
    return static_cast<char*>(p.block_buf[std::size_t(blocks_.blocks[std::size_t(b)].slot)].get());
  }

  Result<Tensor> run(const Tensor& input) override;

  bool has_pixel_path() const override {
    return g_->values[g_->input].channels == 3 && g_->values[g_->output].channels == 3;
  }

  Status run_pixels(const PixelRect& in, int crop_x, int crop_y, const PixelWindow& out, PixelRunTimes* times) override;

  double last_device_ms() const override { return last_device_ms_; }
  // Whether the last run's steps ran as the plan's captured CUDA graph (false: launched one by one, as chosen, or
  // because capture failed, which is silent). For the tests: that graphs are really used.
  bool last_run_replayed_graph() const { return last_run_replayed_graph_; }
  // How many plans (one per input size in turn: arena, algorithms, fused graphs, CUDA graph) were made so far.
  int plans_made() const { return plans_made_; }

  // From the memory plan alone (no allocation, no algorithm search): the arena, the staging buffer, the INT8 and
  // FP8 convs' quantized inputs, int32 sums and dense blocks' shared codes, and the conv workspace of the
  // current plan or an allowance for it.
  // Not the dense copies of staged slices (Plan::staged): which convs need them is known only once their
  // algorithms are searched (on the H200, x4plus's first conv: 64 channels at the input size, a few percent of
  // the arena).
  Result<std::uint64_t> working_bytes(int h, int w) override;

  bool plans_per_input_size() const override { return true; }

  std::uint64_t max_run_pixels() override { return max_input_pixels(*g_, steps_, dtype_bytes(dtype_), layout_); }

  std::uint64_t memory_budget_hint() override;

  std::string backend_name() const override;

  void set_observer(ActivationObserver observer) override { observer_ = std::move(observer); }

  void set_step_timing(bool on) override {
    timing_ = on;
    timer_.clear();
  }
  std::vector<StepTime> step_times() const override { return timer_.times(); }

 private:
  // The packed NHWC int8 input / fp32 sums of an INT8 conv, as cuDNN's int8 configuration takes them.
  static Status set_int8_descs(cudnnTensorDescriptor_t x, cudnnTensorDescriptor_t y, const ConvWeights& c, Shape in,
                               Shape out);

  cudnnDataType_t cudnn_type() const { return dtype_ == DType::kF16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT; }

  void* at(const Plan& p, int value) const { return static_cast<char*>(p.arena.get()) + p.memory.offset[value]; }

  // An NHWC value that is a channel slice of a wider storage (a concat member), not a dense tensor.
  bool strided(const Plan& p, int value) const {
    return layout_ == Layout::kNhwc && p.memory.strides[value].ps != std::size_t(p.memory.shapes[value].c);
  }
  // A dense NHWC tensor of shape s: a staged conv's view of its input and output.
  static Planes packed_nhwc(void* data, Shape s) { return Planes{data, s.c, s.h, s.w, Strides{1, std::size_t(s.c)}}; }
  // Where a staged conv (Plan::staged) reads its input and writes its raw output: the value itself when dense,
  // else the stage buffer.
  void* staged_in(const Plan& p, int value) const { return strided(p, value) ? p.stage_in.get() : at(p, value); }
  void* staged_out(const Plan& p, int value) const { return strided(p, value) ? p.stage_out.get() : at(p, value); }
  // The stage buffers, large enough for step st's strided input and output.
  Status reserve_stages(Plan& p, const passes::Step& st);

  // A value as cuDNN sees it: its shape and strides (an NHWC concat member is a strided channel slice).
  Status set_desc(cudnnTensorDescriptor_t d, const Plan& p, int value) { return set_desc(d, planes(p, value)); }
  Status set_desc(cudnnTensorDescriptor_t d, const Planes& v);

  Planes planes(const Plan& p, int value) const {
    const Shape s = p.memory.shapes[value];
    return Planes{at(p, value), s.c, s.h, s.w, p.memory.strides[value]};
  }
  static Planes nchw(void* data, Shape s) { return Planes{data, s.c, s.h, s.w, Strides{std::size_t(s.h) * s.w, 1}}; }

  void drop_plan() {
    plan_ = Plan();
    plan_key_ = {0, 0};
  }

  // The INT8 and FP8 convs' buffers for a memory plan: the largest quantized input (int8 with channels padded to 4,
  // or E4M3), of which a plan has two where convs hand over (two_quant_inputs); the largest int32 sums of INT8's
  // legacy path (as fp32).
  struct QuantizedBytes {
    std::size_t quant_in = 0, int8_acc = 0;
  };
  QuantizedBytes quantized_bytes(const DeviceLayout& m) const;
  // The dense blocks' shared copies of codes (passes/code_blocks.h; a byte a code): per slot, the largest block
  // it holds.
  std::vector<std::size_t> block_slot_bytes(const DeviceLayout& m) const;
  bool two_quant_inputs() const {
    return std::find(handover_.begin(), handover_.end(), true) != handover_.end() ||
           std::find(tensor_link_.begin(), tensor_link_.end(), true) != tensor_link_.end();
  }

  // The plan for an input size (one at a time, so memory follows the current size).
  Result<Plan*> plan_for(int h, int w);

  // Every conv step that can run as one fused cuDNN graph gets it (p.fused): compiled once per distinct structure
  // (fused_conv.h), all new ones in parallel, then timed one by one. Steps that are not fusable, or for which
  // cuDNN compiles or runs no plan, stay null and take the legacy path. The timing runs write the steps' output
  // places, which hold nothing yet.
  Status prepare_fused_convs(Plan& p, DeviceBuffer& find_workspace);

  // RESR_CUDA_FUSED=auto: each fused conv keeps its graph only where its output agreed with its legacy path's on
  // test data and it ran faster (conv_path.h); the convs of one graph share the choice, which the plan cache keeps.
  // A conv without a legacy algorithm (no_legacy) keeps its graph unchecked and untimed, whatever the others of its
  // graph do. Returns "fused K of N convs" (and how many graphs differed), for the planning report.
  Result<std::string> keep_faster_paths(Plan& p);
  // keep_faster_paths for conv step s and its graph p.fused[s]: checked on test data first (a graph that differs
  // takes the legacy path, untimed), then both paths timed. The runs write the step's input, residual and output
  // places, which hold nothing yet. Without memory for the check: the legacy path, not kept. An error only when
  // the GPU fails. `reference` and `result`: the check's buffers, reused from step to step.
  Result<ConvPathChoice> decide_conv_path(std::size_t s, Plan& p, DeviceBuffer& reference, DeviceBuffer& result);
  // Test data (fill_test_pattern) in conv step s's input and residual places, the same at every call: checks of
  // one path against another run the step on it.
  void fill_conv_inputs(const Plan& p, std::size_t s);
  // The largest |output - reference| of conv step s (reference: dense, of the output's shape) and the largest
  // |reference|, read back through `result` (two device floats); an error only when the GPU fails (in `what`).
  Result<std::array<float, 2>> output_difference(const Plan& p, std::size_t s, const Planes& reference,
                                                 DeviceBuffer& result, const std::string& what);

  FusedConvData fused_data(std::size_t index, const Plan& p) const;

  // The conv's algorithm (conv_algorithm.h), once per geometry. The search writes the conv's output place in the
  // arena, which holds nothing yet: plans are made before a run places any value.
  // staged: for the conv on dense copies of its input and output (Plan::staged; the stage buffers reserved).
  Result<AlgoChoice> choose_algo(const passes::Step& st, const Plan& p, const DeviceBuffer& find_workspace,
                                 bool staged = false);

  // The steps' device time, between events_[1] and events_[2] (after a synchronise).
  Status note_device_time();

  // The steps: replayed as one CUDA graph (captured on the plan's first run), or launched one by one when
  // graphs are off (RESR_CUDA_GRAPHS=0), failed to capture, or the run is observed or timed.
  Status run_steps(Plan& p);

  Status launch_steps(Plan& p);

  Status execute(std::size_t index, Plan& p);

  // cuDNN writes the raw conv into the step's output; one pass applies bias, activation and residuals.
  Status conv(std::size_t index, Plan& p);

  TensorConvArgs tensor_args(std::size_t index, const Plan& p) const;

  // Conv step s's per-channel input scales on the device (ConvWeights::channel_quant), or null (per tensor).
  const float* channel_quant(std::size_t s) const {
    return static_cast<const float*>(convs_[conv_of_step_[s]].channel_quant.get());
  }
  // The per-channel scales of dense block b's part `part` (its channels' pairs in its widest reader's, whose
  // scales cover every part: passes/code_blocks.h), or null where the block's readers have none.
  const float* block_channel_quant(int b, int part) const;

  // RESR_CUDA_TENSOR_CONV: which convs run resr's tensor-core kernel (tensor_conv.h) instead of their cuDNN path.
  // =1: every one it can run. =auto: those for which, on test data, it matched the step's cuDNN path (within 1e-2
  // of the larger of 1 and the largest output) and ran faster; convs of one geometry share the verdict. The test
  // runs write the steps' input, residual and output places, which hold nothing yet. Returns "resr tensor-core
  // convs K of N", and why any was refused, for the planning report.
  Result<std::string> choose_tensor_convs(Plan& p);

  // Whether the tensor-core kernel may run conv steps s and s + 1 with s writing the codes s + 1 reads (dense in
  // the plan's quant_in buffers): tensor_conv_refusal of both, so reading and writing, says nothing.
  bool handover_codes_fit(std::size_t s, const Plan& p) const;

  // Conv step `index`'s arguments on the tensor-core kernel in this run: its hand-overs and dense blocks.
  TensorConvArgs tensor_run_args(std::size_t index, const Plan& p) const;

  // `a` with the dense blocks of the tensor-core kernel that conv step `index` reads (its input: a prefix of the
  // block's codes) or writes a part of (its output: that part's channels, as the block's codes), in this run.
  TensorConvArgs with_block_codes(TensorConvArgs a, std::size_t index, const Plan& p) const;

  // The tensor-core kernel's dense blocks in this plan (with the plan's tensor-core convs and hand-overs chosen,
  // no observer): a block is shared where every reader and direct writer runs on the kernel and the kernel
  // accepts its codes there (tensor_conv_refusal of tensor_run_args). A step's arguments depend on the blocks it
  // reads and writes, so refusals turn blocks off until none is left. Returns how many are shared.
  int share_tensor_blocks(Plan& p) const;

  // Conv step `index`'s tensor_args `a` with its hand-overs: codes_in, the input read as the previous conv's
  // codes from quant_input(index); codes_out, the output written as the next conv's codes (its input scale) into
  // quant_input(index + 1); both dense NHWC.
  TensorConvArgs with_codes(TensorConvArgs a, std::size_t index, const Plan& p, bool codes_in, bool codes_out) const;

  TensorConvForm tensor_form(std::size_t s) const {
    const ir::ConvParams& cp = steps_[s].node->conv;
    return TensorConvForm{cp.kernel_h, cp.kernel_w, cp.stride, cp.pad, cp.dilation};
  }

  // What the tensor-core conv's verdict depends on: the geometry, the epilogue's form, the step's own path and its
  // quantization (INT8 by one scale or per channel, FP8).
  std::string tensor_key(std::size_t s, const Plan& p) const;

  // RESR_CUDA_TENSOR_CONV=auto for conv step s of geometry `key` (tensor_key): the launch of the cut that runs
  // it, or nothing for its cuDNN path. From the plan cache (tensor_verdict.h) when an earlier process on this GPU
  // decided it and the cut still fits; else decided here (try_tensor_conv) and stored.
  // `a`: the step's tensor_args.
  Result<std::optional<TensorConvLaunch>> tensor_verdict(std::size_t s, Plan& p, const TensorConvArgs& a,
                                                         const std::string& key, DeviceBuffer& reference,
                                                         DeviceBuffer& result, std::set<std::string>& notes);

  // RESR_CUDA_TENSOR_CONV=auto for conv step s: each cut of the kernel that fits the device
  // (tensor_conv_cuts), run on the same test data as the step's cuDNN path and compared; those that match are
  // timed against that path. The verdict: the fastest matching cut if it beat cuDNN, else none. The times (or a
  // mismatch, or no memory for the comparison) go to `notes`; an error only when the GPU fails.
  Result<TensorVerdict> try_tensor_conv(std::size_t s, Plan& p, const TensorConvArgs& a, DeviceBuffer& reference,
                                        DeviceBuffer& result, std::set<std::string>& notes);

  EpilogueArgs epilogue_args(const passes::Step& s, const ConvWeights& c, const Plan& p) const;

  // Calibration support: the conv input downloaded as fp32.
  Status observe(const Plan& p, int value);

  std::shared_ptr<const ir::Graph> g_;
  bool fp32_as_fp16_ = false;
  DType dtype_ = DType::kF32;
  Layout layout_ = Layout::kNchw;
  bool use_graphs_ = true, find_algos_ = true, fuse_ = false;
  bool stage_slices_ = false;  // RESR_CUDA_STAGE_SLICES=1: every stageable legacy conv staged (Plan::staged)
  bool choose_paths_ = false;  // RESR_CUDA_FUSED=auto in a plain fp16 graph: keep_faster_paths
  enum class TensorMode { kOff, kEvery, kWhereFaster };  // RESR_CUDA_TENSOR_CONV unset or 0, =1, =auto
  TensorMode tensor_mode_ = TensorMode::kOff;
  bool prefer_warpgroup_ = false;
  // spec key -> graph (null: not fusable); a few input sizes' worth (x4plus has about ten conv shapes per size)
  static constexpr std::size_t kMaxCachedFusedGraphs = 256;
  std::map<std::string, std::unique_ptr<FusedConv>> fused_cache_;
  std::vector<DeviceBuffer> fused_constants_;              // per step: its graph's constants
  std::vector<std::vector<float>> fused_constant_values_;  // ... as uploaded
  passes::CodeBlockPlan blocks_;
  bool tensor_blocks_ = false;  // blocks_ are the tensor-core kernel's (INT8 or FP8 codes), not the fused FP8 graphs'

  PlanCache plan_cache_;
  CacheView cache_view_;  // plan_cache_ scoped to this GPU; none when the device cannot be named
  // RESR_CUDA_DYNAMIC_SHAPES=1: fused graphs of every input size share compiled kernels (fused_conv.h).
  bool dynamic_shapes_ = false;
  ShapeKernels shape_kernels_;
  // The GPU's properties, which fused graphs compile for while parallel_compile_ (device_properties_of); kept while
  // plans made for them live.
  std::optional<BackendDescriptor> compile_properties_;
  bool parallel_compile_ = false;
  bool deviceless_proven_ = false;                  // such plans ran on this GPU before (the plan cache's verdict)
  const char* trying_verdict_ = kDevicelessTrying;  // left in the plan cache while first running such plans
  FusedCompileReport compile_report_;               // the current size's, for its planning line
  cudaStream_t stream_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  cudnnTensorDescriptor_t x_desc_ = nullptr, y_desc_ = nullptr;
  std::vector<passes::Step> steps_;
  std::vector<int> conv_of_step_;  // per step: index into convs_, -1 for other steps
  std::vector<bool> handover_;     // per step: a conv that may write the next conv's quantized input (hands_over)
  // per step: likewise where both have the tensor-core kernel's form (tensor_hands_over); RESR_CUDA_TENSOR_HANDOVER=0
  // turns these off (tensor_handovers_), for comparison
  std::vector<bool> tensor_link_;
  bool tensor_handovers_ = true;
  std::vector<int> quant_slot_;  // per step: which of the plan's quant_in buffers an INT8 or FP8 conv reads
  std::vector<ConvWeights> convs_;
  std::map<const ir::Node*, DeviceBuffer> prelu_slopes_;
  std::map<AlgoKey, AlgoChoice> algo_cache_;
  Plan plan_;
  std::pair<int, int> plan_key_{0, 0};
  cudaEvent_t events_[4] = {};  // start, after upload, after the steps, after download (pixel runs use all)
  double last_device_ms_ = -1.0;
  bool last_run_replayed_graph_ = false;
  int plans_made_ = 0;
  ActivationObserver observer_;
  bool timing_ = false;
  StepTimer timer_;
};

}  // namespace resr::cuda
