#include "backends/cuda/executor.h"

#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "backends/cuda/device.h"
#include "backends/cuda/kernels.h"

namespace resr::cuda {
namespace {

Status cuda_status(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return ok_status();
  return Status::error(std::string("cuda: ") + what + ": " + cudaGetErrorString(e));
}
Status cudnn_status(cudnnStatus_t e, const char* what) {
  if (e == CUDNN_STATUS_SUCCESS) return ok_status();
  return Status::error(std::string("cudnn: ") + what + ": " + cudnnGetErrorString(e));
}
#define RESR_CUDA(call) RESR_RETURN_IF_ERROR(cuda_status((call), #call))
#define RESR_CUDNN(call) RESR_RETURN_IF_ERROR(cudnn_status((call), #call))

// A device allocation, freed with the owner.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  ~DeviceBuffer() {
    if (p_ != nullptr) cudaFree(p_);
  }
  Status allocate(std::size_t bytes) {
    if (p_ != nullptr) cudaFree(p_);
    p_ = nullptr;
    bytes_ = 0;
    if (bytes == 0) return ok_status();
    RESR_CUDA(cudaMalloc(&p_, bytes));
    bytes_ = bytes;
    return ok_status();
  }
  Status upload(const void* host, std::size_t bytes) {
    RESR_RETURN_IF_ERROR(allocate(bytes));
    RESR_CUDA(cudaMemcpy(p_, host, bytes, cudaMemcpyHostToDevice));
    return ok_status();
  }
  void* get() const { return p_; }
  std::size_t bytes() const { return bytes_; }

 private:
  void* p_ = nullptr;
  std::size_t bytes_ = 0;
};

// A step: one node, or a conv with the PReLU that reads only it.
struct Step {
  const ir::Node* node = nullptr;
  std::vector<int> inputs;
  int output = -1;
  Act act = Act::kNone;
  float slope = 0.0f;
  const ir::Node* prelu = nullptr;  // fused PReLU (its slopes)
  int conv = -1;                    // index into convs_
};

struct ConvWeights {
  DeviceBuffer w, bias, slopes;
  cudnnFilterDescriptor_t filter = nullptr;
  cudnnConvolutionDescriptor_t desc = nullptr;
};

struct Plan {
  std::vector<Shape> shapes;
  std::vector<int> buffer_of;  // per value: index into buffers (-1: not materialised)
  std::vector<DeviceBuffer> buffers;
  std::vector<cudnnConvolutionFwdAlgo_t> algos;  // per step (convs only)
  DeviceBuffer workspace;
  DeviceBuffer host_io;  // fp32 staging of the input and the output on the device
  std::size_t io_floats = 0;
};

class CudaExecutable final : public Executable {
 public:
  explicit CudaExecutable(std::shared_ptr<const ir::Graph> g) : g_(std::move(g)) {}
  ~CudaExecutable() override {
    for (ConvWeights& c : convs_) {
      if (c.filter != nullptr) cudnnDestroyFilterDescriptor(c.filter);
      if (c.desc != nullptr) cudnnDestroyConvolutionDescriptor(c.desc);
    }
    if (x_desc_ != nullptr) cudnnDestroyTensorDescriptor(x_desc_);
    if (y_desc_ != nullptr) cudnnDestroyTensorDescriptor(y_desc_);
    if (cudnn_ != nullptr) cudnnDestroy(cudnn_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  Status init() {
    for (const ir::Node& n : g_->nodes) {
      if (n.op != ir::Op::kConv2d) continue;
      if (n.quant.precision == ir::Precision::kInt8)
        return Status::error("the cuda backend does not run INT8 convolutions yet (" + n.name + "); use fp32/fp16");
      if (n.quant.precision == ir::Precision::kFp16) dtype_ = DType::kF16;
    }
    RESR_CUDA(cudaStreamCreate(&stream_));
    RESR_CUDNN(cudnnCreate(&cudnn_));
    RESR_CUDNN(cudnnSetStream(cudnn_, stream_));
    RESR_CUDNN(cudnnCreateTensorDescriptor(&x_desc_));
    RESR_CUDNN(cudnnCreateTensorDescriptor(&y_desc_));
    return lower();
  }

  Result<Tensor> run(const Tensor& input) override {
    if (input.c() != g_->values[g_->input].channels || input.h() < 1 || input.w() < 1)
      return Status::error("input must be " + std::to_string(g_->values[g_->input].channels) +
                           " x H x W with H, W >= 1");
    RESR_ASSIGN_OR_RETURN(Plan * p, plan_for(input.h(), input.w()));
    auto* io = static_cast<float*>(p->host_io.get());
    RESR_CUDA(cudaMemcpyAsync(io, input.data(), input.numel() * sizeof(float), cudaMemcpyHostToDevice, stream_));
    to_storage(io, ptr(*p, g_->input), std::size_t(input.numel()), dtype_, stream_);
    for (std::size_t s = 0; s < steps_.size(); ++s) RESR_RETURN_IF_ERROR(execute(s, *p));
    const Shape o = p->shapes[g_->output];
    Tensor out(o.c, o.h, o.w);
    from_storage(ptr(*p, g_->output), io, std::size_t(out.numel()), dtype_, stream_);
    RESR_CUDA(cudaMemcpyAsync(out.data(), io, out.numel() * sizeof(float), cudaMemcpyDeviceToHost, stream_));
    RESR_CUDA(cudaStreamSynchronize(stream_));
    RESR_CUDA(cudaGetLastError());
    return out;
  }

  Result<std::uint64_t> working_bytes(int h, int w) override {
    RESR_ASSIGN_OR_RETURN(Plan * p, plan_for(h, w));
    std::uint64_t total = p->workspace.bytes() + p->host_io.bytes();
    for (const DeviceBuffer& b : p->buffers) total += b.bytes();
    return total;
  }

  std::string backend_name() const override {
    return std::string("cuda (") + (dtype_ == DType::kF16 ? "fp16" : "fp32") + ", cuDNN)";
  }

  void set_observer(ActivationObserver observer) override { observer_ = std::move(observer); }

 private:
  Status lower() {
    const std::vector<int> uses = g_->use_counts();
    const std::vector<int> reader = g_->last_uses();  // with one use: the only reader (or nodes.size())
    std::vector<bool> absorbed(g_->nodes.size(), false);
    for (int i = 0; i < int(g_->nodes.size()); ++i) {
      if (absorbed[i]) continue;
      const ir::Node& n = g_->nodes[i];
      Step s;
      s.node = &n;
      s.inputs = n.inputs;
      s.output = n.output;
      if (n.op == ir::Op::kConv2d) {
        if (n.conv.activation == ir::Activation::kLeakyRelu) {
          s.act = Act::kLeaky;
          s.slope = n.conv.activation_slope;
        } else if (n.conv.activation == ir::Activation::kRelu) {
          s.act = Act::kLeaky;
        }
        const int next = uses[n.output] == 1 ? reader[n.output] : -1;
        if (s.act == Act::kNone && next >= 0 && next < int(g_->nodes.size()) && g_->nodes[next].op == ir::Op::kPRelu) {
          s.act = Act::kPrelu;
          s.prelu = &g_->nodes[next];
          s.output = g_->nodes[next].output;
          absorbed[next] = true;
        }
        s.conv = int(convs_.size());
        convs_.emplace_back();
        RESR_RETURN_IF_ERROR(upload_conv(n, s, convs_.back()));
      }
      if (n.op == ir::Op::kPRelu) RESR_RETURN_IF_ERROR(upload_slopes(n));  // a PReLU not fused into a conv
      steps_.push_back(std::move(s));
    }
    return ok_status();
  }

  Status upload_conv(const ir::Node& n, const Step& s, ConvWeights& c) {
    const ir::ConvParams& p = n.conv;
    const std::size_t count = n.weights.size();
    DeviceBuffer staging;
    RESR_RETURN_IF_ERROR(staging.upload(n.weights.data(), count * sizeof(float)));
    RESR_RETURN_IF_ERROR(c.w.allocate(count * dtype_bytes(dtype_)));
    to_storage(static_cast<const float*>(staging.get()), c.w.get(), count, dtype_, stream_);
    RESR_CUDA(cudaStreamSynchronize(stream_));
    if (!n.bias.empty()) RESR_RETURN_IF_ERROR(c.bias.upload(n.bias.data(), n.bias.size() * sizeof(float)));
    if (s.prelu != nullptr)
      RESR_RETURN_IF_ERROR(c.slopes.upload(s.prelu->slopes.data(), s.prelu->slopes.size() * sizeof(float)));
    const cudnnDataType_t dt = dtype_ == DType::kF16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
    RESR_CUDNN(cudnnCreateFilterDescriptor(&c.filter));
    RESR_CUDNN(cudnnSetFilter4dDescriptor(c.filter, dt, CUDNN_TENSOR_NCHW, p.out_channels, p.in_channels, p.kernel_h,
                                          p.kernel_w));
    RESR_CUDNN(cudnnCreateConvolutionDescriptor(&c.desc));
    RESR_CUDNN(cudnnSetConvolution2dDescriptor(c.desc, p.pad, p.pad, p.stride, p.stride, p.dilation, p.dilation,
                                               CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    // fp32: plain FMA math (no TF32, whose 10-bit mantissa would break the fp32 accuracy); fp16: tensor cores.
    RESR_CUDNN(cudnnSetConvolutionMathType(c.desc, dtype_ == DType::kF16 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
    return ok_status();
  }

  void* ptr(const Plan& p, int value) const { return p.buffers[p.buffer_of[value]].get(); }

  Status set_desc(cudnnTensorDescriptor_t d, const Shape& s) {
    RESR_CUDNN(cudnnSetTensor4dDescriptor(
        d, CUDNN_TENSOR_NCHW, dtype_ == DType::kF16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT, 1, s.c, s.h, s.w));
    return ok_status();
  }

  // The plan for an input size (one at a time): buffers by liveness and best fit, conv algorithms by cuDNN's
  // heuristics, one workspace for the largest need.
  Result<Plan*> plan_for(int h, int w) {
    if (plan_key_ == std::make_pair(h, w) && !plan_.shapes.empty()) return &plan_;
    plan_ = Plan();
    plan_key_ = {0, 0};
    Plan& p = plan_;
    RESR_ASSIGN_OR_RETURN(p.shapes, ir::infer_shapes(*g_, h, w));
    std::vector<int> last(g_->values.size(), -1);
    for (int s = 0; s < int(steps_.size()); ++s)
      for (int v : steps_[s].inputs) last[v] = s;
    last[g_->output] = int(steps_.size());
    p.buffer_of.assign(g_->values.size(), -1);
    std::vector<std::size_t> sizes;
    std::vector<bool> free;
    auto bytes_of = [&](int v) { return std::size_t(p.shapes[v].numel()) * dtype_bytes(dtype_); };
    auto place = [&](int v) {
      int best = -1;
      for (int b = 0; b < int(sizes.size()); ++b)
        if (free[b] && sizes[b] >= bytes_of(v) && (best < 0 || sizes[b] < sizes[best])) best = b;
      if (best < 0) {
        best = int(sizes.size());
        sizes.push_back(bytes_of(v));
        free.push_back(false);
      }
      free[best] = false;
      p.buffer_of[v] = best;
    };
    place(g_->input);
    p.algos.assign(steps_.size(), CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM);
    std::size_t workspace = 0;
    for (int s = 0; s < int(steps_.size()); ++s) {
      const Step& st = steps_[s];
      if (st.node->op == ir::Op::kInput) continue;
      place(st.output);
      for (int v : st.inputs)
        if (last[v] == s && p.buffer_of[v] >= 0) free[p.buffer_of[v]] = true;
      if (st.conv >= 0) {
        RESR_ASSIGN_OR_RETURN(std::size_t need, choose_algo(st, p, &p.algos[s]));
        workspace = std::max(workspace, need);
      }
    }
    for (std::size_t size : sizes) {
      p.buffers.emplace_back();
      RESR_RETURN_IF_ERROR(p.buffers.back().allocate(size));
    }
    RESR_RETURN_IF_ERROR(p.workspace.allocate(workspace));
    p.io_floats = std::max<std::size_t>(p.shapes[g_->input].numel(), p.shapes[g_->output].numel());
    RESR_RETURN_IF_ERROR(p.host_io.allocate(p.io_floats * sizeof(float)));
    plan_key_ = {h, w};
    return &plan_;
  }

  Result<std::size_t> choose_algo(const Step& st, const Plan& p, cudnnConvolutionFwdAlgo_t* algo) {
    const ConvWeights& c = convs_[st.conv];
    RESR_RETURN_IF_ERROR(set_desc(x_desc_, p.shapes[st.inputs[0]]));
    RESR_RETURN_IF_ERROR(set_desc(y_desc_, p.shapes[st.node->output]));
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int found = 0;
    RESR_CUDNN(cudnnGetConvolutionForwardAlgorithm_v7(cudnn_, x_desc_, c.filter, c.desc, y_desc_,
                                                      CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perf));
    for (int i = 0; i < found; ++i) {
      if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
      *algo = perf[i].algo;
      return perf[i].memory;
    }
    return Status::error("cudnn: no forward algorithm for " + st.node->name);
  }

  Status execute(std::size_t index, Plan& p) {
    const Step& s = steps_[index];
    const ir::Node& n = *s.node;
    const Shape out = p.shapes[s.output];
    const std::size_t count = std::size_t(out.numel());
    switch (n.op) {
      case ir::Op::kInput:
        return ok_status();
      case ir::Op::kConv2d: {
        if (observer_) RESR_RETURN_IF_ERROR(observe(p, s.inputs[0]));
        const ConvWeights& c = convs_[s.conv];
        RESR_RETURN_IF_ERROR(set_desc(x_desc_, p.shapes[s.inputs[0]]));
        RESR_RETURN_IF_ERROR(set_desc(y_desc_, out));
        const float one = 1.0f, zero = 0.0f;
        RESR_CUDNN(cudnnConvolutionForward(cudnn_, &one, x_desc_, ptr(p, s.inputs[0]), c.filter, c.w.get(), c.desc,
                                           p.algos[index], p.workspace.get(), p.workspace.bytes(), &zero, y_desc_,
                                           ptr(p, s.output)));
        const bool one_slope = s.prelu != nullptr && s.prelu->slopes.size() == 1;
        if (c.bias.get() != nullptr || s.act != Act::kNone)
          bias_act(ptr(p, s.output), out.c, std::size_t(out.h) * out.w, static_cast<const float*>(c.bias.get()), s.act,
                   s.slope, static_cast<const float*>(c.slopes.get()), one_slope, dtype_, stream_);
        return ok_status();
      }
      case ir::Op::kPRelu: {
        RESR_CUDA(cudaMemcpyAsync(ptr(p, s.output), ptr(p, s.inputs[0]), count * dtype_bytes(dtype_),
                                  cudaMemcpyDeviceToDevice, stream_));
        bias_act(ptr(p, s.output), out.c, std::size_t(out.h) * out.w, nullptr, Act::kPrelu, 0.0f,
                 static_cast<const float*>(prelu_slopes_.at(&n).get()), n.slopes.size() == 1, dtype_, stream_);
        return ok_status();
      }
      case ir::Op::kConcat: {
        auto* dst = static_cast<char*>(ptr(p, s.output));
        for (int v : s.inputs) {  // NCHW, batch 1: a channel range is one contiguous block
          const std::size_t b = std::size_t(p.shapes[v].numel()) * dtype_bytes(dtype_);
          RESR_CUDA(cudaMemcpyAsync(dst, ptr(p, v), b, cudaMemcpyDeviceToDevice, stream_));
          dst += b;
        }
        return ok_status();
      }
      case ir::Op::kWeightedSum: {
        if (s.inputs.size() > 4) return Status::error("cuda: weighted sum of more than 4 inputs (" + n.name + ")");
        const void* in[4] = {};
        for (std::size_t k = 0; k < s.inputs.size(); ++k) in[k] = ptr(p, s.inputs[k]);
        weighted_sum(in, n.coeffs.data(), int(s.inputs.size()), ptr(p, s.output), count, dtype_, stream_);
        return ok_status();
      }
      case ir::Op::kUpsampleNearest: {
        const Shape i = p.shapes[s.inputs[0]];
        upsample_nearest(ptr(p, s.inputs[0]), i.c, i.h, i.w, n.factor, ptr(p, s.output), dtype_, stream_);
        return ok_status();
      }
      case ir::Op::kPixelShuffle: {
        const Shape i = p.shapes[s.inputs[0]];
        pixel_shuffle(ptr(p, s.inputs[0]), out.c, i.h, i.w, n.factor, ptr(p, s.output), dtype_, stream_);
        return ok_status();
      }
      case ir::Op::kPixelUnshuffle: {
        const Shape i = p.shapes[s.inputs[0]];
        pixel_unshuffle(ptr(p, s.inputs[0]), i.c, out.h, out.w, n.factor, ptr(p, s.output), dtype_, stream_);
        return ok_status();
      }
    }
    return Status::error("cuda: unsupported op in " + n.name);
  }

  Status upload_slopes(const ir::Node& n) {
    DeviceBuffer b;
    RESR_RETURN_IF_ERROR(b.upload(n.slopes.data(), n.slopes.size() * sizeof(float)));
    prelu_slopes_.emplace(&n, std::move(b));
    return ok_status();
  }

  // Calibration support: the conv input downloaded as fp32.
  Status observe(const Plan& p, int value) {
    const Shape s = p.shapes[value];
    DeviceBuffer f;
    RESR_RETURN_IF_ERROR(f.allocate(std::size_t(s.numel()) * sizeof(float)));
    from_storage(ptr(p, value), static_cast<float*>(f.get()), std::size_t(s.numel()), dtype_, stream_);
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
  DType dtype_ = DType::kF32;
  cudaStream_t stream_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  cudnnTensorDescriptor_t x_desc_ = nullptr, y_desc_ = nullptr;
  std::vector<Step> steps_;
  std::vector<ConvWeights> convs_;
  std::map<const ir::Node*, DeviceBuffer> prelu_slopes_;
  Plan plan_;
  std::pair<int, int> plan_key_{0, 0};
  ActivationObserver observer_;
};

}  // namespace

Result<std::unique_ptr<Executable>> compile(std::shared_ptr<const ir::Graph> graph) {
  const DeviceInfo dev = query_devices();
  if (dev.count == 0) return Status::error("no CUDA GPU available (" + dev.reason + ")");
  auto exe = std::make_unique<CudaExecutable>(std::move(graph));
  RESR_RETURN_IF_ERROR(exe->init());
  return std::unique_ptr<Executable>(std::move(exe));
}

}  // namespace resr::cuda
