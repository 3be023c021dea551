// The CUDA executable's use of resr's tensor-core conv kernel (cuda_executable.h): which convs run it, the codes
// they hand over and the dense blocks they share, and the auto verdicts checked against cuDNN and timed.
#include "backends/cuda/cuda_executable.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "backends/cuda/cuda_status.h"

namespace resr::cuda {

using passes::Step;

TensorConvArgs CudaExecutable::tensor_args(std::size_t index, const Plan& p) const {
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

const float* CudaExecutable::block_channel_quant(int b, int part) const {
  const passes::CodeBlock& block = blocks_.blocks[std::size_t(b)];
  const float* widest = channel_quant(block.widest);
  return widest == nullptr ? nullptr : widest + 2 * std::size_t(block.offsets[std::size_t(part)]);
}

Result<std::string> CudaExecutable::choose_tensor_convs(Plan& p) {
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

bool CudaExecutable::handover_codes_fit(std::size_t s, const Plan& p) const {
  return tensor_conv_refusal(with_codes(tensor_args(s, p), s, p, false, true), tensor_form(s)).empty() &&
         tensor_conv_refusal(with_codes(tensor_args(s + 1, p), s + 1, p, true, false), tensor_form(s + 1)).empty();
}

TensorConvArgs CudaExecutable::tensor_run_args(std::size_t index, const Plan& p) const {
  const TensorConvArgs a = with_codes(tensor_args(index, p), index, p, index > 0 && tensor_hands_over(p, index - 1),
                                      tensor_hands_over(p, index));
  return with_block_codes(a, index, p);
}

TensorConvArgs CudaExecutable::with_block_codes(TensorConvArgs a, std::size_t index, const Plan& p) const {
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

int CudaExecutable::share_tensor_blocks(Plan& p) const {
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

TensorConvArgs CudaExecutable::with_codes(TensorConvArgs a, std::size_t index, const Plan& p, bool codes_in,
                                          bool codes_out) const {
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

std::string CudaExecutable::tensor_key(std::size_t s, const Plan& p) const {
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

Result<std::optional<TensorConvLaunch>> CudaExecutable::tensor_verdict(std::size_t s, Plan& p, const TensorConvArgs& a,
                                                                       const std::string& key, DeviceBuffer& reference,
                                                                       DeviceBuffer& result,
                                                                       std::set<std::string>& notes) {
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

Result<TensorVerdict> CudaExecutable::try_tensor_conv(std::size_t s, Plan& p, const TensorConvArgs& a,
                                                      DeviceBuffer& reference, DeviceBuffer& result,
                                                      std::set<std::string>& notes) {
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
  const Planes dense_reference = packed_nhwc(reference.get(), ys);
  fill_conv_inputs(p, s);
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
    fill_conv_inputs(p, s);
    if (Status launched = launch_tensor_conv(*launch, a, stream_); !launched.ok()) {
      RESR_RETURN_IF_ERROR(device_still_usable(stream_, "the tensor-core conv of " + name));
      times += ", " + label + ": " + launched.message();
      continue;
    }
    RESR_ASSIGN_OR_RETURN(const auto r,
                          output_difference(p, s, dense_reference, result, "the tensor-core conv of " + name));
    if (!outputs_agree(r[0], r[1])) {
      times += ", " + label + ": differs by " + std::to_string(r[0]) + " (outputs up to " + std::to_string(r[1]) + ")";
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
  notes.insert(name + " " + std::to_string(ys.w) + "x" + std::to_string(ys.h) + ": cuDNN " + std::to_string(cudnn_ms) +
               " ms" + times + (faster ? " (tensor-core)" : " (cuDNN)"));
  verdict.cudnn_ms = cudnn_ms;
  verdict.tensor_ms = best ? best_ms : 0.0;
  if (faster) verdict.cut = best;
  return verdict;
}

}  // namespace resr::cuda
