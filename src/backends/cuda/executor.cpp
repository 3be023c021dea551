#include "backends/cuda/executor.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backends/cuda/cuda_executable.h"
#include "backends/cuda/cuda_status.h"
#include "core/env.h"

namespace resr::cuda {

using passes::StepKind;

namespace {

// The conv workspace counted for a plan not yet made (working_bytes).
constexpr std::uint64_t kWorkspaceAllowance = std::uint64_t{256} << 20;

// Dense blocks: a part's channel offset must start a whole 16-byte vector (the fused graphs' alignment, and the
// tensor-core kernel's for codes it reads).
constexpr int kBlockAlignment = 16;

}  // namespace

CudaExecutable::~CudaExecutable() {
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

Status CudaExecutable::init() {
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

void CudaExecutable::choose_compile_target() {
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
  trying_verdict_ = verdict_while_trying(verdict);
}

void CudaExecutable::link_handovers() {
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

Result<Tensor> CudaExecutable::run(const Tensor& input) {
  if (input.c() != g_->values[g_->input].channels || input.h() < 1 || input.w() < 1)
    return Status::error("input must be " + std::to_string(g_->values[g_->input].channels) + " x H x W with H, W >= 1");
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

Status CudaExecutable::run_pixels(const PixelRect& in, int crop_x, int crop_y, const PixelWindow& out,
                                  PixelRunTimes* times) {
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

Result<std::uint64_t> CudaExecutable::working_bytes(int h, int w) {
  RESR_ASSIGN_OR_RETURN(DeviceLayout m, plan_device_memory(*g_, steps_, h, w, dtype_bytes(dtype_), layout_));
  const Shape in = m.shapes[g_->input], out = m.shapes[g_->output];
  const std::uint64_t io = std::uint64_t(std::max(in.numel(), out.numel())) * sizeof(float);
  const std::uint64_t workspace = std::max<std::uint64_t>(plan_.workspace.bytes(), kWorkspaceAllowance);
  const QuantizedBytes q = quantized_bytes(m);
  std::uint64_t quantized = std::uint64_t(q.quant_in) * (two_quant_inputs() ? 2 : 1) + q.int8_acc;
  for (const std::size_t bytes : block_slot_bytes(m)) quantized += bytes;
  return std::uint64_t(m.arena_bytes) + io + workspace + quantized;
}

std::uint64_t CudaExecutable::memory_budget_hint() {
  std::size_t free = 0, total = 0;
  if (cudaMemGetInfo(&free, &total) != cudaSuccess) return 0;
  std::uint64_t held = 0;  // the current plan's memory is available to the next one
  if (!plan_.memory.shapes.empty())
    held = plan_.arena.bytes() + plan_.workspace.bytes() + plan_.device_io.bytes() + plan_.stage_in.bytes() +
           plan_.stage_out.bytes() + plan_.quant_in[0].bytes() + plan_.quant_in[1].bytes() + plan_.int8_acc.bytes();
  for (const DeviceBuffer& b : plan_.block_buf) held += b.bytes();
  return (std::uint64_t(free) + held) / 10 * 6;
}

std::string CudaExecutable::backend_name() const {
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

Result<std::unique_ptr<Executable>> compile(std::shared_ptr<const ir::Graph> graph, bool fp32_as_fp16) {
  const DeviceInfo dev = query_devices();
  if (dev.count == 0) return Status::error("no CUDA GPU available (" + dev.reason + ")");
  auto exe = std::make_unique<CudaExecutable>(std::move(graph), fp32_as_fp16);
  RESR_RETURN_IF_ERROR(exe->init());
  return std::unique_ptr<Executable>(std::move(exe));
}

}  // namespace resr::cuda
