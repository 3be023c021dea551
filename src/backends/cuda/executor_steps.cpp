// The CUDA executable's steps launched (cuda_executable.h): each conv on its chosen path (fused graph, resr's
// tensor-core kernel, or cuDNN's legacy conv and the epilogue kernel), element steps, step timing and observers; and
// a conv step on test data, compared with a reference, for the checks of one path against another.
#include "backends/cuda/cuda_executable.h"

#include <algorithm>
#include <string>
#include <vector>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/element_steps.h"

namespace resr::cuda {

using passes::ConvEpilogue;
using passes::Step;
using passes::StepKind;

Status CudaExecutable::set_int8_descs(cudnnTensorDescriptor_t x, cudnnTensorDescriptor_t y, const ConvWeights& c,
                                      Shape in, Shape out) {
  RESR_CUDNN(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NHWC, CUDNN_DATA_INT8, 1, c.ic4, in.h, in.w));
  RESR_CUDNN(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, c.oc4, out.h, out.w));
  return ok_status();
}

Status CudaExecutable::set_desc(cudnnTensorDescriptor_t d, const Planes& v) {
  const std::size_t n_stride = std::max(std::size_t(v.c) * v.s.cs, std::size_t(v.h) * v.w * v.s.ps);
  RESR_CUDNN(cudnnSetTensor4dDescriptorEx(d, cudnn_type(), 1, v.c, v.h, v.w, int(n_stride), int(v.s.cs),
                                          int(std::size_t(v.w) * v.s.ps), int(v.s.ps)));
  return ok_status();
}

Status CudaExecutable::note_device_time() {
  float ms = 0;
  RESR_CUDA(cudaEventElapsedTime(&ms, events_[1], events_[2]));
  last_device_ms_ = ms;
  return ok_status();
}

Status CudaExecutable::run_steps(Plan& p) {
  const bool eager = !use_graphs_ || observer_ || timing_;
  last_run_replayed_graph_ = false;
  if (eager) return launch_steps(p);
  RESR_RETURN_IF_ERROR(p.graph.run(stream_, [&] { return launch_steps(p); }));
  last_run_replayed_graph_ = p.graph.captured();
  return ok_status();
}

Status CudaExecutable::launch_steps(Plan& p) {
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

Status CudaExecutable::execute(std::size_t index, Plan& p) {
  const Step& s = steps_[index];
  if (s.kind == StepKind::kInput) return ok_status();
  if (s.kind == StepKind::kConv) return conv(index, p);
  ElementStepPlaces at;
  at.planes = [&](int value) { return planes(p, value); };
  at.concat_copies = &p.memory.concat_copies[index];
  if (s.kind == StepKind::kPRelu) at.prelu_slopes = static_cast<const float*>(prelu_slopes_.at(s.node).get());
  return launch_element_step(s, at, dtype_, stream_);
}

Status CudaExecutable::conv(std::size_t index, Plan& p) {
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
    RESR_RETURN_IF_ERROR(set_int8_descs(x_desc_, y_desc_, c, p.memory.shapes[s.inputs[0]], p.memory.shapes[s.output]));
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

EpilogueArgs CudaExecutable::epilogue_args(const Step& s, const ConvWeights& c, const Plan& p) const {
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

Status CudaExecutable::observe(const Plan& p, int value) {
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

void CudaExecutable::fill_conv_inputs(const Plan& p, std::size_t s) {
  const Step& st = steps_[s];
  fill_test_pattern(planes(p, st.inputs[0]), dtype_, 1u, stream_);
  for (int k = 0; k < st.epilogue.residual_count; ++k)
    fill_test_pattern(planes(p, st.epilogue.residuals[k]), dtype_, 2u + unsigned(k), stream_);
}

Result<std::array<float, 2>> CudaExecutable::output_difference(const Plan& p, std::size_t s, const Planes& reference,
                                                               DeviceBuffer& result, const std::string& what) {
  max_abs_difference(planes(p, steps_[s].output), reference, dtype_, static_cast<float*>(result.get()), stream_);
  std::array<float, 2> r{};
  RESR_CUDA(cudaMemcpyAsync(r.data(), result.get(), sizeof r, cudaMemcpyDeviceToHost, stream_));
  RESR_RETURN_IF_ERROR(device_still_usable(stream_, what));
  return r;
}

}  // namespace resr::cuda
