#include "backends/cuda/fused_conv.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

namespace resr::cuda {
namespace {

using passes::Act;

// The cache's keys for fused plans: this prefix and the graph's signature.
constexpr const char* kCacheKind = "fused|";

// Tensor ids of the graph; virtual tensors (the conv's result and the chain between ops) count up from kVirtual.
constexpr std::int64_t kX = 1, kW = 2, kY = 3, kBias = 4, kSlopes = 5, kDequant = 6, kResidual = 10, kConstant = 20,
                       kVirtual = 100;

cudnnDataType_t cudnn_type(FusedType t) {
  switch (t) {
    case FusedType::kHalf:
      return CUDNN_DATA_HALF;
    case FusedType::kFloat:
      return CUDNN_DATA_FLOAT;
    case FusedType::kInt8:
      return CUDNN_DATA_INT8;
    case FusedType::kFp8:
      return CUDNN_DATA_FP8_E4M3;
  }
  return CUDNN_DATA_HALF;
}

// A packed NHWC tensor of its own (the INT8 input buffers).
TensorPlace packed(int c, int h, int w) {
  return TensorPlace{c, h, w, Strides{1, std::size_t(c)}, 16};
}

int alignment_of(std::size_t offset) {
  int a = 16;
  while (a > 2 && offset % std::size_t(a) != 0) a /= 2;
  return a;
}

TensorPlace place(const DeviceLayout& m, int value) {
  const Shape s = m.shapes[value];
  return TensorPlace{s.c, s.h, s.w, m.strides[value], alignment_of(m.offset[value])};
}

// [n, c, h, w] dims and strides of a placed batch-1 tensor.
std::vector<std::int64_t> dims_of(const TensorPlace& t) {
  return {1, t.c, t.h, t.w};
}
std::vector<std::int64_t> strides_of(const TensorPlace& t) {
  const std::int64_t n =
      std::max<std::int64_t>(std::int64_t(t.c) * std::int64_t(t.s.cs), std::int64_t(t.h) * t.w * std::int64_t(t.s.ps));
  return {n, std::int64_t(t.s.cs), std::int64_t(t.w) * std::int64_t(t.s.ps), std::int64_t(t.s.ps)};
}

Result<BackendDescriptor> tensor(std::int64_t uid, cudnnDataType_t type, const std::vector<std::int64_t>& dims,
                                 const std::vector<std::int64_t>& strides, std::int64_t alignment, bool is_virtual) {
  RESR_ASSIGN_OR_RETURN(BackendDescriptor t, BackendDescriptor::create(CUDNN_BACKEND_TENSOR_DESCRIPTOR));
  RESR_RETURN_IF_ERROR(t.set_data_type(CUDNN_ATTR_TENSOR_DATA_TYPE, type));
  RESR_RETURN_IF_ERROR(t.set_int64s(CUDNN_ATTR_TENSOR_DIMENSIONS, dims));
  RESR_RETURN_IF_ERROR(t.set_int64s(CUDNN_ATTR_TENSOR_STRIDES, strides));
  RESR_RETURN_IF_ERROR(t.set_int64(CUDNN_ATTR_TENSOR_UNIQUE_ID, uid));
  RESR_RETURN_IF_ERROR(t.set_int64(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, alignment));
  const bool v = is_virtual;
  RESR_RETURN_IF_ERROR(t.set(CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &v));
  RESR_RETURN_IF_ERROR(t.finalize());
  return t;
}

cudnnPointwiseMode_t cudnn_mode(ChainOp::Mode m) {
  switch (m) {
    case ChainOp::kAdd:
      return CUDNN_POINTWISE_ADD;
    case ChainOp::kSub:
      return CUDNN_POINTWISE_SUB;
    case ChainOp::kMul:
      return CUDNN_POINTWISE_MUL;
    case ChainOp::kRelu:
      return CUDNN_POINTWISE_RELU_FWD;
    case ChainOp::kMin:
      return CUDNN_POINTWISE_MIN;
    case ChainOp::kMax:
      return CUDNN_POINTWISE_MAX;
    case ChainOp::kFloor:
      return CUDNN_POINTWISE_FLOOR;
  }
  return CUDNN_POINTWISE_ADD;
}

// Builds the operation graph of a spec; owns the descriptors until the graph is finalized.
class GraphBuilder {
 public:
  GraphBuilder(const FusedConvSpec& s, const EpilogueChain& chain, cudnnHandle_t handle, bool dynamic_shape)
      : s_(s), chain_(chain), handle_(handle), dynamic_shape_(dynamic_shape) {
    // The chain's virtual tensors: fp32, the output's shape, packed in the output's layout.
    const TensorPlace& y = s.y;
    if (y.s.cs == 1 && y.s.ps != 1)
      chain_strides_ = {std::int64_t(y.c) * y.h * y.w, 1, std::int64_t(y.w) * y.c, y.c};
    else
      chain_strides_ = {std::int64_t(y.c) * y.h * y.w, std::int64_t(y.h) * y.w, y.w, 1};
  }

  const std::string& signature() const { return signature_; }

  Result<BackendDescriptor> build() {
    const HandOver h = s_.epilogue.quantize_output;
    const cudnnDataType_t y_type = h == HandOver::kInt8   ? CUDNN_DATA_INT8
                                   : h == HandOver::kE4m3 ? CUDNN_DATA_FP8_E4M3
                                                          : cudnn_type(s_.activations);
    RESR_ASSIGN_OR_RETURN(const BackendDescriptor* y,
                          keep_tensor(kY, y_type, dims_of(s_.y), strides_of(s_.y), s_.y.alignment, false));
    std::vector<const BackendDescriptor*> values;
    const int last = int(chain_.ops.size());
    for (int v = 0; v <= last; ++v) {
      if (v == last) {
        values.push_back(y);
      } else {
        RESR_ASSIGN_OR_RETURN(const BackendDescriptor* t,
                              keep_tensor(kVirtual + v, CUDNN_DATA_FLOAT, dims_of(s_.y), chain_strides_, 16, true));
        values.push_back(t);
      }
    }
    RESR_RETURN_IF_ERROR(conv(values[0]));
    for (std::size_t i = 0; i < chain_.ops.size(); ++i) {
      const ChainOp& op = chain_.ops[i];
      RESR_ASSIGN_OR_RETURN(const BackendDescriptor* b, operand(op.b, values));
      RESR_RETURN_IF_ERROR(pointwise(op, values[std::size_t(op.x)], b, values[i + 1]));
    }
    std::vector<cudnnBackendDescriptor_t> raw;
    raw.reserve(ops_.size());
    for (const BackendDescriptor& op : ops_) raw.push_back(op.get());
    RESR_ASSIGN_OR_RETURN(BackendDescriptor graph, BackendDescriptor::create(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR));
    RESR_RETURN_IF_ERROR(
        graph.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, std::int64_t(raw.size()), raw.data()));
    // cuDNN before 9.8 needs the handle here (later ones take device properties at the heuristics and plan).
    if (handle_ != nullptr)
      RESR_RETURN_IF_ERROR(graph.set(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle_));
    if (dynamic_shape_) {  // kernels compiled for any height and width, so a kernel cache can share them
      record("D", {1});
      RESR_RETURN_IF_ERROR(
          graph.set(CUDNN_ATTR_OPERATIONGRAPH_IS_DYNAMIC_SHAPE_ENABLED, CUDNN_TYPE_BOOLEAN, 1, &dynamic_shape_));
    }
    RESR_RETURN_IF_ERROR(graph.finalize());
    return graph;
  }

 private:
  // Descriptors stay where they are once kept (the ops refer to them).
  Result<const BackendDescriptor*> keep(Result<BackendDescriptor> d) {
    RESR_RETURN_IF_ERROR(d.status());
    return keep(std::move(*d));
  }
  const BackendDescriptor* keep(BackendDescriptor d) {
    kept_.push_back(std::make_unique<BackendDescriptor>(std::move(d)));
    return kept_.back().get();
  }
  Result<const BackendDescriptor*> keep_tensor(std::int64_t uid, cudnnDataType_t type,
                                               const std::vector<std::int64_t>& dims,
                                               const std::vector<std::int64_t>& strides, std::int64_t alignment,
                                               bool is_virtual) {
    record("T", {uid, type, alignment, is_virtual});
    record(" d", dims);
    record(" s", strides);
    return keep(tensor(uid, type, dims, strides, alignment, is_virtual));
  }
  // The signature: every attribute the graph is built from, in order.
  void record(const char* what, const std::vector<std::int64_t>& values) { append_key_group(signature_, what, values); }

  Result<const BackendDescriptor*> operand(const ChainOperand& o, const std::vector<const BackendDescriptor*>& values) {
    switch (o.kind) {
      case ChainOperand::kNone:
        return static_cast<const BackendDescriptor*>(nullptr);
      case ChainOperand::kValue:
        return values[std::size_t(o.index)];
      case ChainOperand::kBias:
        return channel_tensor(kBias);
      case ChainOperand::kSlopes:
        return channel_tensor(kSlopes);
      case ChainOperand::kDequant:
        return channel_tensor(kDequant);
      case ChainOperand::kConstant:
        return channel_tensor(kConstant + o.index);
      case ChainOperand::kResidual: {
        const TensorPlace& r = s_.residuals[o.index];
        return keep_tensor(kResidual + o.index, cudnn_type(s_.activations), dims_of(r), strides_of(r), r.alignment,
                           false);
      }
    }
    return Status::error("fused conv: unknown operand");
  }

  // [1, c, 1, 1] fp32, broadcast over the pixels.
  Result<const BackendDescriptor*> channel_tensor(std::int64_t uid) {
    return keep_tensor(uid, CUDNN_DATA_FLOAT, {1, s_.y.c, 1, 1}, {s_.y.c, 1, 1, 1}, 16, false);
  }

  Status conv(const BackendDescriptor* y) {
    const FusedConvSpec& s = s_;
    RESR_ASSIGN_OR_RETURN(const BackendDescriptor* x,
                          keep_tensor(kX, cudnn_type(s.input), dims_of(s.x), strides_of(s.x), s.x.alignment, false));
    const std::int64_t ic = s.x.c, oc = s.y.c, kh = s.kernel_h, kw = s.kernel_w;
    record("C", {s.pad, s.dilation, s.stride, s.input == FusedType::kInt8, kVirtual});
    const std::vector<std::int64_t> w_strides = s.nhwc_filter ? std::vector<std::int64_t>{kh * kw * ic, 1, kw * ic, ic}
                                                              : std::vector<std::int64_t>{ic * kh * kw, kh * kw, kw, 1};
    RESR_ASSIGN_OR_RETURN(const BackendDescriptor* w,
                          keep_tensor(kW, cudnn_type(s.input), {oc, ic, kh, kw}, w_strides, 16, false));
    RESR_ASSIGN_OR_RETURN(BackendDescriptor desc, BackendDescriptor::create(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR));
    RESR_RETURN_IF_ERROR(desc.set_int64(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, 2));
    const cudnnDataType_t sums = s.input == FusedType::kInt8 ? CUDNN_DATA_INT32 : CUDNN_DATA_FLOAT;
    RESR_RETURN_IF_ERROR(desc.set_data_type(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, sums));
    const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
    RESR_RETURN_IF_ERROR(desc.set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode));
    RESR_RETURN_IF_ERROR(desc.set_int64s(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, {s.pad, s.pad}));
    RESR_RETURN_IF_ERROR(desc.set_int64s(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, {s.pad, s.pad}));
    RESR_RETURN_IF_ERROR(desc.set_int64s(CUDNN_ATTR_CONVOLUTION_DILATIONS, {s.dilation, s.dilation}));
    RESR_RETURN_IF_ERROR(desc.set_int64s(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, {s.stride, s.stride}));
    RESR_RETURN_IF_ERROR(desc.finalize());
    const BackendDescriptor* kept_desc = keep(std::move(desc));
    RESR_ASSIGN_OR_RETURN(BackendDescriptor op,
                          BackendDescriptor::create(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR));
    RESR_RETURN_IF_ERROR(op.set_descriptor(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, *x));
    RESR_RETURN_IF_ERROR(op.set_descriptor(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, *w));
    RESR_RETURN_IF_ERROR(op.set_descriptor(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, *y));
    RESR_RETURN_IF_ERROR(op.set_descriptor(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, *kept_desc));
    const float one = 1.0f, zero = 0.0f;
    RESR_RETURN_IF_ERROR(op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &one));
    RESR_RETURN_IF_ERROR(op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &zero));
    RESR_RETURN_IF_ERROR(op.finalize());
    ops_.push_back(std::move(op));
    return ok_status();
  }

  Status pointwise(const ChainOp& c, const BackendDescriptor* x, const BackendDescriptor* b,
                   const BackendDescriptor* y) {
    RESR_ASSIGN_OR_RETURN(BackendDescriptor pw, BackendDescriptor::create(CUDNN_BACKEND_POINTWISE_DESCRIPTOR));
    const cudnnPointwiseMode_t mode = cudnn_mode(c.mode);
    std::int64_t slope_bits = 0;
    static_assert(sizeof(c.slope) <= sizeof(slope_bits));
    std::memcpy(&slope_bits, &c.slope, sizeof(c.slope));
    record("P", {mode, c.x, std::int64_t(c.b.kind), c.b.index, slope_bits});
    RESR_RETURN_IF_ERROR(pw.set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode));
    RESR_RETURN_IF_ERROR(pw.set_data_type(CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_DATA_FLOAT));
    if (c.mode == ChainOp::kRelu) {
      const double slope = c.slope;
      RESR_RETURN_IF_ERROR(pw.set(CUDNN_ATTR_POINTWISE_RELU_LOWER_CLIP_SLOPE, CUDNN_TYPE_DOUBLE, 1, &slope));
    }
    RESR_RETURN_IF_ERROR(pw.finalize());
    const BackendDescriptor* kept_pw = keep(std::move(pw));
    RESR_ASSIGN_OR_RETURN(BackendDescriptor op,
                          BackendDescriptor::create(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR));
    RESR_RETURN_IF_ERROR(op.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, *kept_pw));
    RESR_RETURN_IF_ERROR(op.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, *x));
    if (b != nullptr) RESR_RETURN_IF_ERROR(op.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, *b));
    RESR_RETURN_IF_ERROR(op.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, *y));
    RESR_RETURN_IF_ERROR(op.finalize());
    ops_.push_back(std::move(op));
    return ok_status();
  }

  const FusedConvSpec& s_;
  const EpilogueChain& chain_;
  std::string signature_;
  cudnnHandle_t handle_;
  bool dynamic_shape_;
  std::vector<std::int64_t> chain_strides_;
  std::vector<std::unique_ptr<BackendDescriptor>> kept_;
  std::vector<BackendDescriptor> ops_;
};

}  // namespace

// The graph's structure: places, types, conv parameters and the chain's ops (constant values are data, so
// steps that differ only in them share a compiled graph).
std::string FusedConvSpec::key() const {
  return describe(true);
}

std::string FusedConvSpec::topology() const {
  return describe(false);
}

std::string FusedConvSpec::describe(bool with_size) const {
  std::string k;
  char buf[96];
  auto place_key = [&](const TensorPlace& t) {
    if (with_size) {
      std::snprintf(buf, sizeof(buf), "[%d,%d,%d|%zu,%zu|%d]", t.c, t.h, t.w, t.s.cs, t.s.ps, t.alignment);
    } else {
      std::snprintf(buf, sizeof(buf), "[%d|%zu,%zu|%d]", t.c, t.s.cs, t.s.ps, t.alignment);
    }
    k += buf;
  };
  place_key(x);
  place_key(y);
  for (int r = 0; r < epilogue.residual_count; ++r) place_key(residuals[r]);
  std::snprintf(buf, sizeof(buf), "k%dx%d p%d s%d d%d f%d t%d%d q%d:", kernel_h, kernel_w, pad, stride, dilation,
                int(nhwc_filter), int(input), int(activations), int(epilogue.quantize_output));
  k += buf;
  for (const ChainOp& op : epilogue_chain(epilogue).ops) {
    std::snprintf(buf, sizeof(buf), " %d(%d,%d.%d,%a)", int(op.mode), op.x, int(op.b.kind), op.b.index,
                  double(op.slope));
    k += buf;
  }
  return k;
}

std::vector<float> fused_constants(const FusedConvSpec& spec) {
  std::vector<float> v;
  for (float c : epilogue_chain(spec.epilogue).constants) v.insert(v.end(), std::size_t(spec.y.c), c);
  return v;
}

FusedConvSpec fused_conv_spec(const passes::Step& s, const DeviceLayout& memory, Layout layout, FusedType activations) {
  const ir::ConvParams& p = s.node->conv;
  const passes::ConvEpilogue& e = s.epilogue;
  FusedConvSpec f;
  f.x = place(memory, s.inputs[0]);
  f.y = place(memory, s.output);
  f.kernel_h = p.kernel_h;
  f.kernel_w = p.kernel_w;
  f.pad = p.pad;
  f.stride = p.stride;
  f.dilation = p.dilation;
  f.nhwc_filter = layout == Layout::kNhwc;
  f.activations = activations;
  f.epilogue = epilogue_form(e, !s.node->bias.empty());
  for (int k = 0; k < e.residual_count; ++k) f.residuals[k] = place(memory, e.residuals[k]);
  return f;
}

namespace {

// x (and with a hand-over y) packed in `type`; the sums dequantized first.
void make_quantized(FusedConvSpec& spec, FusedType type, float handover_scale) {
  spec.input = type;
  spec.x = packed(spec.x.c, spec.x.h, spec.x.w);
  spec.epilogue.dequantize = true;
  if (handover_scale > 0.0f) {
    spec.epilogue.quantize_output = type == FusedType::kInt8 ? HandOver::kInt8 : HandOver::kE4m3;
    spec.epilogue.output_scale = handover_scale;
    spec.y = packed(spec.y.c, spec.y.h, spec.y.w);
  }
}

}  // namespace

void make_fp8(FusedConvSpec& spec, float handover_scale) {
  make_quantized(spec, FusedType::kFp8, handover_scale);
}

void make_int8(FusedConvSpec& spec, float handover_scale) {
  make_quantized(spec, FusedType::kInt8, handover_scale);
}

void read_fp8_block(FusedConvSpec& spec, int block_channels) {
  spec.x = TensorPlace{spec.x.c, spec.x.h, spec.x.w, Strides{1, std::size_t(block_channels)}, 16};
}

void write_fp8_block(FusedConvSpec& spec, int block_channels, float scale) {
  spec.epilogue.quantize_output = HandOver::kE4m3;
  spec.epilogue.output_scale = scale;
  spec.y = TensorPlace{spec.y.c, spec.y.h, spec.y.w, Strides{1, std::size_t(block_channels)}, 16};
}

bool fusable(const FusedConvSpec& spec) {
  // The fusion engines read and write rows of whole 16-byte vectors: 8 fp16 channels.
  auto vectorised = [](const TensorPlace& t) { return t.c % 8 == 0 && t.alignment == 16; };
  if (!vectorised(spec.x) || !vectorised(spec.y)) return false;
  for (int k = 0; k < spec.epilogue.residual_count; ++k)
    if (spec.epilogue.residual_scales[k] == 0.0f || !vectorised(spec.residuals[k])) return false;
  return !epilogue_chain(spec.epilogue).ops.empty();  // a bare conv gains nothing from a graph
}

namespace {

// The global index of an engine configuration's engine (-1 when cuDNN does not say).
long long engine_index(const BackendDescriptor& config) {
  cudnnBackendDescriptor_t engine = nullptr;
  if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &engine) != CUDNN_STATUS_SUCCESS) return -1;
  std::int64_t index = -1, n = 0;
  if (cudnnBackendGetAttribute(config.get(), CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n,
                               &engine) != CUDNN_STATUS_SUCCESS ||
      cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n, &index) !=
          CUDNN_STATUS_SUCCESS)
    index = -1;
  cudnnBackendDestroyDescriptor(engine);
  return index;
}

// Where a plan is finalized: on the device properties, else on the handle's GPU.
Status set_plan_target(BackendDescriptor& plan, const FusedConvTarget& target) {
  if (target.device != nullptr) return plan.set_descriptor(CUDNN_ATTR_EXECUTION_PLAN_DEVICEPROP, *target.device);
  return plan.set(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &target.handle);
}

std::size_t plan_workspace(const BackendDescriptor& plan) {
  std::int64_t workspace = 0, n = 0;
  cudnnBackendGetAttribute(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &n, &workspace);
  return std::size_t(std::max<std::int64_t>(workspace, 0));
}

}  // namespace

FusedConv::~FusedConv() = default;

// A cache entry: the engine's index on the first line, then cuDNN's JSON form of the plan.
Result<FusedConv::Plan> FusedConv::load_plan(const std::string& entry, const FusedConvTarget& target) {
  const std::size_t eol = entry.find('\n');
  if (eol == std::string::npos) return Status::error("fused conv: a cache entry without its engine line");
  Plan p;
  p.engine = std::strtoll(entry.c_str(), nullptr, 10);
  const std::string json = entry.substr(eol + 1);
  RESR_ASSIGN_OR_RETURN(p.plan, BackendDescriptor::create(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR));
  RESR_RETURN_IF_ERROR(set_plan_target(p.plan, target));
  RESR_RETURN_IF_ERROR(p.plan.set(CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION, CUDNN_TYPE_CHAR,
                                  std::int64_t(json.size()), json.data()));
  RESR_RETURN_IF_ERROR(p.plan.finalize());
  p.workspace = plan_workspace(p.plan);
  return p;
}

void FusedConv::remember(const CacheView& cache) const {
  if (from_cache_ || plans_.empty() || cache.cache == nullptr) return;
  const Plan& p = plans_[chosen_];
  std::int64_t n = 0;
  if (cudnnBackendGetAttribute(p.plan.get(), CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION, CUDNN_TYPE_CHAR, 0, &n,
                               nullptr) != CUDNN_STATUS_SUCCESS ||
      n <= 0)
    return;  // an engine whose plans cuDNN cannot serialize
  std::string json(std::size_t(n), '\0');
  if (cudnnBackendGetAttribute(p.plan.get(), CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION, CUDNN_TYPE_CHAR, n, &n,
                               json.data()) != CUDNN_STATUS_SUCCESS)
    return;
  json.resize(std::size_t(n));
  cache.put(kCacheKind + signature_, std::to_string(p.engine) + "\n" + json);
}

void FusedConv::forget(const CacheView& cache, const std::string& signature) {
  cache.erase(kCacheKind + signature);
}

Result<std::unique_ptr<FusedConv>> FusedConv::build(const FusedConvSpec& spec, const FusedConvTarget& target,
                                                    int max_tries) {
  if (!fusable(spec)) return Status::error("fused conv: the epilogue cannot be expressed as a chain");
  const EpilogueChain chain = epilogue_chain(spec.epilogue);
  GraphBuilder builder(spec, chain, target.handle, target.kernels != nullptr);
  RESR_ASSIGN_OR_RETURN(BackendDescriptor graph, builder.build());
  std::unique_ptr<FusedConv> f(new FusedConv());
  f->has_bias_ = spec.epilogue.has_bias;
  f->per_channel_slopes_ = spec.epilogue.act == Act::kPrelu && spec.epilogue.per_channel_slopes;
  f->residual_count_ = spec.epilogue.residual_count;
  f->dequantize_ = spec.epilogue.dequantize;
  f->constant_count_ = int(chain.constants.size());
  f->channels_ = spec.y.c;
  f->signature_ = builder.signature();
  if (const std::optional<std::string> cached = target.cache.get(kCacheKind + f->signature_)) {
    if (Result<Plan> p = load_plan(*cached, target); p.ok()) {
      f->outcomes_.push_back(PlanOutcome{p->engine, CUDNN_STATUS_SUCCESS});
      f->plans_.push_back(std::move(*p));
      f->from_cache_ = true;
      return f;
    }
  }

  for (const cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
    RESR_ASSIGN_OR_RETURN(BackendDescriptor heur, BackendDescriptor::create(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR));
    RESR_RETURN_IF_ERROR(heur.set_descriptor(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph));
    RESR_RETURN_IF_ERROR(heur.set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode));
    if (target.device != nullptr)
      RESR_RETURN_IF_ERROR(heur.set_descriptor(CUDNN_ATTR_ENGINEHEUR_DEVICEPROP, *target.device));
    if (!heur.finalize().ok()) continue;
    std::int64_t count = 0;
    if (cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count,
                                 nullptr) != CUDNN_STATUS_SUCCESS ||
        count <= 0)
      continue;
    std::vector<BackendDescriptor> configs;
    std::vector<cudnnBackendDescriptor_t> raw;
    for (std::int64_t i = 0; i < count; ++i) {
      RESR_ASSIGN_OR_RETURN(BackendDescriptor c, BackendDescriptor::create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR));
      raw.push_back(c.get());
      configs.push_back(std::move(c));
    }
    std::int64_t returned = 0;
    RESR_RETURN_IF_ERROR(
        cudnn_graph_status(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                                    CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &returned, raw.data()),
                           "engine heuristics"));
    // max_tries per heuristic mode: the fallback mode gets its own when mode A's all failed.
    for (std::int64_t i = 0; i < returned && i < max_tries; ++i) {
      RESR_ASSIGN_OR_RETURN(BackendDescriptor plan, BackendDescriptor::create(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR));
      RESR_RETURN_IF_ERROR(plan.set_descriptor(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, configs[std::size_t(i)]));
      RESR_RETURN_IF_ERROR(set_plan_target(plan, target));
      cudnnStatus_t finalized = CUDNN_STATUS_SUCCESS;
      if (target.kernels != nullptr) {
        RESR_ASSIGN_OR_RETURN(ShapeKernels::Shared kernels, target.kernels->for_graph(spec.topology(), graph));
        const std::lock_guard<std::mutex> lock(*kernels.mutex);
        RESR_RETURN_IF_ERROR(plan.set_descriptor(CUDNN_ATTR_EXECUTION_PLAN_KERNEL_CACHE, *kernels.cache));
        finalized = cudnnBackendFinalize(plan.get());
      } else {
        finalized = cudnnBackendFinalize(plan.get());
      }
      const long long engine = engine_index(configs[std::size_t(i)]);
      f->outcomes_.push_back(PlanOutcome{engine, finalized});
      if (finalized != CUDNN_STATUS_SUCCESS) continue;  // this engine cannot run the graph: try the next
      Plan p;
      p.workspace = plan_workspace(plan);
      p.engine = engine;
      p.plan = std::move(plan);
      f->plans_.push_back(std::move(p));
    }
    if (!f->plans_.empty()) break;
  }
  if (f->outcomes_.empty()) return Status::error("fused conv: cuDNN proposes no engine for the graph");
  return f;
}

std::size_t FusedConv::max_workspace_bytes() const {
  std::size_t m = 0;
  for (const Plan& p : plans_) m = std::max(m, p.workspace);
  return m;
}

std::size_t FusedConv::workspace_bytes() const {
  return plans_.empty() ? 0 : plans_[chosen_].workspace;
}

std::string FusedConv::describe() const {
  std::string s;
  for (const PlanOutcome& o : outcomes_) {
    if (!s.empty()) s += ", ";
    s += "engine " + std::to_string(o.engine) + ": " + cudnnGetErrorString(o.status);
  }
  if (!plans_.empty()) s += "; chosen engine " + std::to_string(plans_[chosen_].engine);
  return s;
}

Status FusedConv::execute(cudnnHandle_t handle, const Plan& p, const FusedConvData& data, void* workspace) const {
  RESR_ASSIGN_OR_RETURN(const BackendDescriptor pack, bind(data, workspace));
  return cudnn_graph_status(cudnnBackendExecute(handle, p.plan.get(), pack.get()), "execute fused conv");
}

Result<BackendDescriptor> FusedConv::bind(const FusedConvData& data, void* workspace) const {
  std::vector<std::int64_t> uids = {kX, kW, kY};
  std::vector<void*> pointers = {const_cast<void*>(data.x), const_cast<void*>(data.w), data.y};
  if (has_bias_) {
    uids.push_back(kBias);
    pointers.push_back(const_cast<float*>(data.bias));
  }
  if (per_channel_slopes_) {
    uids.push_back(kSlopes);
    pointers.push_back(const_cast<float*>(data.slopes));
  }
  if (dequantize_) {
    uids.push_back(kDequant);
    pointers.push_back(const_cast<float*>(data.dequant));
  }
  for (int k = 0; k < residual_count_; ++k) {
    uids.push_back(kResidual + k);
    pointers.push_back(const_cast<void*>(data.residuals[k]));
  }
  for (int k = 0; k < constant_count_; ++k) {
    uids.push_back(kConstant + k);
    pointers.push_back(const_cast<float*>(data.constants) + std::size_t(k) * std::size_t(channels_));
  }
  RESR_ASSIGN_OR_RETURN(BackendDescriptor pack, BackendDescriptor::create(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR));
  RESR_RETURN_IF_ERROR(
      pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, std::int64_t(uids.size()), uids.data()));
  RESR_RETURN_IF_ERROR(pack.set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR,
                                std::int64_t(pointers.size()), pointers.data()));
  RESR_RETURN_IF_ERROR(pack.set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace));
  RESR_RETURN_IF_ERROR(pack.finalize());
  return pack;
}

Status FusedConv::launch(cudnnHandle_t handle, const BackendDescriptor& bound) const {
  if (plans_.empty()) return Status::error("fused conv: no compiled plan to run");
  return cudnn_graph_status(cudnnBackendExecute(handle, plans_[chosen_].plan.get(), bound.get()), "execute fused conv");
}

Status FusedConv::choose(cudnnHandle_t handle, const FusedConvData& data, void* workspace, cudaStream_t stream) {
  cudaEvent_t start = nullptr, stop = nullptr;
  RESR_CUDA(cudaEventCreate(&start));
  if (cudaEventCreate(&stop) != cudaSuccess) {
    cudaEventDestroy(start);
    return Status::error("cuda: cannot create an event");
  }
  float best = std::numeric_limits<float>::infinity();
  std::size_t best_plan = plans_.size();
  Status last_error = ok_status();
  for (std::size_t i = 0; i < plans_.size(); ++i) {
    Status ran = execute(handle, plans_[i], data, workspace);  // warm-up (and loads the compiled kernel)
    constexpr int kRuns = 3;
    cudaEventRecord(start, stream);
    for (int r = 0; r < kRuns && ran.ok(); ++r) ran = execute(handle, plans_[i], data, workspace);
    cudaEventRecord(stop, stream);
    float ms = 0;
    const bool timed =
        cudaEventSynchronize(stop) == cudaSuccess && cudaEventElapsedTime(&ms, start, stop) == cudaSuccess;
    if (!ran.ok() || !timed) {
      cudaGetLastError();
      if (!ran.ok()) last_error = ran;
      continue;
    }
    if (ms / kRuns < best) {
      best = ms / kRuns;
      best_plan = i;
    }
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  if (best_plan == plans_.size()) return last_error.ok() ? Status::error("fused conv: no plan ran") : last_error;
  chosen_ = best_plan;
  return ok_status();
}

Result<ShapeKernels::Shared> ShapeKernels::for_graph(const std::string& topology, const BackendDescriptor& graph) {
  const std::lock_guard<std::mutex> lock(mutex_);
  std::unique_ptr<Entry>& e = caches_[topology];
  if (e == nullptr) {
    auto entry = std::make_unique<Entry>();
    RESR_ASSIGN_OR_RETURN(entry->cache, BackendDescriptor::create(CUDNN_BACKEND_KERNEL_CACHE_DESCRIPTOR));
    RESR_RETURN_IF_ERROR(entry->cache.set_descriptor(CUDNN_ATTR_KERNEL_CACHE_OPERATION_GRAPH, graph));
    RESR_RETURN_IF_ERROR(entry->cache.finalize());
    e = std::move(entry);
  }
  return Shared{&e->cache, &e->mutex};
}

std::vector<FusedBuild> build_fused_convs(const std::vector<FusedConvSpec>& specs, const FusedConvTarget& target,
                                          int max_tries, int threads) {
  std::vector<FusedBuild> built(specs.size());
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i = next++; i < specs.size(); i = next++) {
      auto f = FusedConv::build(specs[i], target, max_tries);
      if (f.ok()) {
        built[i].conv = std::move(*f);
      } else {
        built[i].status = f.status();
      }
    }
  };
  if (target.handle != nullptr) threads = 1;  // cuDNN: no two threads on one handle at the same time
  const std::size_t helpers = std::min<std::size_t>(std::size_t(std::max(threads, 1)), specs.size());
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < helpers; ++t) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no more threads to be had: fewer do the work
    }
  }
  work();
  for (std::thread& t : pool) t.join();
  return built;
}

}  // namespace resr::cuda
