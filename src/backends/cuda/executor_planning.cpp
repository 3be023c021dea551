// The CUDA executable's plan for an input size (cuda_executable.h): memory, staging buffers, conv algorithms,
// and the paths its convs take.
#include "backends/cuda/cuda_executable.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "backends/cuda/cuda_status.h"

namespace resr::cuda {

using passes::Step;

Status CudaExecutable::reserve_stages(Plan& p, const Step& st) {
  const std::size_t bytes = dtype_bytes(dtype_);
  if (strided(p, st.inputs[0]))
    RESR_RETURN_IF_ERROR(p.stage_in.reserve(std::size_t(p.memory.shapes[st.inputs[0]].numel()) * bytes));
  if (strided(p, st.output))
    RESR_RETURN_IF_ERROR(p.stage_out.reserve(std::size_t(p.memory.shapes[st.output].numel()) * bytes));
  return ok_status();
}

CudaExecutable::QuantizedBytes CudaExecutable::quantized_bytes(const DeviceLayout& m) const {
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

std::vector<std::size_t> CudaExecutable::block_slot_bytes(const DeviceLayout& m) const {
  std::vector<std::size_t> slot_bytes(std::size_t(blocks_.slots), 0);
  for (const passes::CodeBlock& b : blocks_.blocks) {
    const Shape x = m.shapes[b.parts.front()];
    slot_bytes[std::size_t(b.slot)] = std::max(slot_bytes[std::size_t(b.slot)], std::size_t(b.channels) * x.h * x.w);
  }
  return slot_bytes;
}

Result<Plan*> CudaExecutable::plan_for(int h, int w) {
  if (plan_key_ == std::make_pair(h, w) && !plan_.memory.shapes.empty()) return &plan_;
  const auto planning = std::chrono::steady_clock::now();
  std::string handle_reason = std::move(compile_report_.handle_reason);  // kept from size to size
  compile_report_ = FusedCompileReport{};
  compile_report_.handle_reason = std::move(handle_reason);
  drop_plan();
  // Fused graphs are kept per input size (their keys hold it), and a folder of photos of many sizes made them
  // grow without end (FP8 models always fuse). Past kMaxCachedFusedGraphs they all go: with the plan dropped none
  // is in use, and the plan cache on disk makes the ones needed again cheap to load.
  if (fused_cache_.size() > kMaxCachedFusedGraphs) fused_cache_.clear();
  ++plans_made_;
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

Result<AlgoChoice> CudaExecutable::choose_algo(const Step& st, const Plan& p, const DeviceBuffer& find_workspace,
                                               bool staged) {
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

}  // namespace resr::cuda
