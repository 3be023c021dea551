#include "backends/cuda/executor.h"

#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "backends/cuda/compile_target.h"
#include "backends/cuda/conv_algorithm.h"
#include "backends/cuda/conv_path.h"
#include "backends/cuda/conv_weights.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/device.h"
#include "backends/cuda/device_layout.h"
#include "backends/cuda/element_steps.h"
#include "backends/cuda/fused_conv.h"
#include "backends/cuda/kernels.h"
#include "backends/cuda/plan_cache.h"
#include "backends/cuda/step_graph.h"
#include "backends/cuda/step_timer.h"
#include "backends/cuda/tensor_conv.h"
#include "backends/cuda/tensor_verdict.h"
#include "core/env.h"
#include "passes/code_blocks.h"
#include "passes/fused_steps.h"

namespace resr::cuda {
namespace {

using passes::ConvEpilogue;
using passes::Step;
using passes::StepKind;

constexpr std::uint64_t kWorkspaceAllowance = std::uint64_t{256} << 20;

constexpr int kFusedPlanTries = 3;  // engine configurations compiled and timed per fused graph

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Dense blocks: a part's channel offset must start a whole 16-byte vector (the fused graphs' alignment, and the
// tensor-core kernel's for codes it reads).
constexpr int kBlockAlignment = 16;

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
  ~CudaExecutable() override {
    // Everything built on the handle and stream (fused graphs' plans, descriptors, device buffers) goes first,
    // once nothing queued (a run that failed part way) still uses it.
    if (stream_ != nullptr) cudaStreamSynchronize(stream_);
    drop_plan();
    fused_cache_.clear();
    shape_kernels_.clear();
    compile_properties_.reset();
    fused_constants_.clear();
    convs_.clear();
    prelu_slopes_.clear();
    for (cudaEvent_t e : events_)
      if (e != nullptr) cudaEventDestroy(e);
    if (x_desc_ != nullptr) cudnnDestroyTensorDescriptor(x_desc_);
    if (y_desc_ != nullptr) cudnnDestroyTensorDescriptor(y_desc_);
    if (cudnn_ != nullptr) cudnnDestroy(cudnn_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  Status init() {
    bool has_int8 = false, has_fp8 = false, all_fp32 = true;
    for (const ir::Node& n : g_->nodes) {
      if (n.op != ir::Op::kConv2d) continue;
      all_fp32 = all_fp32 && n.quant.precision == ir::Precision::kFp32;
      if (n.quant.precision == ir::Precision::kInt8 && n.quant.asymmetric)
        return Status::error("the cuda backend runs symmetric INT8 only (" + n.name +
                             " has an asymmetric input); calibrate with a symmetric table");
      // FP8 convs run in fused graphs between fp16 activations (or, where cuDNN fuses none, in fp16).
      if (n.quant.precision == ir::Precision::kFp16 || n.quant.precision == ir::Precision::kFp8) dtype_ = DType::kF16;
      has_int8 = has_int8 || n.quant.precision == ir::Precision::kInt8;
      has_fp8 = has_fp8 || n.quant.precision == ir::Precision::kFp8;
    }
    if (all_fp32 && fp32_as_fp16_) dtype_ = DType::kF16;  // the weights are rounded to binary16 on upload
    use_graphs_ = !env_is("RESR_CUDA_GRAPHS", "0");
    layout_ = env_is("RESR_CUDA_LAYOUT", "nhwc") ? Layout::kNhwc : Layout::kNchw;
    // Fused conv graphs (fused_conv.h): fp16 or INT8 convs, channels-last (the fusion engines' layout).
    // FP8 arithmetic exists only in fused graphs, so FP8 models fuse unless RESR_CUDA_FUSED=0 says not to.
    const bool fused_auto = env_is("RESR_CUDA_FUSED", "auto");
    fuse_ = (env_is("RESR_CUDA_FUSED", "1") || fused_auto || (has_fp8 && !env_is("RESR_CUDA_FUSED", "0"))) &&
            (dtype_ == DType::kF16 || has_int8);
    if (fuse_) layout_ = Layout::kNhwc;
    // resr's tensor-core conv (tensor_conv.h): fp16, channels-last.
    // =warpgroup: every conv it can run, with the first cut of its warpgroup form where the device has one.
    prefer_warpgroup_ = env_is("RESR_CUDA_TENSOR_CONV", "warpgroup");
    tensor_handovers_ = !env_is("RESR_CUDA_TENSOR_HANDOVER", "0");
    tensor_mode_ = env_is("RESR_CUDA_TENSOR_CONV", "1") || prefer_warpgroup_ ? TensorMode::kEvery
                   : env_is("RESR_CUDA_TENSOR_CONV", "auto")                 ? TensorMode::kWhereFaster
                                                                             : TensorMode::kOff;
    // Its INT8 form reads and writes fp16 activations (quantizing as it loads; 8-bit codes only between two of its
    // convs): an INT8 model's activations are fp16 then, not fp32.
    if (tensor_mode_ != TensorMode::kOff && has_int8) dtype_ = DType::kF16;
    if (dtype_ != DType::kF16) tensor_mode_ = TensorMode::kOff;
    if (tensor_mode_ != TensorMode::kOff) layout_ = Layout::kNhwc;
    // auto: each conv on its faster path (conv_path.h), in plain fp16 graphs; quantized convs' hand-overs and
    // dense blocks tie their paths together, so there auto fuses as 1 does.
    choose_paths_ = fuse_ && fused_auto && !has_int8 && !has_fp8;
    find_algos_ = !env_is("RESR_CUDA_ALGO", "heuristic");
    stage_slices_ = env_is("RESR_CUDA_STAGE_SLICES", "1");
    // Compiled fused plans and measured algorithms from earlier processes on this GPU (plan_cache.h).
    plan_cache_ = PlanCache::from_environment("cuda");
    const std::string fingerprint = device_fingerprint();
    if (!fingerprint.empty()) cache_view_ = CacheView{&plan_cache_, fingerprint};
    dynamic_shapes_ = env_is("RESR_CUDA_DYNAMIC_SHAPES", "1");
    // A non-blocking stream, and everything on it (weight uploads included): while a blocking stream captures a
    // CUDA graph, the legacy default stream is unusable in every thread of the process.
    RESR_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    cudnn_ = take_warm_handle();  // made while the model was read (start_warm_up), if it was
    if (cudnn_ == nullptr) RESR_CUDNN(cudnnCreate(&cudnn_));
    RESR_CUDNN(cudnnSetStream(cudnn_, stream_));
    // Fused graphs compile for the GPU's properties, on every core, unless RESR_CUDA_PARALLEL_COMPILE=0, this cuDNN
    // is older than 9.8, graphs share kernels across sizes (their kernel caches are one topology's each), or the
    // plan cache says such plans failed on this GPU, or a process died while running its first ones: then on the
    // handle, one at a time.
    if (fuse_) choose_compile_target();
    RESR_CUDNN(cudnnCreateTensorDescriptor(&x_desc_));
    RESR_CUDNN(cudnnCreateTensorDescriptor(&y_desc_));
    for (cudaEvent_t& e : events_) RESR_CUDA(cudaEventCreate(&e));
    steps_ = passes::lower_graph(*g_);
    conv_of_step_.assign(steps_.size(), -1);
    for (std::size_t s = 0; s < steps_.size(); ++s) {
      if (steps_[s].kind == StepKind::kConv) {
        conv_of_step_[s] = int(convs_.size());
        const HostConvWeights host = prepare_conv_weights(steps_[s], dtype_ == DType::kF16, layout_);
        RESR_ASSIGN_OR_RETURN(ConvWeights c, upload_conv_weights(steps_[s], host, dtype_, layout_, stream_));
        convs_.push_back(std::move(c));
      } else if (steps_[s].kind == StepKind::kPRelu) {
        DeviceBuffer b;
        RESR_RETURN_IF_ERROR(
            b.upload(steps_[s].node->slopes.data(), steps_[s].node->slopes.size() * sizeof(float), stream_));
        prelu_slopes_.emplace(steps_[s].node, std::move(b));
      }
    }
    // Dense blocks of FP8 convs share one E4M3 copy (passes/code_blocks.h) unless RESR_CUDA_FP8_BLOCKS=0.
    // Not with the tensor-core kernel, whose FP8 form reads the fp16 parts themselves.
    if (fuse_ && has_fp8 && !env_is("RESR_CUDA_FP8_BLOCKS", "0") && tensor_mode_ == TensorMode::kOff)
      blocks_ = passes::plan_code_blocks(*g_, steps_, fp8_convs(), kBlockAlignment);
    // With it, dense blocks of its 8-bit convs (INT8 or FP8) share one copy of codes unless
    // RESR_CUDA_TENSOR_BLOCKS=0: each reader reads its prefix as codes, conv1-4 write theirs. Whether a block is
    // shared in a plan is decided with the plan's tensor-core convs (choose_tensor_convs).
    if (tensor_mode_ != TensorMode::kOff && (has_int8 || has_fp8) && !env_is("RESR_CUDA_TENSOR_BLOCKS", "0")) {
      blocks_ = passes::plan_code_blocks(*g_, steps_, quantized_tensor_convs(), kBlockAlignment);
      tensor_blocks_ = true;
    }
    blocks_.reader_of.resize(steps_.size(), -1);
    blocks_.writer_of.resize(steps_.size(), {-1, -1});
    blocks_.round_before.resize(steps_.size());
    link_handovers();
    fused_constants_.resize(steps_.size());
    fused_constant_values_.resize(steps_.size());
    return ok_status();
  }

  // Whether fused graphs compile for the GPU's properties (compile_properties_, parallel_compile_), else why not
  // (compile_report_.handle_reason).
  void choose_compile_target() {
    const std::optional<std::string> verdict = cache_view_.get(kDevicelessVerdictKey);
    std::string& why = compile_report_.handle_reason;
    why = reason_to_compile_on_handle(env_is("RESR_CUDA_PARALLEL_COMPILE", "0"), dynamic_shapes_, verdict);
    if (why.empty()) {
      if (Result<BackendDescriptor> props = device_properties_of(cudnn_); props.ok()) {
        compile_properties_.emplace(std::move(*props));
      } else {
        why = props.status().message();
      }
    }
    parallel_compile_ = compile_properties_.has_value();
    deviceless_proven_ = verdict.has_value() && *verdict == kDevicelessRan;
  }

  // Per step: a conv for which `member(s)` holds (the members of dense blocks of codes).
  template <class Member>
  std::vector<bool> convs_where(Member member) const {
    std::vector<bool> members(steps_.size(), false);
    for (std::size_t s = 0; s < steps_.size(); ++s) members[s] = steps_[s].kind == StepKind::kConv && member(s);
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
  void link_handovers() {
    const std::vector<int> uses = g_->use_counts();
    handover_.assign(steps_.size(), false);
    tensor_link_.assign(steps_.size(), false);
    quant_slot_.assign(steps_.size(), 0);
    for (std::size_t s = 0; s + 1 < steps_.size(); ++s) {
      const int a = conv_of_step_[s], b = conv_of_step_[s + 1];
      if (a < 0 || b < 0) continue;
      const bool int8 = convs_[a].int8 && convs_[b].int8, fp8 = convs_[a].fp8 && convs_[b].fp8;
      if (!int8 && !fp8) continue;
      const int v = steps_[s].output;
      if (steps_[s + 1].inputs[0] != v || uses[v] != 1 || v == g_->output) continue;
      if (blocks_.writer_of[s].first >= 0 || blocks_.reader_of[s + 1] >= 0) continue;  // a dense block's
      if (int8 && convs_[a].oc4 != steps_[s].node->conv.out_channels) continue;        // padded channels must stay zero
      // An INT8 or FP8 conv the tensor-core kernel may run reads and writes fp16 (quantizing as it loads) unless
      // the kernel runs both: then it writes the next one's codes itself, if the plan has both run it.
      if (tensor_mode_ != TensorMode::kOff && (quantized_tensor_form(s) || quantized_tensor_form(s + 1))) {
        if (!quantized_tensor_form(s) || !quantized_tensor_form(s + 1) || !tensor_handovers_) continue;
        tensor_link_[s] = true;
      } else {
        if (int8 && per_channel_input(s + 1)) continue;  // cuDNN's paths hand codes over by one scale
        handover_[s] = true;
      }
      quant_slot_[s + 1] = 1 - quant_slot_[s];
    }
  }

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

  Result<Tensor> run(const Tensor& input) override {
    if (input.c() != g_->values[g_->input].channels || input.h() < 1 || input.w() < 1)
      return Status::error("input must be " + std::to_string(g_->values[g_->input].channels) +
                           " x H x W with H, W >= 1");
    cudaGetLastError();  // an error already reported (a failed allocation, say) is not this run's
    RESR_ASSIGN_OR_RETURN(Plan * p, plan_for(input.h(), input.w()));
    const std::size_t in_bytes = input.numel() * sizeof(float);
    std::memcpy(p->host_in.get(), input.data(), in_bytes);
    auto* io = static_cast<float*>(p->device_io.get());
    RESR_CUDA(cudaMemcpyAsync(io, p->host_in.get(), in_bytes, cudaMemcpyHostToDevice, stream_));
    convert(nchw(io, input.shape()), DType::kF32, planes(*p, g_->input), dtype_, stream_);
    RESR_CUDA(cudaEventRecord(events_[1], stream_));
    RESR_RETURN_IF_ERROR(run_steps(*p));
    RESR_CUDA(cudaEventRecord(events_[2], stream_));
    const Shape o = p->memory.shapes[g_->output];
    Tensor out = Tensor::uninitialized(o);
    convert(planes(*p, g_->output), dtype_, nchw(io, o), DType::kF32, stream_);
    RESR_CUDA(cudaMemcpyAsync(p->host_out.get(), io, out.numel() * sizeof(float), cudaMemcpyDeviceToHost, stream_));
    RESR_CUDA(cudaStreamSynchronize(stream_));
    RESR_CUDA(cudaGetLastError());
    RESR_RETURN_IF_ERROR(note_device_time());
    std::memcpy(out.data(), p->host_out.get(), out.numel() * sizeof(float));
    return out;
  }

  bool has_pixel_path() const override {
    return g_->values[g_->input].channels == 3 && g_->values[g_->output].channels == 3;
  }

  Status run_pixels(const PixelRect& in, int crop_x, int crop_y, const PixelWindow& out,
                    PixelRunTimes* times) override {
    auto usable = [](const auto& r) {
      return (r.channels == 1 || r.channels == 3) && (r.bits == 8 || r.bits == 16) && r.width > 0 && r.height > 0;
    };
    if (!has_pixel_path() || !usable(in) || !usable(out))
      return Status::error("cuda pixel path: 1 or 3 channels of 8 or 16 bits, non-empty");
    cudaGetLastError();  // an error already reported (a failed allocation, say) is not this run's
    RESR_ASSIGN_OR_RETURN(Plan * p, plan_for(in.height, in.width));
    const Shape o = p->memory.shapes[g_->output];
    if (crop_x < 0 || crop_y < 0 || crop_x + out.width > o.w || crop_y + out.height > o.h)
      return Status::error("cuda pixel path: the window lies outside the model output");
    const std::size_t in_row = std::size_t(in.width) * in.channels * (in.bits / 8);
    const std::size_t out_row = std::size_t(out.width) * out.channels * (out.bits / 8);
    auto* staging = static_cast<std::uint8_t*>(p->host_in.get());
    for (int y = 0; y < in.height; ++y) std::memcpy(staging + y * in_row, in.data + y * in.row_bytes, in_row);
    RESR_CUDA(cudaEventRecord(events_[0], stream_));
    RESR_CUDA(cudaMemcpyAsync(p->device_io.get(), staging, in_row * in.height, cudaMemcpyHostToDevice, stream_));
    unpack_pixels(p->device_io.get(), in.channels, in.bits, in_row, planes(*p, g_->input), dtype_, stream_);
    RESR_CUDA(cudaEventRecord(events_[1], stream_));
    RESR_RETURN_IF_ERROR(run_steps(*p));
    RESR_CUDA(cudaEventRecord(events_[2], stream_));
    pack_pixels(planes(*p, g_->output), crop_x, crop_y, out.width, out.height, out.channels, out.bits, out_row,
                p->device_io.get(), dtype_, stream_);
    RESR_CUDA(
        cudaMemcpyAsync(p->host_out.get(), p->device_io.get(), out_row * out.height, cudaMemcpyDeviceToHost, stream_));
    RESR_CUDA(cudaEventRecord(events_[3], stream_));
    RESR_CUDA(cudaStreamSynchronize(stream_));
    RESR_CUDA(cudaGetLastError());
    RESR_RETURN_IF_ERROR(note_device_time());
    const auto* result = static_cast<const std::uint8_t*>(p->host_out.get());
    for (int y = 0; y < out.height; ++y) std::memcpy(out.data + y * out.row_bytes, result + y * out_row, out_row);
    if (times != nullptr) {
      float ms[3] = {};
      for (int k = 0; k < 3; ++k) RESR_CUDA(cudaEventElapsedTime(&ms[k], events_[k], events_[k + 1]));
      times->preprocess_ms += ms[0];
      times->inference_ms += ms[1];
      times->postprocess_ms += ms[2];
    }
    return ok_status();
  }

  double last_device_ms() const override { return last_device_ms_; }

  // From the memory plan alone (no allocation, no algorithm search): the arena, the staging buffer, the INT8 and
  // FP8 convs' quantized inputs, int32 sums and dense blocks' shared codes, and the conv workspace of the
  // current plan or an allowance for it.
  // Not the dense copies of staged slices (Plan::staged): which convs need them is known only once their
  // algorithms are searched (on the H200, x4plus's first conv: 64 channels at the input size, a few percent of
  // the arena).
  Result<std::uint64_t> working_bytes(int h, int w) override {
    RESR_ASSIGN_OR_RETURN(DeviceLayout m, plan_device_memory(*g_, steps_, h, w, dtype_bytes(dtype_), layout_));
    const Shape in = m.shapes[g_->input], out = m.shapes[g_->output];
    const std::uint64_t io = std::uint64_t(std::max(in.numel(), out.numel())) * sizeof(float);
    const std::uint64_t workspace = std::max<std::uint64_t>(plan_.workspace.bytes(), kWorkspaceAllowance);
    const QuantizedBytes q = quantized_bytes(m);
    std::uint64_t quantized = std::uint64_t(q.quant_in) * (two_quant_inputs() ? 2 : 1) + q.int8_acc;
    for (const std::size_t bytes : block_slot_bytes(m)) quantized += bytes;
    return std::uint64_t(m.arena_bytes) + io + workspace + quantized;
  }

  std::uint64_t max_run_pixels() override { return max_input_pixels(*g_, steps_, dtype_bytes(dtype_), layout_); }

  std::uint64_t memory_budget_hint() override {
    std::size_t free = 0, total = 0;
    if (cudaMemGetInfo(&free, &total) != cudaSuccess) return 0;
    std::uint64_t held = 0;  // the current plan's memory is available to the next one
    if (!plan_.memory.shapes.empty())
      held = plan_.arena.bytes() + plan_.workspace.bytes() + plan_.device_io.bytes() + plan_.stage_in.bytes() +
             plan_.stage_out.bytes() + plan_.quant_in[0].bytes() + plan_.quant_in[1].bytes() + plan_.int8_acc.bytes();
    for (const DeviceBuffer& b : plan_.block_buf) held += b.bytes();
    return (std::uint64_t(free) + held) / 10 * 6;
  }

  std::string backend_name() const override {
    const bool int8 = std::any_of(convs_.begin(), convs_.end(), [](const ConvWeights& c) { return c.int8; });
    const bool fp8 = std::any_of(convs_.begin(), convs_.end(), [](const ConvWeights& c) { return c.fp8; });
    return std::string("cuda (") + (dtype_ == DType::kF16 ? "fp16" : "fp32") + (int8 ? " + int8" : "") +
           (fp8 ? " + fp8" : "") + (layout_ == Layout::kNhwc ? ", NHWC" : ", NCHW") + ", cuDNN" +
           (fuse_ ? (choose_paths_ ? " fused epilogues where faster" : " fused epilogues") : "") +
           (tensor_mode_ == TensorMode::kEvery         ? ", resr tensor-core convs"
            : tensor_mode_ == TensorMode::kWhereFaster ? ", resr tensor-core convs where faster"
                                                       : "") +
           (use_graphs_ ? ", graphs" : "") + ")";
  }

  void set_observer(ActivationObserver observer) override { observer_ = std::move(observer); }

  void set_step_timing(bool on) override {
    timing_ = on;
    timer_.clear();
  }
  std::vector<StepTime> step_times() const override { return timer_.times(); }

 private:
  // The packed NHWC int8 input / fp32 sums of an INT8 conv, as cuDNN's int8 configuration takes them.
  static Status set_int8_descs(cudnnTensorDescriptor_t x, cudnnTensorDescriptor_t y, const ConvWeights& c, Shape in,
                               Shape out) {
    RESR_CUDNN(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NHWC, CUDNN_DATA_INT8, 1, c.ic4, in.h, in.w));
    RESR_CUDNN(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, c.oc4, out.h, out.w));
    return ok_status();
  }

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
  Status reserve_stages(Plan& p, const Step& st) {
    const std::size_t bytes = dtype_bytes(dtype_);
    if (strided(p, st.inputs[0]))
      RESR_RETURN_IF_ERROR(p.stage_in.reserve(std::size_t(p.memory.shapes[st.inputs[0]].numel()) * bytes));
    if (strided(p, st.output))
      RESR_RETURN_IF_ERROR(p.stage_out.reserve(std::size_t(p.memory.shapes[st.output].numel()) * bytes));
    return ok_status();
  }

  // A value as cuDNN sees it: its shape and strides (an NHWC concat member is a strided channel slice).
  Status set_desc(cudnnTensorDescriptor_t d, const Plan& p, int value) { return set_desc(d, planes(p, value)); }
  Status set_desc(cudnnTensorDescriptor_t d, const Planes& v) {
    const std::size_t n_stride = std::max(std::size_t(v.c) * v.s.cs, std::size_t(v.h) * v.w * v.s.ps);
    RESR_CUDNN(cudnnSetTensor4dDescriptorEx(d, cudnn_type(), 1, v.c, v.h, v.w, int(n_stride), int(v.s.cs),
                                            int(std::size_t(v.w) * v.s.ps), int(v.s.ps)));
    return ok_status();
  }

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
  QuantizedBytes quantized_bytes(const DeviceLayout& m) const {
    QuantizedBytes b;
    for (std::size_t s = 0; s < steps_.size(); ++s) {
      if (conv_of_step_[s] < 0) continue;
      const ConvWeights& c = convs_[conv_of_step_[s]];
      const Shape x = m.shapes[steps_[s].inputs[0]], y = m.shapes[steps_[s].output];
      if (c.fp8) b.quant_in = std::max(b.quant_in, std::size_t(x.numel()));  // the E4M3 input, one byte an element
      if (!c.int8) continue;
      b.quant_in = std::max(b.quant_in, std::size_t(c.ic4) * x.h * x.w);
      b.int8_acc = std::max(b.int8_acc, std::size_t(c.oc4) * y.h * y.w * sizeof(float));
    }
    return b;
  }
  // The dense blocks' shared copies of codes (passes/code_blocks.h; a byte a code): per slot, the largest block
  // it holds.
  std::vector<std::size_t> block_slot_bytes(const DeviceLayout& m) const {
    std::vector<std::size_t> slot_bytes(std::size_t(blocks_.slots), 0);
    for (const passes::CodeBlock& b : blocks_.blocks) {
      const Shape x = m.shapes[b.parts.front()];
      slot_bytes[std::size_t(b.slot)] = std::max(slot_bytes[std::size_t(b.slot)], std::size_t(b.channels) * x.h * x.w);
    }
    return slot_bytes;
  }
  bool two_quant_inputs() const {
    return std::find(handover_.begin(), handover_.end(), true) != handover_.end() ||
           std::find(tensor_link_.begin(), tensor_link_.end(), true) != tensor_link_.end();
  }

  // The plan for an input size (one at a time, so memory follows the current size).
  Result<Plan*> plan_for(int h, int w) {
    if (plan_key_ == std::make_pair(h, w) && !plan_.memory.shapes.empty()) return &plan_;
    const auto planning = std::chrono::steady_clock::now();
    std::string handle_reason = std::move(compile_report_.handle_reason);  // kept from size to size
    compile_report_ = FusedCompileReport{};
    compile_report_.handle_reason = std::move(handle_reason);
    drop_plan();
    Plan& p = plan_;
    RESR_ASSIGN_OR_RETURN(p.memory, plan_device_memory(*g_, steps_, h, w, dtype_bytes(dtype_), layout_));
    if (const std::uint64_t span = largest_value_span(p.memory); span > kMaxTensorSpan) {
      drop_plan();
      // Out of memory in kind: the same image in smaller tiles runs (the engine retries with them).
      return Status::out_of_memory("a " + std::to_string(w) + "x" + std::to_string(h) + " input makes a tensor of " +
                                   std::to_string(span) + " elements, over cuDNN's 2^31; it needs smaller tiles");
    }
    const QuantizedBytes quantized = quantized_bytes(p.memory);
    const std::size_t quant_in = quantized.quant_in, int8_acc = quantized.int8_acc;
    // The INT8 convs' packed tensors (channels padded to 4) are cuDNN tensors too.
    if (quant_in > kMaxTensorSpan || int8_acc / sizeof(float) > kMaxTensorSpan) {
      drop_plan();
      return Status::out_of_memory("a " + std::to_string(w) + "x" + std::to_string(h) +
                                   " input makes an INT8 tensor over cuDNN's 2^31 elements; it needs smaller tiles");
    }
    RESR_RETURN_IF_ERROR(p.arena.allocate(p.memory.arena_bytes));
    const Shape in = p.memory.shapes[g_->input], out = p.memory.shapes[g_->output];
    // fp32 tensors, or 16-bit pixels of up to 3 channels, either way.
    const std::size_t io = std::size_t(std::max(in.numel(), out.numel())) * sizeof(float);
    RESR_RETURN_IF_ERROR(p.device_io.allocate(io));
    RESR_RETURN_IF_ERROR(p.host_in.allocate(std::size_t(in.numel()) * sizeof(float)));
    RESR_RETURN_IF_ERROR(p.host_out.allocate(std::size_t(out.numel()) * sizeof(float)));
    RESR_RETURN_IF_ERROR(p.quant_in[0].allocate(quant_in));
    if (two_quant_inputs()) RESR_RETURN_IF_ERROR(p.quant_in[1].allocate(quant_in));
    RESR_RETURN_IF_ERROR(p.int8_acc.allocate(int8_acc));
    p.algos.assign(steps_.size(), AlgoChoice{});
    p.no_legacy.assign(steps_.size(), std::string());
    p.staged.assign(steps_.size(), false);
    p.tensor.assign(steps_.size(), std::nullopt);
    p.tensor_handover.assign(steps_.size(), false);
    int staged = 0;
    // One workspace for every algorithm search of this plan (up to 1 GiB, a quarter of free memory).
    DeviceBuffer find_workspace;
    if (find_algos_) {
      std::size_t free = 0, total = 0;
      if (cudaMemGetInfo(&free, &total) != cudaSuccess ||
          !find_workspace.allocate(std::min<std::size_t>(std::size_t{1} << 30, free / 4)).ok())
        cudaGetLastError();  // no workspace: the heuristic choice instead
    }
    std::size_t workspace = 0;
    p.fused.assign(steps_.size(), nullptr);
    p.fused_bound.resize(steps_.size());
    p.block_on.assign(blocks_.blocks.size(), fuse_ && !tensor_blocks_);
    p.block_buf.resize(std::size_t(blocks_.slots));
    const std::vector<std::size_t> slot_bytes = block_slot_bytes(p.memory);
    for (std::size_t k = 0; k < slot_bytes.size(); ++k) RESR_RETURN_IF_ERROR(p.block_buf[k].allocate(slot_bytes[k]));
    // Fused graphs; a dense block whose readers or direct writers did not all get theirs is not shared, and the
    // steps are specified (and built) again without it.
    while (fuse_) {
      RESR_RETURN_IF_ERROR(prepare_fused_convs(p, find_workspace));
      bool changed = false;
      for (std::size_t s = 0; s < steps_.size(); ++s) {
        for (const int b : {block_read(p, s), block_written(p, s)})
          if (b >= 0 && p.fused[s] == nullptr) {
            p.block_on[std::size_t(b)] = false;
            changed = true;
          }
      }
      if (!changed) break;
    }
    for (std::size_t s = 0; s < steps_.size(); ++s) {
      if (conv_of_step_[s] < 0) continue;
      if (p.fused[s] != nullptr) {
        workspace = std::max(workspace, p.fused[s]->workspace_bytes());
        // An INT8 conv, or one that hands over or writes a dense block, gets a legacy algorithm too: observed
        // runs take the legacy path. With RESR_CUDA_FUSED=auto, every conv does: the legacy path may be the
        // faster. Where the search fails, the conv keeps only its graph (no_legacy).
        if (!convs_[conv_of_step_[s]].int8 && !handover_[s] && block_written(p, s) < 0 && !choose_paths_) continue;
      }
      const Step& st = steps_[s];
      const bool stageable = !convs_[conv_of_step_[s]].int8 && (strided(p, st.inputs[0]) || strided(p, st.output));
      // RESR_CUDA_STAGE_SLICES=1 (tests): every stageable conv staged, without trying its slices first.
      Result<AlgoChoice> algo = stage_slices_ && stageable
                                    ? Result<AlgoChoice>(Status::error("staged by RESR_CUDA_STAGE_SLICES"))
                                    : choose_algo(st, p, find_workspace);
      if (!algo.ok() && !algo.status().is_out_of_memory() && stageable) {
        // No legacy algorithm for the channel slices: try the conv on dense copies (Plan::staged). Out of memory
        // for them: a fused step keeps its graph alone (below), another fails so that smaller tiles are tried.
        RESR_RETURN_IF_ERROR(device_still_usable(stream_, "the algorithm search of " + st.node->name));
        Status reserved = reserve_stages(p, st);
        Result<AlgoChoice> dense =
            reserved.ok() ? choose_algo(st, p, find_workspace, true) : Result<AlgoChoice>(reserved);
        if (dense.ok()) {
          p.staged[s] = true;
          ++staged;
          algo = std::move(dense);
        } else {
          if (dense.status().is_out_of_memory() && p.fused[s] == nullptr) return dense.status();
          algo = Status::error(algo.status().message() + "; on dense copies: " + dense.status().message());
        }
      }
      if (!algo.ok() && p.fused[s] != nullptr && !algo.status().is_out_of_memory()) {
        // The fused graph runs it. An observed run (calibration) would want the legacy path and fails with this
        // reason; RESR_CUDA_FUSED=auto keeps the step fused. INT8's legacy mode is cuDNN's narrowest (NHWC, one
        // algorithm).
        p.no_legacy[s] = algo.status().message();
        RESR_RETURN_IF_ERROR(device_still_usable(stream_, "the algorithm search of " + steps_[s].node->name));
        continue;
      }
      RESR_RETURN_IF_ERROR(algo.status());
      p.algos[s] = *algo;
      workspace = std::max(workspace, p.algos[s].workspace);
    }
    RESR_RETURN_IF_ERROR(p.workspace.allocate(workspace));
    std::string paths = compile_report_.describe();
    if (choose_paths_) {
      RESR_ASSIGN_OR_RETURN(const std::string kept, keep_faster_paths(p));
      paths += (paths.empty() ? "" : "; ") + kept;
    }
    if (staged > 0) paths += (paths.empty() ? "" : "; ") + std::to_string(staged) + " convs on dense copies of slices";
    if (tensor_mode_ != TensorMode::kOff) {
      RESR_ASSIGN_OR_RETURN(const std::string tensor, choose_tensor_convs(p));
      paths += (paths.empty() ? "" : "; ") + tensor;
    }
    report_planning(w, h, planning, paths);
    plan_key_ = {h, w};
    return &plan_;
  }

  // Every conv step that can run as one fused cuDNN graph gets it (p.fused): compiled once per distinct structure
  // (fused_conv.h), all new ones in parallel, then timed one by one. Steps that are not fusable, or for which
  // cuDNN compiles or runs no plan, stay null and take the legacy path. The timing runs write the steps' output
  // places, which hold nothing yet.
  Status prepare_fused_convs(Plan& p, DeviceBuffer& find_workspace) {
    p.fused.assign(steps_.size(), nullptr);
    std::vector<std::string> key_of(steps_.size());
    std::vector<FusedConvSpec> todo;
    std::vector<std::size_t> first_step;
    std::set<std::string> pending;
    for (std::size_t s = 0; s < steps_.size(); ++s) {
      if (conv_of_step_[s] < 0) continue;
      const bool int8 = convs_[conv_of_step_[s]].int8;
      if (!int8 && dtype_ != DType::kF16) continue;  // fp32 convs keep FMA math
      FusedConvSpec spec =
          fused_conv_spec(steps_[s], p.memory, layout_, dtype_ == DType::kF16 ? FusedType::kHalf : FusedType::kFloat);
      const float handover_scale = handover_[s] ? convs_[conv_of_step_[s + 1]].in_scale : 0.0f;
      if (int8) make_int8(spec, handover_scale);
      if (convs_[conv_of_step_[s]].fp8) {
        make_fp8(spec, handover_scale);
        if (const int b = block_read(p, s); b >= 0) read_fp8_block(spec, blocks_.blocks[std::size_t(b)].channels);
        if (const int b = block_written(p, s); b >= 0)
          write_fp8_block(spec, blocks_.blocks[std::size_t(b)].channels, blocks_.blocks[std::size_t(b)].scale);
      }
      if (!fusable(spec)) continue;
      // The step's constants: uploaded when they change (a dense block shared or not changes them).
      const std::vector<float> values = fused_constants(spec);
      if (values != fused_constant_values_[s]) {
        fused_constants_[s] = DeviceBuffer();
        fused_constant_values_[s].clear();  // a failed upload must not leave the old values looking current
        if (!values.empty())
          RESR_RETURN_IF_ERROR(fused_constants_[s].upload(values.data(), values.size() * sizeof(float), stream_));
        fused_constant_values_[s] = values;
      }
      key_of[s] = spec.key();
      if (fused_cache_.count(key_of[s]) != 0 || !pending.insert(key_of[s]).second) continue;
      todo.push_back(spec);
      first_step.push_back(s);
    }
    // For the GPU's properties on every core where this cuDNN can; else on cudnn_, one thread (cuDNN allows no two
    // threads on one handle at once).
    const bool deviceless = parallel_compile_;
    const int threads =
        deviceless ? std::min(std::max(1, int(std::thread::hardware_concurrency())), std::max(1, int(todo.size()))) : 1;
    const auto compiling = std::chrono::steady_clock::now();
    ShapeKernels* const kernels = dynamic_shapes_ ? &shape_kernels_ : nullptr;  // never with deviceless
    const FusedConvTarget target = deviceless ? FusedConvTarget{nullptr, &*compile_properties_, cache_view_, nullptr}
                                              : FusedConvTarget{cudnn_, nullptr, cache_view_, kernels};
    std::vector<FusedBuild> built = build_fused_convs(todo, target, kFusedPlanTries, threads);
    compile_report_.ms += ms_since(compiling);
    for (const FusedBuild& b : built)
      ++(b.conv == nullptr || b.conv->plan_count() == 0 ? compile_report_.without_plan
         : b.conv->from_cache()                         ? compile_report_.loaded
                                                        : compile_report_.compiled);
    if (!todo.empty()) {
      compile_report_.threads = std::max(compile_report_.threads, threads);
      compile_report_.deviceless = compile_report_.deviceless || deviceless;
    }
    // A process that dies running plans made for the properties (a fault) leaves "trying": later ones compile on
    // the handle.
    const bool first_deviceless = deviceless && !deviceless_proven_ && !todo.empty();
    if (first_deviceless) cache_view_.put(kDevicelessVerdictKey, kDevicelessTrying);
    // A plan from the cache is timed too, alone: that checks it runs before the steps rely on it.
    bool no_workspace = false;  // the last `runs` failed for want of memory, not in cuDNN
    auto runs = [&](FusedConv& f, std::size_t i) {
      no_workspace = f.plan_count() > 0 && !find_workspace.reserve(f.max_workspace_bytes()).ok();
      return f.plan_count() > 0 && !no_workspace &&
             f.choose(cudnn_, fused_data(first_step[i], p), find_workspace.get(), stream_).ok();
    };
    // After a graph's timing, whether or not it ran (choose() succeeds when one candidate did, even if a later one
    // faulted): a fault ends the run, and a cached plan that caused it goes from the cache, else every later
    // process would load it and fault again.
    auto still_usable = [&](std::size_t i, bool cached, const std::string& signature) {
      Status usable = device_still_usable(stream_, "the fused conv graph of " + steps_[first_step[i]].node->name);
      if (!usable.ok() && cached) FusedConv::forget(cache_view_, signature);
      if (!usable.ok() && deviceless) cache_view_.put(kDevicelessVerdictKey, kDevicelessFailed);
      return usable;
    };
    bool deviceless_ran = false;  // a plan built for the properties ran
    for (std::size_t i = 0; i < built.size(); ++i) {
      std::unique_ptr<FusedConv> f = std::move(built[i].conv);
      no_workspace = false;
      const bool ran = f != nullptr && runs(*f, i);
      deviceless_ran = deviceless_ran || (deviceless && ran);
      const bool cached = f != nullptr && f->from_cache();
      if (f != nullptr) RESR_RETURN_IF_ERROR(still_usable(i, cached, f->signature()));
      if (!ran) {
        const std::string signature = f != nullptr ? f->signature() : std::string();
        f.reset();
        // A cached plan that no longer runs (another driver, say) is compiled afresh, which replaces the entry;
        // so is a graph built for the device's properties that did not build or run, on the handle this time.
        if ((cached || deviceless) && !no_workspace) {
          const auto rebuilding = std::chrono::steady_clock::now();
          auto rebuilt =
              FusedConv::build(todo[i], FusedConvTarget{cudnn_, nullptr, CacheView{}, kernels}, kFusedPlanTries);
          if (rebuilt.ok() && runs(**rebuilt, i)) f = std::move(*rebuilt);
          RESR_RETURN_IF_ERROR(still_usable(i, cached, signature));
          compile_report_.ms += ms_since(rebuilding);
          // The handle's plan ran where the properties' did not: from here on (and in later processes, through
          // the plan cache) graphs compile on the handle.
          if (f != nullptr && deviceless) {
            parallel_compile_ = false;
            compile_report_.handle_reason = "plans compiled for the device's properties did not run here";
            cache_view_.put(kDevicelessVerdictKey, kDevicelessFailed);
            ++compile_report_.rebuilt_on_handle;
          }
          // Nothing runs in its place: the entry, which failed with its workspace at hand, goes; else every later
          // process would load it and fail again. (A miss costs a compile, which is remembered when it runs.)
          if (f == nullptr && cached) FusedConv::forget(cache_view_, signature);
        }
      }
      if (f != nullptr) f->remember(cache_view_);
      cudaGetLastError();  // a failed candidate is not fatal: the conv takes the legacy path
      fused_cache_.emplace(key_of[first_step[i]], std::move(f));
    }
    if (first_deviceless && parallel_compile_) {
      if (deviceless_ran) {
        cache_view_.put(kDevicelessVerdictKey, kDevicelessRan);
        deviceless_proven_ = true;
      } else {
        cache_view_.erase(kDevicelessVerdictKey);  // nothing ran either way (no workspace, say): no verdict yet
      }
    }
    for (std::size_t s = 0; s < steps_.size(); ++s)
      if (!key_of[s].empty()) p.fused[s] = fused_cache_.at(key_of[s]).get();
    // An FP8 hand-over needs both graphs: without the reader's, the writer runs its legacy path (fp16 output).
    for (std::size_t s = steps_.size(); s-- > 0;)
      if (handover_[s] && convs_[conv_of_step_[s]].fp8 && p.fused[s + 1] == nullptr) p.fused[s] = nullptr;
    return ok_status();
  }

  // RESR_CUDA_FUSED=auto: each fused conv keeps its graph only where that ran faster than its legacy path
  // (conv_path.h); the convs of one graph share the choice, which the plan cache keeps. A conv without a legacy
  // algorithm (no_legacy) keeps its graph untimed, whatever the others of its graph do. The timing runs write
  // the steps' output places, which hold nothing yet. Returns "fused K of N convs", for the planning report.
  Result<std::string> keep_faster_paths(Plan& p) {
    ActivationObserver observer = std::move(observer_);  // the timing runs' values are nobody's
    observer_ = nullptr;
    std::map<const FusedConv*, ConvPath> chosen;
    int convs = 0, fused = 0;
    for (std::size_t s = 0; s < steps_.size(); ++s) {
      if (conv_of_step_[s] < 0) continue;
      ++convs;
      const FusedConv* graph = p.fused[s];
      if (graph == nullptr) continue;
      if (!p.no_legacy[s].empty()) {  // no legacy algorithm here (see plan_for): fused, whatever was measured
        ++fused;
        continue;
      }
      auto it = chosen.find(graph);
      if (it == chosen.end()) {
        const std::string key = conv_path_key(graph->signature());
        std::optional<ConvPathChoice> choice;
        if (const std::optional<std::string> entry = cache_view_.get(key)) choice = decode_conv_path(*entry);
        if (!choice) {
          ConvPathChoice timed;
          // Between events_[0] and [1]: planning precedes the run that records them.
          const auto conv_s = [&] { return conv(s, p); };
          timed.fused_ms = best_device_ms(stream_, {events_[0], events_[1]}, conv_s);
          p.fused[s] = nullptr;
          timed.legacy_ms = best_device_ms(stream_, {events_[0], events_[1]}, conv_s);
          p.fused[s] = graph;
          if (Status usable = device_still_usable(stream_, "timing the paths of " + steps_[s].node->name);
              !usable.ok()) {
            observer_ = std::move(observer);
            return usable;
          }
          timed.path = faster_path(timed.fused_ms, timed.legacy_ms);
          if (worth_keeping(timed)) cache_view_.put(key, encode_conv_path(timed));
          choice = timed;
        }
        it = chosen.emplace(graph, choice->path).first;
      }
      if (it->second == ConvPath::kLegacy) {
        p.fused[s] = nullptr;
      } else {
        ++fused;
      }
    }
    observer_ = std::move(observer);
    return "fused " + std::to_string(fused) + " of " + std::to_string(convs) + " convs";
  }

  FusedConvData fused_data(std::size_t index, const Plan& p) const {
    const Step& s = steps_[index];
    const ConvWeights& c = convs_[conv_of_step_[index]];
    FusedConvData d;
    d.x = c.int8 || c.fp8 ? quant_input(p, index) : at(p, s.inputs[0]);
    if (const int b = block_read(p, index); b >= 0) d.x = block_data(p, b);
    d.w = c.fp8 ? c.w_fp8.get() : c.w.get();
    d.bias = static_cast<const float*>(c.bias.get());
    d.slopes = static_cast<const float*>(c.slopes.get());
    d.dequant = static_cast<const float*>(c.dequant.get());
    d.constants = static_cast<const float*>(fused_constants_[index].get());
    for (int k = 0; k < s.epilogue.residual_count; ++k) d.residuals[k] = at(p, s.epilogue.residuals[k]);
    d.y = handover_[index] ? quant_input(p, index + 1) : at(p, s.output);
    if (const int b = block_written(p, index); b >= 0)
      d.y = block_data(p, b) + blocks_.blocks[std::size_t(b)].offsets[std::size_t(blocks_.writer_of[index].second)];
    return d;
  }

  // The conv's algorithm (conv_algorithm.h), once per geometry. The search writes the conv's output place in the
  // arena, which holds nothing yet: plans are made before a run places any value.
  // staged: for the conv on dense copies of its input and output (Plan::staged; the stage buffers reserved).
  Result<AlgoChoice> choose_algo(const Step& st, const Plan& p, const DeviceBuffer& find_workspace,
                                 bool staged = false) {
    const ConvWeights& c = convs_[conv_of_step_[&st - steps_.data()]];
    const Shape x = p.memory.shapes[st.inputs[0]], y = p.memory.shapes[st.output];
    const ir::ConvParams& cp = st.node->conv;
    const AlgoKey key{cp.in_channels,
                      cp.out_channels,
                      cp.kernel_h,
                      cp.kernel_w,
                      cp.pad,
                      cp.stride,
                      cp.dilation,
                      x.h,
                      x.w,
                      staged ? std::size_t(x.c) : p.memory.strides[st.inputs[0]].ps,
                      staged ? std::size_t(y.c) : p.memory.strides[st.output].ps,
                      c.int8};
    if (const auto it = algo_cache_.find(key); it != algo_cache_.end()) return it->second;
    if (c.int8) {
      RESR_RETURN_IF_ERROR(set_int8_descs(x_desc_, y_desc_, c, x, y));
    } else if (staged) {
      RESR_RETURN_IF_ERROR(set_desc(x_desc_, packed_nhwc(nullptr, x)));
      RESR_RETURN_IF_ERROR(set_desc(y_desc_, packed_nhwc(nullptr, y)));
    } else {
      RESR_RETURN_IF_ERROR(set_desc(x_desc_, p, st.inputs[0]));
      RESR_RETURN_IF_ERROR(set_desc(y_desc_, p, st.output));
    }
    ConvProblem problem;
    problem.x = x_desc_;
    problem.x_data = c.int8 ? p.quant_in[0].get() : staged ? staged_in(p, st.inputs[0]) : at(p, st.inputs[0]);
    problem.weights = &c;
    problem.y = y_desc_;
    problem.y_data = c.int8 ? p.int8_acc.get() : staged ? staged_out(p, st.output) : at(p, st.output);
    problem.keep_fma = dtype_ == DType::kF32 && !c.int8;
    problem.name = st.node->name;
    RESR_ASSIGN_OR_RETURN(AlgoChoice a, choose_conv_algorithm(cudnn_, problem, find_workspace, cache_view_));
    algo_cache_.emplace(key, a);
    return a;
  }

  // The steps' device time, between events_[1] and events_[2] (after a synchronise).
  Status note_device_time() {
    float ms = 0;
    RESR_CUDA(cudaEventElapsedTime(&ms, events_[1], events_[2]));
    last_device_ms_ = ms;
    return ok_status();
  }

  // The steps: replayed as one CUDA graph (captured on the plan's first run), or launched one by one when
  // graphs are off (RESR_CUDA_GRAPHS=0), failed to capture, or the run is observed or timed.
  Status run_steps(Plan& p) {
    const bool eager = !use_graphs_ || observer_ || timing_;
    if (eager) return launch_steps(p);
    return p.graph.run(stream_, [&] { return launch_steps(p); });
  }

  Status launch_steps(Plan& p) {
    if (timing_) RESR_RETURN_IF_ERROR(timer_.start(stream_, steps_.size()));
    for (std::size_t s = 0; s < steps_.size(); ++s) {
      RESR_RETURN_IF_ERROR(execute(s, p));
      if (timing_) RESR_RETURN_IF_ERROR(timer_.mark(stream_, s));
    }
    if (!timing_) return ok_status();
    std::vector<std::string> labels(steps_.size());
    std::vector<const char*> kernels(steps_.size());
    for (std::size_t s = 0; s < steps_.size(); ++s) {
      if (p.tensor[s]) {
        labels[s] = "conv + epilogue (resr tensor cores";
        if (p.tensor[s]->cut.warpgroup) labels[s] += ", wgmma";
        if (tensor_hands_over(p, s)) labels[s] += ", codes to the next";
        if (tensor_blocks_ && block_read(p, s) >= 0) labels[s] += ", reading block codes";
        if (tensor_blocks_ && block_written(p, s) >= 0) labels[s] += ", writing block codes";
        labels[s] += ")";
      } else {
        labels[s] = p.fused[s] ? "conv + epilogue (one cuDNN graph)" : "conv (cuDNN) + epilogue";
      }
      kernels[s] = labels[s].c_str();
    }
    return timer_.collect(stream_, steps_, kernels, p.memory.shapes);
  }

  Status execute(std::size_t index, Plan& p) {
    const Step& s = steps_[index];
    if (s.kind == StepKind::kInput) return ok_status();
    if (s.kind == StepKind::kConv) return conv(index, p);
    ElementStepPlaces at;
    at.planes = [&](int value) { return planes(p, value); };
    at.concat_copies = &p.memory.concat_copies[index];
    if (s.kind == StepKind::kPRelu) at.prelu_slopes = static_cast<const float*>(prelu_slopes_.at(s.node).get());
    return launch_element_step(s, at, dtype_, stream_);
  }

  // cuDNN writes the raw conv into the step's output; one pass applies bias, activation and residuals.
  Status conv(std::size_t index, Plan& p) {
    const Step& s = steps_[index];
    if (observer_) RESR_RETURN_IF_ERROR(observe(p, s.inputs[0]));
    const ConvWeights& c = convs_[conv_of_step_[index]];
    // Dense blocks: parts this step is the first to read, quantized into their block (direct parts only when
    // their producer ran its legacy path, in observed runs of FP8 graphs).
    for (const auto& [b, part] : blocks_.round_before[index]) {
      const passes::CodeBlock& block = blocks_.blocks[std::size_t(b)];
      if (!block_in_use(p, b) || (block.direct[std::size_t(part)] && !observer_)) continue;
      const int v = block.parts[std::size_t(part)];
      char* codes = block_data(p, b) + block.offsets[std::size_t(part)];
      if (block.precision == ir::Precision::kInt8) {
        quantize_nhwc_s8(planes(p, v), dtype_, block.scale, block_channel_quant(b, part), p.memory.shapes[v].c, codes,
                         block.channels, stream_);
      } else {
        quantize_nhwc_e4m3(planes(p, v), dtype_, block.scale, codes, block.channels, stream_);
      }
    }
    if (p.tensor[index])  // reading and writing codes where it hands over or shares a dense block
      return launch_tensor_conv(*p.tensor[index], tensor_run_args(index, p), stream_);
    // A hand-over: the previous conv already wrote this input quantized.
    const bool handed_in = index > 0 && hands_over(p, index - 1);
    if (c.int8 && !handed_in)
      quantize_nhwc_s8(planes(p, s.inputs[0]), dtype_, c.in_scale, channel_quant(index), c.ic4, quant_input(p, index),
                       c.ic4, stream_);
    // Fused graphs that hand over never write the fp output an observer wants: observed runs take the legacy
    // path (INT8 graphs may hand over with any plan).
    const bool writes_block = block_written(p, index) >= 0;
    if (p.fused[index] != nullptr && !((c.int8 || handover_[index] || writes_block) && observer_)) {
      if (c.fp8 && !handed_in && block_read(p, index) < 0)
        quantize_nhwc_e4m3(planes(p, s.inputs[0]), dtype_, c.in_scale, quant_input(p, index),
                           p.memory.shapes[s.inputs[0]].c, stream_);
      if (p.fused_bound[index].get() == nullptr) {
        RESR_ASSIGN_OR_RETURN(p.fused_bound[index], p.fused[index]->bind(fused_data(index, p), p.workspace.get()));
      }
      return p.fused[index]->launch(cudnn_, p.fused_bound[index]);
    }
    if (!p.no_legacy[index].empty())
      return Status::error("cuda: " + s.node->name + " runs only as a fused graph here: " + p.no_legacy[index]);
    const AlgoChoice& a = p.algos[index];
    const float one = 1.0f, zero = 0.0f;
    RESR_CUDNN(cudnnSetConvolutionMathType(c.desc.get(), a.math));
    if (c.int8) {  // int8 conv into int32 sums (as fp32) -> dequantize + epilogue
      RESR_RETURN_IF_ERROR(
          set_int8_descs(x_desc_, y_desc_, c, p.memory.shapes[s.inputs[0]], p.memory.shapes[s.output]));
      RESR_CUDNN(cudnnConvolutionForward(cudnn_, &one, x_desc_, quant_input(p, index), c.filter.get(), c.w.get(),
                                         c.desc.get(), a.algo, p.workspace.get(), p.workspace.bytes(), &zero, y_desc_,
                                         p.int8_acc.get()));
      const bool hand_over = hands_over(p, index);
      const float next_scale = hand_over ? convs_[conv_of_step_[index + 1]].in_scale : 0.0f;
      int8_epilogue(static_cast<const float*>(p.int8_acc.get()), c.oc4, static_cast<const float*>(c.dequant.get()),
                    planes(p, s.output), epilogue_args(s, c, p), hand_over ? quant_input(p, index + 1) : nullptr,
                    next_scale, dtype_, stream_);
      return ok_status();
    }
    const void* x = at(p, s.inputs[0]);
    void* y = at(p, s.output);
    const Shape xs = p.memory.shapes[s.inputs[0]], ys = p.memory.shapes[s.output];
    if (p.staged[index]) {  // dense copies around the conv (Plan::staged)
      if (strided(p, s.inputs[0]))
        convert(planes(p, s.inputs[0]), dtype_, packed_nhwc(p.stage_in.get(), xs), dtype_, stream_);
      x = staged_in(p, s.inputs[0]);
      y = staged_out(p, s.output);
      RESR_RETURN_IF_ERROR(set_desc(x_desc_, packed_nhwc(nullptr, xs)));
      RESR_RETURN_IF_ERROR(set_desc(y_desc_, packed_nhwc(nullptr, ys)));
    } else {
      RESR_RETURN_IF_ERROR(set_desc(x_desc_, p, s.inputs[0]));
      RESR_RETURN_IF_ERROR(set_desc(y_desc_, p, s.output));
    }
    RESR_CUDNN(cudnnConvolutionForward(cudnn_, &one, x_desc_, x, c.filter.get(), c.w.get(), c.desc.get(), a.algo,
                                       p.workspace.get(), p.workspace.bytes(), &zero, y_desc_, y));
    if (p.staged[index] && strided(p, s.output))
      convert(packed_nhwc(p.stage_out.get(), ys), dtype_, planes(p, s.output), dtype_, stream_);
    const EpilogueArgs e = epilogue_args(s, c, p);
    const bool identity = e.bias == nullptr && e.act == Act::kNone && e.out_scale == 1.0f && e.residual_count == 0;
    if (!identity) conv_epilogue(planes(p, s.output), e, dtype_, stream_);
    return ok_status();
  }

  TensorConvArgs tensor_args(std::size_t index, const Plan& p) const {
    const Step& s = steps_[index];
    const ConvWeights& c = convs_[conv_of_step_[index]];
    TensorConvArgs a;
    a.x = planes(p, s.inputs[0]);
    a.w = c.w.get();
    a.y = planes(p, s.output);
    a.epilogue = epilogue_args(s, c, p);
    if (c.int8 || c.fp8) {  // 8-bit products (tensor_conv.h): quantized as loaded, dequantized per channel
      a.products = c.int8 ? tensor_conv::Products::kInt8 : tensor_conv::Products::kFp8;
      if (c.fp8) a.w = c.w_fp8.get();
      a.in_scale = c.in_scale;
      a.dequant = static_cast<const float*>(c.dequant.get());
      a.in_channel_quant = channel_quant(index);
    }
    return a;
  }

  // Conv step s's per-channel input scales on the device (ConvWeights::channel_quant), or null (per tensor).
  const float* channel_quant(std::size_t s) const {
    return static_cast<const float*>(convs_[conv_of_step_[s]].channel_quant.get());
  }
  // The per-channel scales of dense block b's part `part` (its channels' pairs in its widest reader's, whose
  // scales cover every part: passes/code_blocks.h), or null where the block's readers have none.
  const float* block_channel_quant(int b, int part) const {
    const passes::CodeBlock& block = blocks_.blocks[std::size_t(b)];
    const float* widest = channel_quant(block.widest);
    return widest == nullptr ? nullptr : widest + 2 * std::size_t(block.offsets[std::size_t(part)]);
  }

  // RESR_CUDA_TENSOR_CONV: which convs run resr's tensor-core kernel (tensor_conv.h) instead of their cuDNN path.
  // =1: every one it can run. =auto: those for which, on test data, it matched the step's cuDNN path (within 1e-2
  // of the larger of 1 and the largest output) and ran faster; convs of one geometry share the verdict. The test
  // runs write the steps' input, residual and output places, which hold nothing yet. Returns "resr tensor-core
  // convs K of N", and why any was refused, for the planning report.
  Result<std::string> choose_tensor_convs(Plan& p) {
    ActivationObserver observer = std::move(observer_);  // the test runs' values are nobody's
    observer_ = nullptr;
    std::map<std::string, std::optional<TensorConvLaunch>> verdicts;  // by tensor_key: the fastest cut, if any
    std::set<std::string> notes;
    DeviceBuffer reference, result;
    Status failed = ok_status();
    int convs = 0, used = 0;
    for (std::size_t s = 0; s < steps_.size() && failed.ok(); ++s) {
      if (conv_of_step_[s] < 0) continue;
      ++convs;
      if (layout_ != Layout::kNhwc) continue;
      const TensorConvArgs a = tensor_args(s, p);
      if (!tensor_conv_refusal(a, tensor_form(s)).empty()) continue;
      if (!kernel_quantizes_input(s)) {
        notes.insert("per-channel INT8 input scales the kernel cannot quantize by run on cuDNN");
        continue;
      }
      std::optional<TensorConvLaunch> launch;
      if (tensor_mode_ == TensorMode::kEvery) {
        // The first cut (cut_for's), or with =warpgroup the first of that form; where it does not prepare, the first.
        const std::vector<tensor_conv::Cut> cuts = tensor_conv_cuts(a);
        auto pick = cuts.begin();
        if (prefer_warpgroup_) pick = std::find_if(cuts.begin(), cuts.end(), [](const auto& c) { return c.warpgroup; });
        if (pick == cuts.end()) pick = cuts.begin();
        Result<TensorConvLaunch> l = pick == cuts.end()
                                         ? Status::error("tensor conv: no cut of this conv fits the device")
                                         : prepare_tensor_conv(a, *pick);
        if (!l.ok() && pick != cuts.begin()) {
          notes.insert(l.status().message());
          l = prepare_tensor_conv(a, cuts.front());
        }
        if (!l.ok()) {
          notes.insert(l.status().message());
          continue;
        }
        launch = *l;
      } else {
        const std::string key = tensor_key(s, p);
        auto it = verdicts.find(key);
        if (it == verdicts.end()) {
          Result<std::optional<TensorConvLaunch>> chosen = tensor_verdict(s, p, a, key, reference, result, notes);
          if (!chosen.ok()) {
            failed = chosen.status();
            break;
          }
          it = verdicts.emplace(key, *chosen).first;
        }
        launch = it->second;
      }
      if (!launch) continue;
      p.tensor[s] = launch;
      ++used;
    }
    int handovers = 0, blocks = 0;
    if (failed.ok()) {  // decided without the observer: a plan serves observed and plain runs alike
      for (std::size_t s = 0; s + 1 < steps_.size(); ++s)
        if (tensor_link_[s] && p.tensor[s] && p.tensor[s + 1] && handover_codes_fit(s, p)) {
          p.tensor_handover[s] = true;
          ++handovers;
        }
      if (tensor_blocks_) blocks = share_tensor_blocks(p);
    }
    observer_ = std::move(observer);
    RESR_RETURN_IF_ERROR(failed);
    std::string report = "resr tensor-core convs " + std::to_string(used) + " of " + std::to_string(convs);
    if (handovers > 0) report += ", " + std::to_string(handovers) + " handing 8-bit codes to the next";
    if (blocks > 0) report += ", " + std::to_string(blocks) + " dense blocks sharing 8-bit codes";
    for (const std::string& n : notes) report += "; " + n;
    return report;
  }

  // Whether the tensor-core kernel may run conv steps s and s + 1 with s writing the codes s + 1 reads (dense in
  // the plan's quant_in buffers): tensor_conv_refusal of both, so reading and writing, says nothing.
  bool handover_codes_fit(std::size_t s, const Plan& p) const {
    return tensor_conv_refusal(with_codes(tensor_args(s, p), s, p, false, true), tensor_form(s)).empty() &&
           tensor_conv_refusal(with_codes(tensor_args(s + 1, p), s + 1, p, true, false), tensor_form(s + 1)).empty();
  }

  // Conv step `index`'s arguments on the tensor-core kernel in this run: its hand-overs and dense blocks.
  TensorConvArgs tensor_run_args(std::size_t index, const Plan& p) const {
    const TensorConvArgs a = with_codes(tensor_args(index, p), index, p, index > 0 && tensor_hands_over(p, index - 1),
                                        tensor_hands_over(p, index));
    return with_block_codes(a, index, p);
  }

  // `a` with the dense blocks of the tensor-core kernel that conv step `index` reads (its input: a prefix of the
  // block's codes) or writes a part of (its output: that part's channels, as the block's codes), in this run.
  TensorConvArgs with_block_codes(TensorConvArgs a, std::size_t index, const Plan& p) const {
    if (!tensor_blocks_) return a;
    if (const int b = block_read(p, index); b >= 0) {
      const passes::CodeBlock& block = blocks_.blocks[std::size_t(b)];
      a.x = Planes{block_data(p, b), a.x.c, a.x.h, a.x.w, Strides{1, std::size_t(block.channels)}};
      a.codes_in = true;
    }
    if (const int b = block_written(p, index); b >= 0) {
      const passes::CodeBlock& block = blocks_.blocks[std::size_t(b)];
      const int written_part = blocks_.writer_of[index].second;
      char* part = block_data(p, b) + block.offsets[std::size_t(written_part)];
      a.y = Planes{part, a.y.c, a.y.h, a.y.w, Strides{1, std::size_t(block.channels)}};
      a.codes_out_scale = block.scale;
      a.codes_out_channel_quant = block_channel_quant(b, written_part);
    }
    return a;
  }

  // The tensor-core kernel's dense blocks in this plan (with the plan's tensor-core convs and hand-overs chosen,
  // no observer): a block is shared where every reader and direct writer runs on the kernel and the kernel
  // accepts its codes there (tensor_conv_refusal of tensor_run_args). A step's arguments depend on the blocks it
  // reads and writes, so refusals turn blocks off until none is left. Returns how many are shared.
  int share_tensor_blocks(Plan& p) const {
    for (std::size_t b = 0; b < blocks_.blocks.size(); ++b) p.block_on[b] = true;
    for (std::size_t s = 0; s < steps_.size(); ++s)
      for (const int b : {blocks_.reader_of[s], blocks_.writer_of[s].first})
        if (b >= 0 && !p.tensor[s]) p.block_on[std::size_t(b)] = false;
    for (bool changed = true; changed;) {
      changed = false;
      for (std::size_t s = 0; s < steps_.size(); ++s) {
        const int read = block_read(p, s), written = block_written(p, s);
        if ((read < 0 && written < 0) || tensor_conv_refusal(tensor_run_args(s, p), tensor_form(s)).empty()) continue;
        for (const int b : {read, written})
          if (b >= 0) p.block_on[std::size_t(b)] = false;
        changed = true;
      }
    }
    return static_cast<int>(std::count(p.block_on.begin(), p.block_on.end(), true));
  }

  // Conv step `index`'s tensor_args `a` with its hand-overs: codes_in, the input read as the previous conv's
  // codes from quant_input(index); codes_out, the output written as the next conv's codes (its input scale) into
  // quant_input(index + 1); both dense NHWC.
  TensorConvArgs with_codes(TensorConvArgs a, std::size_t index, const Plan& p, bool codes_in, bool codes_out) const {
    if (codes_in) {
      a.x = Planes{quant_input(p, index), a.x.c, a.x.h, a.x.w, Strides{1, std::size_t(a.x.c)}};
      a.codes_in = true;
    }
    if (codes_out) {
      a.y = Planes{quant_input(p, index + 1), a.y.c, a.y.h, a.y.w, Strides{1, std::size_t(a.y.c)}};
      a.codes_out_scale = convs_[conv_of_step_[index + 1]].in_scale;
      a.codes_out_channel_quant = channel_quant(index + 1);
    }
    return a;
  }

  TensorConvForm tensor_form(std::size_t s) const {
    const ir::ConvParams& cp = steps_[s].node->conv;
    return TensorConvForm{cp.kernel_h, cp.kernel_w, cp.stride, cp.pad, cp.dilation};
  }

  // What the tensor-core conv's verdict depends on: the geometry, the epilogue's form, the step's own path and its
  // quantization (INT8 by one scale or per channel, FP8).
  std::string tensor_key(std::size_t s, const Plan& p) const {
    const Step& st = steps_[s];
    const Shape x = p.memory.shapes[st.inputs[0]];
    std::string key;
    append_key_group(
        key, "T",
        {x.c, p.memory.shapes[st.output].c, x.w, x.h, std::int64_t(p.memory.strides[st.inputs[0]].ps),
         std::int64_t(p.memory.strides[st.output].ps), int(st.epilogue.act), p.fused[s] != nullptr, p.staged[s] ? 1 : 0,
         convs_[conv_of_step_[s]].int8 ? (per_channel_input(s) ? 2 : 1) : 0, convs_[conv_of_step_[s]].fp8 ? 1 : 0});
    std::vector<std::int64_t> residuals;
    residuals.reserve(std::size_t(st.epilogue.residual_count));
    for (int k = 0; k < st.epilogue.residual_count; ++k)
      residuals.push_back(std::int64_t(p.memory.strides[st.epilogue.residuals[k]].ps));
    append_key_group(key, "R", residuals);
    return key;
  }

  // RESR_CUDA_TENSOR_CONV=auto for conv step s of geometry `key` (tensor_key): the launch of the cut that runs
  // it, or nothing for its cuDNN path. From the plan cache (tensor_verdict.h) when an earlier process on this GPU
  // decided it and the cut still fits; else decided here (try_tensor_conv) and stored.
  // `a`: the step's tensor_args.
  Result<std::optional<TensorConvLaunch>> tensor_verdict(std::size_t s, Plan& p, const TensorConvArgs& a,
                                                         const std::string& key, DeviceBuffer& reference,
                                                         DeviceBuffer& result, std::set<std::string>& notes) {
    const std::string entry_key = tensor_verdict_key(key);
    if (const std::optional<std::string> entry = cache_view_.get(entry_key)) {
      if (const std::optional<TensorVerdict> v = decode_tensor_verdict(*entry)) {
        notes.insert(steps_[s].node->name + ": from the plan cache, " + *entry);
        if (!v->cut) return std::optional<TensorConvLaunch>();
        if (Result<TensorConvLaunch> l = prepare_tensor_conv(a, *v->cut); l.ok()) return std::optional(*l);
        cudaGetLastError();  // the cached cut no longer fits: decided again below
      }
    }
    RESR_ASSIGN_OR_RETURN(const TensorVerdict v, try_tensor_conv(s, p, a, reference, result, notes));
    if (worth_keeping(v)) cache_view_.put(entry_key, encode_tensor_verdict(v));
    if (!v.cut) return std::optional<TensorConvLaunch>();
    RESR_ASSIGN_OR_RETURN(const TensorConvLaunch l, prepare_tensor_conv(a, *v.cut));
    return std::optional(l);
  }

  // RESR_CUDA_TENSOR_CONV=auto for conv step s: each cut of the kernel that fits the device
  // (tensor_conv_cuts), run on the same test data as the step's cuDNN path and compared; those that match are
  // timed against that path. The verdict: the fastest matching cut if it beat cuDNN, else none. The times (or a
  // mismatch, or no memory for the comparison) go to `notes`; an error only when the GPU fails.
  Result<TensorVerdict> try_tensor_conv(std::size_t s, Plan& p, const TensorConvArgs& a, DeviceBuffer& reference,
                                        DeviceBuffer& result, std::set<std::string>& notes) {
    TensorVerdict verdict;
    const Step& st = steps_[s];
    const std::string& name = st.node->name;
    const Shape ys = p.memory.shapes[st.output];
    if (!reference.reserve(std::size_t(ys.numel()) * dtype_bytes(dtype_)).ok() ||
        !result.reserve(2 * sizeof(float)).ok()) {
      cudaGetLastError();
      notes.insert("no memory to check the tensor-core conv of " + name);
      return verdict;  // cuDNN's path, not kept: cudnn_ms is 0
    }
    const auto fill = [&] {
      fill_test_pattern(planes(p, st.inputs[0]), dtype_, 1u, stream_);
      for (int k = 0; k < st.epilogue.residual_count; ++k)
        fill_test_pattern(planes(p, st.epilogue.residuals[k]), dtype_, 2u + unsigned(k), stream_);
    };
    const Planes dense_reference = packed_nhwc(reference.get(), ys);
    fill();
    if (Status ran = conv(s, p); !ran.ok()) {
      RESR_RETURN_IF_ERROR(device_still_usable(stream_, "the cuDNN path of " + name));
      notes.insert("no cuDNN result to check the tensor-core conv of " + name + " against: " + ran.message());
      return verdict;
    }
    convert(planes(p, st.output), dtype_, dense_reference, dtype_, stream_);
    const double cudnn_ms = best_device_ms(stream_, {events_[0], events_[1]}, [&] { return conv(s, p); });
    std::optional<tensor_conv::Cut> best;
    double best_ms = 0;
    std::string times;
    for (const tensor_conv::Cut& cut : tensor_conv_cuts(a)) {
      Result<TensorConvLaunch> launch = prepare_tensor_conv(a, cut);
      const std::string label = tensor_conv::describe(cut);
      if (!launch.ok()) {
        times += ", " + label + ": " + launch.status().message();
        continue;
      }
      fill();
      if (Status launched = launch_tensor_conv(*launch, a, stream_); !launched.ok()) {
        RESR_RETURN_IF_ERROR(device_still_usable(stream_, "the tensor-core conv of " + name));
        times += ", " + label + ": " + launched.message();
        continue;
      }
      max_abs_difference(planes(p, st.output), dense_reference, dtype_, static_cast<float*>(result.get()), stream_);
      float r[2] = {};
      RESR_CUDA(cudaMemcpyAsync(r, result.get(), sizeof r, cudaMemcpyDeviceToHost, stream_));
      const std::string what = "the tensor-core conv of " + name;
      RESR_RETURN_IF_ERROR(device_still_usable(stream_, what));
      if (!(r[0] <= 1e-2f * std::max(1.0f, r[1]))) {
        times +=
            ", " + label + ": differs by " + std::to_string(r[0]) + " (outputs up to " + std::to_string(r[1]) + ")";
        continue;
      }
      const double ms =
          best_device_ms(stream_, {events_[0], events_[1]}, [&] { return launch_tensor_conv(*launch, a, stream_); });
      RESR_RETURN_IF_ERROR(device_still_usable(stream_, "timing the tensor-core conv of " + name));
      times += ", " + label + " " + std::to_string(ms) + " ms";
      if (std::isfinite(ms) && (!best || ms < best_ms)) {
        best = cut;
        best_ms = ms;
      }
    }
    const bool faster = best && (!std::isfinite(cudnn_ms) || best_ms < cudnn_ms);
    notes.insert(name + " " + std::to_string(ys.w) + "x" + std::to_string(ys.h) + ": cuDNN " +
                 std::to_string(cudnn_ms) + " ms" + times + (faster ? " (tensor-core)" : " (cuDNN)"));
    verdict.cudnn_ms = cudnn_ms;
    verdict.tensor_ms = best ? best_ms : 0.0;
    if (faster) verdict.cut = best;
    return verdict;
  }

  EpilogueArgs epilogue_args(const Step& s, const ConvWeights& c, const Plan& p) const {
    const ConvEpilogue& ep = s.epilogue;
    EpilogueArgs e;
    e.bias = static_cast<const float*>(c.bias.get());
    e.act = ep.act;
    e.leaky_slope = ep.leaky_slope;
    e.slopes = static_cast<const float*>(c.slopes.get());
    e.one_slope = ep.prelu != nullptr && ep.prelu->slopes.size() == 1;
    e.out_scale = ep.out_scale;
    e.residual_count = ep.residual_count;
    for (int k = 0; k < ep.residual_count; ++k) {
      e.residuals[k] = at(p, ep.residuals[k]);
      e.residual_strides[k] = p.memory.strides[ep.residuals[k]];
      e.residual_scales[k] = ep.residual_scales[k];
    }
    return e;
  }

  // Calibration support: the conv input downloaded as fp32.
  Status observe(const Plan& p, int value) {
    const Shape s = p.memory.shapes[value];
    DeviceBuffer f;
    RESR_RETURN_IF_ERROR(f.allocate(std::size_t(s.numel()) * sizeof(float)));
    convert(planes(p, value), dtype_, nchw(f.get(), s), DType::kF32, stream_);
    Tensor host(s.c, s.h, s.w);
    RESR_CUDA(cudaMemcpyAsync(host.data(), f.get(), s.numel() * sizeof(float), cudaMemcpyDeviceToHost, stream_));
    RESR_CUDA(cudaStreamSynchronize(stream_));
    ActivationView a;
    a.data = host.data();
    a.c = s.c;
    a.h = s.h;
    a.w = s.w;
    a.channel_stride = std::size_t(s.h) * s.w;
    a.row_stride = std::size_t(s.w);
    observer_(value, a);
    return ok_status();
  }

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
  std::map<std::string, std::unique_ptr<FusedConv>> fused_cache_;  // spec key -> graph (null: not fusable)
  std::vector<DeviceBuffer> fused_constants_;                      // per step: its graph's constants
  std::vector<std::vector<float>> fused_constant_values_;          // ... as uploaded
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
  bool deviceless_proven_ = false;     // such plans ran on this GPU before (the plan cache's verdict)
  FusedCompileReport compile_report_;  // the current size's, for its planning line
  cudaStream_t stream_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  cudnnTensorDescriptor_t x_desc_ = nullptr, y_desc_ = nullptr;
  std::vector<Step> steps_;
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
  ActivationObserver observer_;
  bool timing_ = false;
  StepTimer timer_;
};

}  // namespace

Result<std::unique_ptr<Executable>> compile(std::shared_ptr<const ir::Graph> graph, bool fp32_as_fp16) {
  const DeviceInfo dev = query_devices();
  if (dev.count == 0) return Status::error("no CUDA GPU available (" + dev.reason + ")");
  auto exe = std::make_unique<CudaExecutable>(std::move(graph), fp32_as_fp16);
  RESR_RETURN_IF_ERROR(exe->init());
  return std::unique_ptr<Executable>(std::move(exe));
}

}  // namespace resr::cuda
