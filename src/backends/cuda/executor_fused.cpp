// The CUDA executable's fused cuDNN conv graphs (cuda_executable.h): compiled once per structure, in parallel for
// the GPU's properties where cuDNN can, timed, and with RESR_CUDA_FUSED=auto kept only where their output agreed
// with the legacy path's on test data and they ran faster.
#include "backends/cuda/cuda_executable.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "backends/cuda/conv_path.h"
#include "backends/cuda/cuda_status.h"
#include "core/elapsed.h"

namespace resr::cuda {

using passes::Step;

namespace {

constexpr int kFusedPlanTries = 3;  // engine configurations compiled and timed per fused graph

}  // namespace

Status CudaExecutable::prepare_fused_convs(Plan& p, DeviceBuffer& find_workspace) {
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
  // A process that dies running plans made for the properties leaves "trying" (then "trying again"): after two,
  // later ones compile on the handle.
  const bool first_deviceless = deviceless && !deviceless_proven_ && !todo.empty();
  if (first_deviceless) cache_view_.put(kDevicelessVerdictKey, trying_verdict_);
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

Result<std::string> CudaExecutable::keep_faster_paths(Plan& p) {
  ActivationObserver observer = std::move(observer_);  // the check and timing runs' values are nobody's
  observer_ = nullptr;
  std::map<const FusedConv*, ConvPath> chosen;
  DeviceBuffer reference, result;
  Status failed = ok_status();
  int convs = 0, fused = 0, differing = 0;
  for (std::size_t s = 0; s < steps_.size() && failed.ok(); ++s) {
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
        Result<ConvPathChoice> decided = decide_conv_path(s, p, reference, result);
        if (!decided.ok()) {
          failed = decided.status();
          break;
        }
        if (worth_keeping(*decided)) cache_view_.put(key, encode_conv_path(*decided));
        choice = *decided;
      }
      differing += choice->fused_differs ? 1 : 0;
      it = chosen.emplace(graph, choice->path).first;
    }
    if (it->second == ConvPath::kLegacy) {
      p.fused[s] = nullptr;
    } else {
      ++fused;
    }
  }
  observer_ = std::move(observer);
  RESR_RETURN_IF_ERROR(failed);
  std::string report = "fused " + std::to_string(fused) + " of " + std::to_string(convs) + " convs";
  if (differing > 0)
    report += " (" + std::to_string(differing) + (differing == 1 ? " graph" : " graphs") +
              " differed from the legacy path on test data: legacy)";
  return report;
}

Result<ConvPathChoice> CudaExecutable::decide_conv_path(std::size_t s, Plan& p, DeviceBuffer& reference,
                                                        DeviceBuffer& result) {
  ConvPathChoice c;
  const FusedConv* graph = p.fused[s];
  const std::string& name = steps_[s].node->name;
  const Shape ys = p.memory.shapes[steps_[s].output];
  c.unchecked =
      !reference.reserve(std::size_t(ys.numel()) * dtype_bytes(dtype_)).ok() || !result.reserve(2 * sizeof(float)).ok();
  if (c.unchecked) cudaGetLastError();  // no memory for the check: timed alone, as before it existed (not kept)
  // The check: both paths on the same test data. A path that fails to run is left to its timing (NaN: it loses).
  const Planes dense_reference = packed_nhwc(reference.get(), ys);
  bool legacy_ran = false;
  if (!c.unchecked) {
    fill_conv_inputs(p, s);
    if (conv(s, p).ok()) {
      convert(planes(p, steps_[s].output), dtype_, dense_reference, dtype_, stream_);
      p.fused[s] = nullptr;
      fill_conv_inputs(p, s);
      legacy_ran = conv(s, p).ok();
      p.fused[s] = graph;
    }
    RESR_RETURN_IF_ERROR(device_still_usable(stream_, "checking the fused graph of " + name));
  }
  c.unchecked = !legacy_ran;  // a path that did not run: not compared, so the times below are not kept either
  if (legacy_ran) {
    RESR_ASSIGN_OR_RETURN(const auto d,
                          output_difference(p, s, dense_reference, result, "checking the fused graph of " + name));
    if (!outputs_agree(d[0], d[1])) {
      c.path = ConvPath::kLegacy;
      c.fused_differs = true;
      return c;
    }
  }
  // Between events_[0] and [1]: planning precedes the run that records them.
  const auto conv_s = [&] { return conv(s, p); };
  c.fused_ms = best_device_ms(stream_, {events_[0], events_[1]}, conv_s);
  p.fused[s] = nullptr;
  c.legacy_ms = best_device_ms(stream_, {events_[0], events_[1]}, conv_s);
  p.fused[s] = graph;
  RESR_RETURN_IF_ERROR(device_still_usable(stream_, "timing the paths of " + name));
  c.path = faster_path(c.fused_ms, c.legacy_ms);
  return c;
}

FusedConvData CudaExecutable::fused_data(std::size_t index, const Plan& p) const {
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

}  // namespace resr::cuda
