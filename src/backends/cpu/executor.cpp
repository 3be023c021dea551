#include "backends/cpu/executor.h"
#include "core/elapsed.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "backends/cpu/conv3x3_impl.h"
#include "backends/cpu/conv3x3_int8_impl.h"
#include "backends/cpu/pack_cache.h"
#include "backends/cpu/padded_ops.h"
#include "backends/ref/kernels.h"
#include "core/aligned_buffer.h"
#include "core/env.h"
#include "passes/code_blocks.h"
#include "passes/fused_steps.h"
#include "passes/memory_plan.h"

namespace resr::cpu {
namespace {

// How a conv step runs: a packed 3x3 kernel (fp32/fp16, INT8, or FP8 emulated: the fp32 kernel on the FP8 values
// of input and weights), or the reference kernel for other shapes.
enum class ConvKernel { kConv3x3, kConv3x3Int8, kConv3x3Fp8, kRef };

// A step of the shared lowering (passes/fused_steps.h) with the CPU's choices for it.
struct Step : passes::Step {
  ConvKernel conv = ConvKernel::kRef;  // kConv steps only
  int packed = -1;                     // index into convs_ / int8_convs_
  // INT8 chains: the output's only reader is the next step, an INT8 conv, so (without an observer) this step
  // writes it already quantized for that conv (requant_out) and that one skips quantizing (quantized_in).
  bool requant_out = false, quantized_in = false;
};

// A plan for one input size: where each value lives. Storages are placed at offsets in one arena by
// liveness, so the memory of early, low-resolution stages is reused by later, high-resolution ones.
// Reusing memory across geometries is safe because every kernel rewrites the ring of what it writes.
struct Plan {
  std::vector<Shape> shapes;
  std::vector<passes::Location> where;      // per value
  std::vector<std::size_t> storage_offset;  // per storage, in floats from the arena start
  std::vector<PaddedGeometry> storage_geo;
  std::vector<int> storage_channels;
  std::size_t arena_floats = 0;
  std::vector<std::vector<int>> concat_copies;  // per step: members that must be copied (not in place)
  std::size_t quant_scratch_bytes = 0;          // the largest quantized input of an INT8 or FP8 conv
  int quant_scratch_count = 0;                  // 2 with INT8 chains (steps alternate), else 1 (or 0)
  std::size_t block_bytes = 0;                  // the largest dense block's copy (CpuExecutable::blocks_), per slot
};

bool is_direct3x3(const ir::Node& n) {
  const ir::ConvParams& p = n.conv;
  return p.kernel_h == 3 && p.kernel_w == 3 && p.stride == 1 && p.pad == 1 && p.dilation == 1;
}

class CpuExecutable final : public Executable {
 public:
  CpuExecutable(std::shared_ptr<const ir::Graph> g, PackCache* pack_cache, FloatProducts products)
      : g_(std::move(g)), pack_cache_(pack_cache), products_(products) {
    lower();
  }

  // "cpu (kernel, kernel, ...)": the 3x3 conv kernels the model runs on, each once (the first conv's alone hid
  // --bf16's kernels behind the fp32 first layer).
  std::string backend_name() const override {
    std::vector<std::string> kernels;
    auto add = [&kernels](const char* k) {
      if (std::find(kernels.begin(), kernels.end(), k) == kernels.end()) kernels.emplace_back(k);
    };
    for (const auto& c : convs_) add(c->kernel_name());
    for (const auto& c : int8_convs_) add(c.kernel_name());
    if (kernels.empty()) return "cpu";
    std::string name = "cpu (";
    for (std::size_t i = 0; i < kernels.size() && i < 4; ++i) name += (i > 0 ? ", " : "") + kernels[i];
    return name + (kernels.size() > 4 ? ", ...)" : ")");
  }

  Result<Tensor> run(const Tensor& input) override {
    if (input.c() != g_->values[g_->input].channels || input.h() < 1 || input.w() < 1)
      return Status::error("input must be " + std::to_string(g_->values[g_->input].channels) +
                           " x H x W with H, W >= 1");
    RESR_ASSIGN_OR_RETURN(Plan * plan, run_plan(input.h(), input.w(), input));
    return padded_to_tensor(view(*plan, g_->output));
  }

  // The pixels straight into the input planes and the output window straight out of the output planes: no float
  // tensor of either (the output's was the size of the image at 4x, copied once more into the image), as the
  // CUDA backend's device-side pixel path. For models of three channels in and out.
  bool has_pixel_path() const override {
    return g_->values[g_->input].channels == 3 && g_->values[g_->output].channels == 3;
  }
  Status run_pixels(const PixelRect& in, int crop_x, int crop_y, const PixelWindow& out,
                    PixelRunTimes* times) override {
    const bool channels_ok = (in.channels == 1 || in.channels == 3) && (out.channels == 1 || out.channels == 3);
    if (!has_pixel_path() || !channels_ok || in.width < 1 || in.height < 1 || out.width < 0 || out.height < 0 ||
        (in.bits != 8 && in.bits != 16) || (out.bits != 8 && out.bits != 16))
      return Status::error("run_pixels: pixels of 1 or 3 channels of 8 or 16 bits, and a model of 3 channels");
    const auto t0 = std::chrono::steady_clock::now();
    struct PixelInput {  // cleared however the run ends (out of memory throws): a later run() reads its tensor
      const PixelRect*& slot;
      ~PixelInput() { slot = nullptr; }
    };
    pixel_input_ = &in;
    const PixelInput reading{pixel_input_};
    const Result<Plan*> plan = run_plan(in.height, in.width, Tensor());
    if (!plan.ok()) return plan.status();
    const PaddedPlanes result = view(**plan, g_->output);
    if (crop_x < 0 || crop_y < 0 || crop_x + out.width > result.geo.w || crop_y + out.height > result.geo.h)
      return Status::error("run_pixels: the output window passes the model's output");
    const auto t1 = std::chrono::steady_clock::now();
    padded_to_pixels(result, crop_x, crop_y, out);
    if (times != nullptr) {
      times->preprocess_ms += pixel_input_ms_;
      times->inference_ms += std::chrono::duration<double, std::milli>(t1 - t0).count() - pixel_input_ms_;
      times->postprocess_ms += ms_since(t1);
    }
    return ok_status();
  }

 private:
  // The run's plan made ready (arena, scratch), then every step; the input step reads `input`, or the pixels of
  // run_pixels. The output is the plan's view of g_->output.
  Result<Plan*> run_plan(int h, int w, const Tensor& input) {
    RESR_ASSIGN_OR_RETURN(Plan * plan, plan_for(h, w));
    if (arena_.size() < plan->arena_floats) {
      arena_ = AlignedBuffer();  // release first: never hold two arenas
      arena_ = AlignedBuffer(plan->arena_floats);
    }
    // Two scratch buffers back to back, each a multiple of 64 bytes.
    const std::size_t scratch = plan->quant_scratch_bytes * plan->quant_scratch_count;
    if (quant_scratch_.size() * sizeof(float) < scratch) {
      quant_scratch_ = AlignedBuffer();
      quant_scratch_ = AlignedBuffer(scratch / sizeof(float));
    }
    const std::size_t codes = plan->block_bytes * std::size_t(blocks_.slots);
    if (block_codes_.size() * sizeof(float) < codes) {
      block_codes_ = AlignedBuffer();
      block_codes_ = AlignedBuffer(codes / sizeof(float));
    }
    if (!timing_) {
      for (std::size_t s = 0; s < steps_.size(); ++s) execute(steps_[s], s, *plan, input);
    } else {
      times_.resize(steps_.size());
      for (std::size_t s = 0; s < steps_.size(); ++s) {
        const auto t0 = std::chrono::steady_clock::now();
        execute(steps_[s], s, *plan, input);
        StepTime& t = times_[s];
        t.ms += ms_since(t0);
        ++t.runs;
        if (t.name.empty()) describe(steps_[s], *plan, t);
      }
    }
    return plan;
  }

 public:
  void set_step_timing(bool on) override {
    timing_ = on;
    times_.clear();
  }
  std::vector<StepTime> step_times() const override { return times_; }
  void set_observer(ActivationObserver observer) override { observer_ = std::move(observer); }

  Result<std::uint64_t> working_bytes(int h, int w) override {
    RESR_ASSIGN_OR_RETURN(Plan * plan, plan_for(h, w));
    const Shape out = plan->shapes[g_->output];
    const std::uint64_t io = (std::uint64_t(h) * w + std::uint64_t(out.h) * out.w) * 3 * sizeof(float);
    return std::uint64_t(plan->arena_floats) * sizeof(float) +
           std::uint64_t(plan->quant_scratch_bytes) * plan->quant_scratch_count +
           std::uint64_t(plan->block_bytes) * std::uint64_t(blocks_.slots) + io;
  }

 private:
  // The plan for an input size, cached (one at a time: memory stays bounded by the current size).
  Result<Plan*> plan_for(int h, int w) {
    if (plan_key_ != std::make_pair(h, w) || plan_.shapes.empty()) {
      RESR_ASSIGN_OR_RETURN(plan_, make_plan(h, w));
      plan_key_ = {h, w};
    }
    return &plan_;
  }

  // Graph -> steps by the shared lowering (passes/fused_steps.h): a 3x3 conv takes the PReLU after it and one
  // residual sum into its epilogue (the CPU kernels' epilogue has one residual); then the kernel per step. INT8
  // 3x3 convs get the INT8 kernels; other convs run the reference kernel, INT8 or not.
  void lower() {
    lowered_ = passes::lower_graph(*g_, lowering_options());
    for (const passes::Step& l : lowered_) {
      Step s;
      static_cast<passes::Step&>(s) = l;
      if (s.kind == passes::StepKind::kConv) choose_conv_kernel(s);
      steps_.push_back(std::move(s));
    }
    pack_conv_weights();
    // The INT8 (or FP8) convs of a dense block share one quantized copy of it unless RESR_CPU_BLOCKS=0.
    std::vector<bool> members(steps_.size(), false);
    for (std::size_t s = 0; s < steps_.size(); ++s)
      members[s] = steps_[s].conv == ConvKernel::kConv3x3Int8 || steps_[s].conv == ConvKernel::kConv3x3Fp8;
    if (!env_is("RESR_CPU_BLOCKS", "0")) blocks_ = passes::plan_code_blocks(*g_, lowered_, members, 4);
    blocks_.reader_of.resize(steps_.size(), -1);
    blocks_.writer_of.resize(steps_.size(), {-1, -1});
    blocks_.round_before.resize(steps_.size());
    blocks_.only_codes_read.resize(steps_.size(), false);
    link_int8_chains(g_->use_counts());
  }

  // Each 3x3 conv's kernel and packed weights (Winograd weight transforms: most of a compile), on every core.
  void pack_conv_weights() {
    std::vector<const Step*> todo;
    for (const Step& s : steps_)
      if (s.conv == ConvKernel::kConv3x3 || s.conv == ConvKernel::kConv3x3Fp8 || s.conv == ConvKernel::kConv3x3Int8)
        todo.push_back(&s);
    std::exception_ptr failure;  // bad_alloc must not leave a parallel region
#pragma omp parallel for schedule(dynamic)
    for (std::size_t k = 0; k < todo.size(); ++k) {
      try {
        pack_conv(*todo[k]);
      } catch (...) {
#pragma omp critical(resr_pack_failure)
        failure = std::current_exception();
      }
    }
    if (failure) std::rethrow_exception(failure);
  }

  void pack_conv(const Step& s) {
    const ir::Node& n = *s.node;
    const int oc = n.conv.out_channels, ic = n.conv.in_channels;
    if (s.conv == ConvKernel::kConv3x3Int8) {
      const ir::ConvQuant& q = n.quant;
      const std::vector<float> channel_scales = ir::input_channel_scales(q);  // empty when per tensor
      const std::vector<float> folded = channel_scales.empty() ? std::vector<float>{} : ir::folded_int8_weights(n);
      U8Quant act = U8Quant::symmetric(q.in_scale);
      if (q.asymmetric) act = U8Quant::asymmetric(q.in_scale, q.in_zero);
      if (!channel_scales.empty()) act = U8Quant::per_channel(q.in_scale, channel_scales.data());
      int8_convs_[std::size_t(s.packed)] = Conv3x3Int8Impl::create(folded.empty() ? n.weights.data() : folded.data(),
                                                                   q.weight_scales.data(), oc, ic, act, n.name);
    } else if (s.conv == ConvKernel::kConv3x3Fp8) {  // FP8 is emulated: the rounded weights in an fp32 conv
      const std::vector<float> rounded = ir::fp8_weight_values(n);
      convs_[std::size_t(s.packed)] =
          pack_float_conv(rounded.data(), oc, ic, ir::Precision::kFp32, n.name, FloatProducts::kFp32);
    } else {
      convs_[std::size_t(s.packed)] = pack_float_conv(n.weights.data(), oc, ic, n.quant.precision, n.name, products_);
    }
  }

  // Through the pack cache when there is one (a precision search compiles the model many times).
  std::shared_ptr<const Conv3x3Impl> pack_float_conv(const float* weights, int oc, int ic, ir::Precision precision,
                                                     const std::string& name, FloatProducts products) {
    if (pack_cache_ != nullptr) return pack_cache_->get_or_pack(weights, oc, ic, precision, name, products);
    return std::make_shared<const Conv3x3Impl>(Conv3x3Impl::create(weights, oc, ic, precision, name, products));
  }

  // Marks INT8 conv -> INT8 conv hand-overs where the value has no other reader (see Step::requant_out).
  void link_int8_chains(const std::vector<int>& uses) {
    for (std::size_t i = 0; i + 1 < steps_.size(); ++i) {
      Step& a = steps_[i];
      Step& b = steps_[i + 1];
      if (a.conv != ConvKernel::kConv3x3Int8 || b.conv != ConvKernel::kConv3x3Int8) continue;
      if (b.inputs[0] != a.output || uses[a.output] != 1 || a.output == g_->output) continue;
      if (blocks_.writer_of[i].first >= 0 || blocks_.reader_of[i + 1] >= 0) continue;  // a dense block's
      a.requant_out = b.quantized_in = true;
    }
  }

  // The kind of kernel and a place for it (packed by pack_conv_weights).
  void choose_conv_kernel(Step& s) {
    const ir::Node& n = *s.node;
    if (!is_direct3x3(n)) {
      s.conv = ConvKernel::kRef;
    } else if (n.quant.precision == ir::Precision::kInt8) {
      s.conv = ConvKernel::kConv3x3Int8;
      s.packed = static_cast<int>(int8_convs_.size());
      int8_convs_.emplace_back();
    } else {
      s.conv = n.quant.precision == ir::Precision::kFp8 ? ConvKernel::kConv3x3Fp8 : ConvKernel::kConv3x3;
      s.packed = static_cast<int>(convs_.size());
      convs_.emplace_back();
    }
  }

  // Storages and their places by the shared memory plan (passes/memory_plan.h), sized as padded planes. Members
  // read after their concat (x4plus's RRDB inputs) are copied in, for less memory: bigger tiles in a budget.
  Result<Plan> make_plan(int h, int w) {
    auto padded_bytes = [](const Shape& s) { return PaddedGeometry{s.h, s.w}.floats(s.c) * sizeof(float); };
    RESR_ASSIGN_OR_RETURN(passes::MemoryPlan m,
                          passes::plan_memory(*g_, lowered_, h, w, padded_bytes, 64, kConcatMembers));
    Plan p;
    p.shapes = std::move(m.shapes);
    p.where = std::move(m.where);
    for (std::size_t st = 0; st < m.storage_shape.size(); ++st) {
      p.storage_channels.push_back(m.storage_shape[st].c);
      p.storage_geo.push_back(PaddedGeometry{m.storage_shape[st].h, m.storage_shape[st].w});
      p.storage_offset.push_back(m.storage_offset[st] / sizeof(float));
    }
    p.arena_floats = m.arena_bytes / sizeof(float);
    p.concat_copies = std::move(m.concat_copies);
    for (const Step& s : steps_) {
      if (s.kind != passes::StepKind::kConv) continue;
      const Shape in = p.shapes[s.inputs[0]];
      if (const int b = blocks_.reader_of[std::size_t(&s - steps_.data())]; b >= 0) {
        p.block_bytes =
            std::max(p.block_bytes, block_bytes(blocks_.blocks[std::size_t(b)], PaddedGeometry{in.h, in.w}));
        continue;  // reads the block's copy, not the scratch
      }
      if (s.conv == ConvKernel::kConv3x3Fp8) {
        p.quant_scratch_bytes =
            std::max(p.quant_scratch_bytes, PaddedGeometry{in.h, in.w}.floats(in.c) * sizeof(float));
        p.quant_scratch_count = std::max(p.quant_scratch_count, 1);
      }
      if (s.conv != ConvKernel::kConv3x3Int8) continue;
      p.quant_scratch_bytes =
          std::max(p.quant_scratch_bytes, int8_convs_[s.packed].scratch_bytes(PaddedGeometry{in.h, in.w}));
      p.quant_scratch_count = std::max(p.quant_scratch_count, s.requant_out ? 2 : 1);
    }
    return p;
  }

  void describe(const Step& s, const Plan& p, StepTime& t) const {
    t.name = s.node->name;
    t.kernel = passes::step_kind_name(s.kind);
    if (s.conv == ConvKernel::kConv3x3) t.kernel = convs_[s.packed]->kernel_name();
    if (s.conv == ConvKernel::kConv3x3Fp8) t.kernel = std::string("fp8 emulated, ") + convs_[s.packed]->kernel_name();
    if (s.conv == ConvKernel::kConv3x3Int8) t.kernel = int8_convs_[s.packed].kernel_name();
    if (s.kind == passes::StepKind::kConv && s.conv == ConvKernel::kRef)
      t.kernel = std::string("conv ") + ir::precision_name(s.node->quant.precision) + " (reference)";
    if (s.kind == passes::StepKind::kConv) {
      const ir::ConvParams& c = s.node->conv;
      const Shape o = p.shapes[s.node->output];
      t.macs = double(c.out_channels) * c.in_channels * c.kernel_h * c.kernel_w * o.h * o.w;
      t.shape = std::to_string(c.in_channels) + "->" + std::to_string(c.out_channels) + " @" + std::to_string(o.w) +
                "x" + std::to_string(o.h);
    } else {
      const Shape o = p.shapes[s.output];
      t.shape = std::to_string(o.c) + " @" + std::to_string(o.w) + "x" + std::to_string(o.h);
    }
  }

  PaddedPlanes view(const Plan& p, int value) {
    const passes::Location loc = p.where[value];
    PaddedPlanes whole{arena_.data() + p.storage_offset[loc.storage], p.storage_channels[loc.storage],
                       p.storage_geo[loc.storage]};
    return whole.slice(loc.channel, g_->values[value].channels);
  }

  void observe(const Plan& p, int value) {
    const PaddedPlanes v = view(p, value);
    ActivationView a;
    a.data = v.data + v.geo.origin();
    a.c = v.channels;
    a.h = v.geo.h;
    a.w = v.geo.w;
    a.channel_stride = v.geo.plane_stride();
    a.row_stride = std::size_t(v.geo.pitch());
    observer_(value, a);
  }

  // The fused epilogue of a 3x3 conv step; `residual` receives the residual's view, which `ep` points to.
  ConvEpilogue epilogue(const Step& s, const Plan& p, PaddedPlanes& residual) {
    ConvEpilogue ep;
    ep.bias = s.node->bias.empty() ? nullptr : s.node->bias.data();
    const passes::ConvEpilogue& e = s.epilogue;
    if (e.act == passes::Act::kLeaky) {
      ep.act = Activation::kLeakyRelu;
      ep.leaky_slope = e.leaky_slope;
    } else if (e.act == passes::Act::kPrelu) {
      ep.act = Activation::kPrelu;
      ep.prelu_slopes = e.prelu->slopes.data();
    }
    if (e.residual_count == 1) {  // the lowering gives at most one (LoweringOptions::max_residuals)
      residual = view(p, e.residuals[0]);
      ep.residual = &residual;
      ep.out_scale = e.out_scale;
      ep.residual_scale = e.residual_scales[0];
    }
    return ep;
  }

  // An INT8 conv. Its quantized input is:
  // - in its dense block's codes (blocks_), where it reads one: the parts it is the first to read, and that no
  //   conv wrote as codes, are quantized there first;
  // - in scratch buffer (index % 2): written there by the previous step (a chain) or quantized now; a chain's
  //   producer writes its output into the other buffer.
  // It writes its result as codes into a block where it produces a part only the block's readers read. With an
  // observer, blocks and chains are off (observers read the fp32 values): a block's reader quantizes its whole
  // input into the block's space.
  void execute_int8(const Step& s, std::size_t index, const Plan& p, const PaddedPlanes& out) {
    PaddedPlanes residual;
    const ConvEpilogue ep = epilogue(s, p, residual);
    const Conv3x3Int8Impl& conv = int8_convs_[s.packed];
    auto* scratch = reinterpret_cast<std::uint8_t*>(quant_scratch_.data());
    const std::size_t half = p.quant_scratch_count > 1 ? p.quant_scratch_bytes : 0;
    std::uint8_t* mine = scratch + (index % 2) * half;
    std::uint8_t* next = scratch + ((index + 1) % 2) * half;
    const PaddedPlanes in = view(p, s.inputs[0]);
    QuantizedPlanes qin;
    if (const int b = blocks_.reader_of[index]; b >= 0 && observer_) {
      qin = conv.quantize(in, codes_at(p, b, 0));  // all of it, the block's space serving as scratch
    } else if (b >= 0) {
      const passes::CodeBlock& block = blocks_.blocks[std::size_t(b)];
      for (const auto& [bb, part] : blocks_.round_before[index])
        if (!block.direct[std::size_t(part)])
          conv.quantize(view(p, block.parts[std::size_t(part)]), codes_at(p, bb, part),
                        block.offsets[std::size_t(part)]);
      qin = QuantizedPlanes{codes_at(p, b, 0), in.channels, in.geo, conv.input_quant()};
    } else if (s.quantized_in && !observer_) {
      qin = QuantizedPlanes{mine, in.channels, in.geo, conv.input_quant()};
    } else {
      qin = conv.quantize(in, mine);
    }
    if (const auto [b, part] = blocks_.writer_of[index]; b >= 0 && !observer_) {
      // the readers' encoding of this part's channels (the widest reader's per-channel scales cover them all)
      const passes::CodeBlock& block = blocks_.blocks[std::size_t(b)];
      const U8Quant readers =
          int8_convs_[steps_[block.widest].packed].input_quant().from_channel(block.offsets[std::size_t(part)]);
      conv.run(qin, ep, QuantizedPlanes{codes_at(p, b, part), out.channels, out.geo, readers});
    } else if (s.requant_out && !observer_) {
      const U8Quant consumer = int8_convs_[steps_[index + 1].packed].input_quant();
      conv.run(qin, ep, QuantizedPlanes{next, out.channels, out.geo, consumer});
    } else {
      conv.run(qin, out, ep);
    }
  }

  // Bytes a dense block's copy takes at geometry `geo`: INT8 codes (conv3x3_int8.h's groups of 4 channels), or
  // for FP8 the E4M3 values as fp32 planes (the CPU emulates FP8 in the fp32 kernels).
  static std::size_t block_bytes(const passes::CodeBlock& block, const PaddedGeometry& geo) {
    if (block.precision == ir::Precision::kInt8) return QuantizedPlanes::bytes(geo, block.channels);
    return geo.floats(block.channels) * sizeof(float);
  }

  // Dense block `b`'s slot in block_codes_, and its geometry.
  std::uint8_t* block_slot(const Plan& p, int b) {
    return reinterpret_cast<std::uint8_t*>(block_codes_.data()) +
           std::size_t(blocks_.blocks[std::size_t(b)].slot) * p.block_bytes;
  }
  PaddedGeometry block_geometry(const Plan& p, int b) const {
    const Shape shape = p.shapes[blocks_.blocks[std::size_t(b)].parts.front()];
    return PaddedGeometry{shape.h, shape.w};
  }

  // FP8 dense block `b`'s copy: its channels as planes of E4M3 values.
  PaddedPlanes fp8_block(const Plan& p, int b) {
    return PaddedPlanes{reinterpret_cast<float*>(block_slot(p, b)), blocks_.blocks[std::size_t(b)].channels,
                        block_geometry(p, b)};
  }

  // The codes of part `part` of INT8 dense block `b`: its first group of 4 channels in the block's slot.
  std::uint8_t* codes_at(const Plan& p, int b, int part) {
    const passes::CodeBlock& block = blocks_.blocks[std::size_t(b)];
    const QuantizedPlanes whole{nullptr, block.channels, block_geometry(p, b), {}};
    return block_slot(p, b) + std::size_t(block.offsets[std::size_t(part)] / 4) * whole.group_stride();
  }

  void execute_conv(const Step& s, std::size_t index, const Plan& p, const PaddedPlanes& out) {
    switch (s.conv) {
      case ConvKernel::kConv3x3: {
        PaddedPlanes residual;
        const ConvEpilogue ep = epilogue(s, p, residual);
        convs_[s.packed]->run(view(p, s.inputs[0]), out, ep);
        return;
      }
      case ConvKernel::kConv3x3Int8:
        execute_int8(s, index, p, out);
        return;
      case ConvKernel::kConv3x3Fp8: {
        // The input's FP8 values into the scratch buffer (or a dense block's copy: the parts this conv is the
        // first to read, each rounded once), then the fp32 kernel with the FP8 weights' values. The fp32 kernels
        // write fp32 values, so every part of a block is rounded by a pass, direct or not.
        const PaddedPlanes in = view(p, s.inputs[0]);
        const float scale = s.node->quant.in_scale;
        PaddedPlanes rounded{quant_scratch_.data(), in.channels, in.geo};
        if (const int b = blocks_.reader_of[index]; b >= 0) {
          const PaddedPlanes block = fp8_block(p, b);
          rounded = block.slice(0, in.channels);
          if (observer_) {  // with the concats copied: the whole input, the block's space serving as scratch
            round_to_e4m3_padded(in, scale, rounded);
          } else {
            const passes::CodeBlock& cb = blocks_.blocks[std::size_t(b)];
            for (const auto& [bb, part] : blocks_.round_before[index]) {
              const int v = cb.parts[std::size_t(part)];
              round_to_e4m3_padded(view(p, v), scale,
                                   block.slice(cb.offsets[std::size_t(part)], g_->values[v].channels));
            }
          }
        } else {
          round_to_e4m3_padded(in, scale, rounded);
        }
        PaddedPlanes residual;
        const ConvEpilogue ep = epilogue(s, p, residual);
        convs_[s.packed]->run(rounded, out, ep);
        return;
      }
      case ConvKernel::kRef: {
        const ir::Node& n = *s.node;
        const Tensor in = padded_to_tensor(view(p, s.inputs[0]));
        Tensor result;
        if (n.quant.precision == ir::Precision::kInt8) {
          result = ref::conv2d_int8(in, n.conv, n.quant, n.weights, n.bias);
        } else if (n.quant.precision == ir::Precision::kFp8) {
          result = ref::conv2d_fp8(in, n.conv, n.quant, n.weights, n.bias);
        } else {
          result = ref::conv2d(in, n.conv, n.weights, n.bias);
        }
        tensor_to_padded(result, out);
        return;
      }
    }
  }

  void execute(const Step& s, std::size_t index, Plan& p, const Tensor& input) {
    if (observer_ && s.kind == passes::StepKind::kConv) observe(p, s.inputs[0]);
    const PaddedPlanes out = view(p, s.output);
    switch (s.kind) {
      case passes::StepKind::kInput:
        if (pixel_input_ != nullptr) {
          const auto t0 = std::chrono::steady_clock::now();
          pixels_to_padded(*pixel_input_, out);
          pixel_input_ms_ = ms_since(t0);
        } else {
          tensor_to_padded(input, out);
        }
        return;
      case passes::StepKind::kConv:
        execute_conv(s, index, p, out);
        return;
      case passes::StepKind::kPRelu:
        prelu_padded(view(p, s.inputs[0]), s.node->slopes, out);
        return;
      case passes::StepKind::kConcat: {
        if (blocks_.only_codes_read[index] && !observer_) return;  // its readers read their block's codes
        int offset = 0;
        for (int v : s.inputs) {
          const bool copy = std::find(p.concat_copies[index].begin(), p.concat_copies[index].end(), v) !=
                            p.concat_copies[index].end();
          const int c = g_->values[v].channels;
          if (copy) copy_padded(view(p, v), out.slice(offset, c));
          offset += c;
        }
        return;
      }
      case passes::StepKind::kWeightedSum: {
        std::vector<PaddedPlanes> in;
        for (int v : s.inputs) in.push_back(view(p, v));
        weighted_sum_padded(in, s.node->coeffs, out);
        return;
      }
      case passes::StepKind::kUpsample:
        upsample_nearest_padded(view(p, s.inputs[0]), s.node->factor, out);
        return;
      case passes::StepKind::kShuffle:
        pixel_shuffle_padded(view(p, s.inputs[0]), s.node->factor, out);
        return;
      case passes::StepKind::kUnshuffle:
        pixel_unshuffle_padded(view(p, s.inputs[0]), s.node->factor, out);
        return;
      case passes::StepKind::kShuffleAddUp:
        shuffle_add_upsampled_padded(view(p, s.inputs[0]), s.shuffle_scale, view(p, s.inputs[1]), s.up_scale, s.factor,
                                     out);
        return;
    }
  }

  std::shared_ptr<const ir::Graph> g_;
  std::vector<passes::Step> lowered_;  // the shared lowering, for the memory plan; steps_ = it + kernel choices
  std::vector<Step> steps_;
  PackCache* pack_cache_ = nullptr;                // packed convs shared with other compiles (pack_cache.h), or none
  FloatProducts products_ = FloatProducts::kFp32;  // what the FP32 / FP16 convs may multiply in
  std::vector<std::shared_ptr<const Conv3x3Impl>> convs_;
  std::vector<Conv3x3Int8Impl> int8_convs_;
  Plan plan_;
  std::pair<int, int> plan_key_{0, 0};
  bool timing_ = false;
  std::vector<StepTime> times_;
  ActivationObserver observer_;
  const PixelRect* pixel_input_ = nullptr;  // during run_pixels: what the input step reads instead of a tensor
  double pixel_input_ms_ = 0;               // ... and the time it took
  AlignedBuffer arena_;
  AlignedBuffer quant_scratch_;  // the quantized input of the running INT8 conv (u8, see conv3x3_int8.h) or FP8 conv
  // Dense blocks of INT8 (or FP8) convs sharing one copy of their codes (or E4M3 values as fp32 planes;
  // passes/code_blocks.h): slots of Plan::block_bytes.
  passes::CodeBlockPlan blocks_;
  AlignedBuffer block_codes_;
};

}  // namespace

passes::LoweringOptions lowering_options() {
  passes::LoweringOptions options;
  options.max_residuals = 1;
  options.single_slope_prelu = false;  // the kernels read one slope per channel
  options.fuses_epilogue = &is_direct3x3;
  return options;
}

std::unique_ptr<Executable> compile(std::shared_ptr<const ir::Graph> graph, PackCache* pack_cache,
                                    FloatProducts products) {
  return std::make_unique<CpuExecutable>(std::move(graph), pack_cache, products);
}

}  // namespace resr::cpu
