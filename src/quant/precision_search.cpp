#include "quant/precision_search.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "backends/cpu/pack_cache.h"
#include "engine/backend_factory.h"
#include "engine/tile_io.h"
#include "quant/sample_images.h"
#include "quant/tile_sampler.h"

namespace resr::quant {
namespace {

double mac_count(const ir::Node& n, const Shape& out) {
  const ir::ConvParams& c = n.conv;
  return double(c.out_channels) * c.in_channels * c.kernel_h * c.kernel_w * out.h * out.w;
}

double psnr_from_mse(double mse) {
  return mse > 0 ? 10.0 * std::log10(1.0 / mse) : INFINITY;
}

// The CPU backend's outputs of `g` for the samples (pack_cache: weights packed once across graphs; may be null).
Result<std::vector<Tensor>> run_on_cpu(std::shared_ptr<const ir::Graph> g, const std::vector<Tensor>& samples,
                                       cpu::PackCache* pack_cache) {
  engine::BackendOptions options;
  options.cpu_pack_cache = pack_cache;
  RESR_ASSIGN_OR_RETURN(std::unique_ptr<Executable> exe, engine::make_executable(std::move(g), "cpu", options));
  std::vector<Tensor> outs;
  for (const Tensor& t : samples) {
    RESR_ASSIGN_OR_RETURN(Tensor o, exe->run(t));
    outs.push_back(std::move(o));
  }
  return outs;
}

// Mean squared difference of the outputs and the references, each sample clamped to [0, 1] as images are.
double clamped_mse(const std::vector<Tensor>& outs, const std::vector<Tensor>& refs) {
  double sum = 0, count = 0;
  for (std::size_t i = 0; i < outs.size(); ++i) {
    const float* a = outs[i].data();
    const float* b = refs[i].data();
    for (std::int64_t k = 0; k < outs[i].numel(); ++k) {
      const double d = double(std::clamp(a[k], 0.0f, 1.0f)) - double(std::clamp(b[k], 0.0f, 1.0f));
      sum += d * d;
    }
    count += double(outs[i].numel());
  }
  return count > 0 ? sum / count : 0;
}

// Runs graphs on the fixed samples and scores them against the FP32 outputs.
class Evaluator {
 public:
  Evaluator(const ir::Graph& fp32, const CalibTable& table, const QuantOptions& base,
            const std::vector<Tensor>& samples)
      : fp32_(fp32), table_(table), base_(base), samples_(samples) {}

  Status init() {
    RESR_ASSIGN_OR_RETURN(refs_, run(std::make_shared<const ir::Graph>(fp32_)));
    return {};
  }

  // Mean squared error over all samples of the graph quantized with base's options and `per_conv` over them.
  Result<double> mse(const std::map<std::string, ir::Precision>& per_conv, double* share) {
    ir::Graph g = fp32_;
    QuantOptions o = base_;
    for (const auto& [name, p] : per_conv) o.per_conv[name] = p;
    RESR_RETURN_IF_ERROR(quantize_graph(g, table_, o));
    if (share != nullptr) *share = quantized_mac_share(g, samples_.front().h(), samples_.front().w());
    RESR_ASSIGN_OR_RETURN(std::vector<Tensor> outs, run(std::make_shared<const ir::Graph>(std::move(g))));
    ++evaluations;
    return clamped_mse(outs, refs_);
  }

  int evaluations = 0;

 private:
  Result<std::vector<Tensor>> run(std::shared_ptr<const ir::Graph> g) {
    // the convs a candidate leaves alone are packed once for the search
    return run_on_cpu(std::move(g), samples_, &pack_cache_);
  }

  const ir::Graph& fp32_;
  const CalibTable& table_;
  const QuantOptions& base_;
  const std::vector<Tensor>& samples_;
  std::vector<Tensor> refs_;
  cpu::PackCache pack_cache_;
};

// A conv, or for deep models a run of consecutive convs, that is kept or quantized as a whole.
struct Candidate {
  std::vector<std::string> names;
  double macs = 0, mse = 0;                        // mse: of the graph with only this candidate quantized
  ir::Precision quantized = ir::Precision::kInt8;  // its quantized precision (chosen or the base one)
};

// The convs that base.per_conv leaves free, in graph order, cut into at most max_groups runs.
Result<std::vector<Candidate>> make_candidates(const ir::Graph& fp32, const QuantOptions& base, int h, int w,
                                               int max_groups) {
  auto shapes = ir::infer_shapes(fp32, h, w);
  if (!shapes) return shapes.status();
  std::vector<const ir::Node*> convs;
  for (const ir::Node& n : fp32.nodes)
    if (n.op == ir::Op::kConv2d && base.per_conv.count(n.name) == 0) convs.push_back(&n);
  std::vector<Candidate> cands;
  const int groups = std::min<int>(static_cast<int>(convs.size()), std::max(1, max_groups));
  for (int gi = 0; gi < groups; ++gi) {
    Candidate c;
    c.quantized = base.precision;
    const std::size_t b = convs.size() * gi / groups, e = convs.size() * (gi + 1) / groups;
    for (std::size_t i = b; i < e; ++i) {
      c.names.push_back(convs[i]->name);
      c.macs += mac_count(*convs[i], (*shapes)[convs[i]->output]);
    }
    cands.push_back(std::move(c));
  }
  return cands;
}

}  // namespace

Result<std::vector<Tensor>> load_sample_tiles(const std::vector<std::string>& images, int count, int tile,
                                              std::uint64_t seed,
                                              const std::function<void(const std::string&)>& on_skipped) {
  if (count < 1 || tile < 8) return Status::error("the search needs at least 1 sample tile of at least 8 pixels");
  const SampleImages probed = probe_sample_images(images);
  for (const std::string& why : probed.skipped)
    if (on_skipped) on_skipped(why);
  if (probed.paths.empty()) return Status::error(probed.skipped.empty() ? "no sample images" : probed.skipped.front());
  // Only images that hold a whole tile: the search's samples are all one size.
  SampleImages usable;
  int largest_w = 0, largest_h = 0;
  for (std::size_t i = 0; i < probed.paths.size(); ++i) {
    const auto [w, h] = probed.sizes[i];
    if (std::min(w, h) > std::min(largest_w, largest_h)) {
      largest_w = w;
      largest_h = h;
    }
    if (w < tile || h < tile) continue;
    usable.paths.push_back(probed.paths[i]);
    usable.sizes.push_back(probed.sizes[i]);
  }
  if (usable.paths.empty())
    return Status::error("no sample image is at least " + std::to_string(tile) + "x" + std::to_string(tile) +
                         " pixels (the largest is " + std::to_string(largest_w) + "x" + std::to_string(largest_h) +
                         "; --search-tile sets the size)");
  std::vector<Tensor> out;
  RESR_RETURN_IF_ERROR(for_each_chosen_tile(usable, choose_tiles(usable.sizes, count, tile, seed),
                                            [&out](const Image& img, const TileChoice& t) {
                                              out.push_back(engine::image_region_to_tensor(img, t.rect));
                                              return ok_status();
                                            }));
  return out;
}

const char* quantized_kind(bool int8_or_fp8, ir::Precision base) {
  if (int8_or_fp8) return "INT8+FP8";
  return base == ir::Precision::kFp8 ? "FP8" : "INT8";
}

double quantized_mac_share(const ir::Graph& g, int h, int w) {
  auto shapes = ir::infer_shapes(g, h, w);
  if (!shapes) return 0;
  double all = 0, int8 = 0;
  for (const ir::Node& n : g.nodes) {
    if (n.op != ir::Op::kConv2d) continue;
    const double m = mac_count(n, (*shapes)[n.output]);
    all += m;
    if (ir::is_quantized(n.quant.precision)) int8 += m;
  }
  return all > 0 ? int8 / all : 0;
}

Result<MigrationChoice> choose_channel_migration(const ir::Graph& fp32, const CalibTable& table,
                                                 const QuantOptions& base, const std::vector<Tensor>& samples,
                                                 const std::vector<float>& strengths,
                                                 const std::function<bool()>& stop) {
  if (samples.empty() || strengths.empty()) return Status::error("choosing the scale migration needs samples");
  QuantOptions o = base;           // the evaluator reads it at each measurement
  o.migration_candidates.clear();  // (they would override the strength measured)
  Evaluator e(fp32, table, o, samples);
  RESR_RETURN_IF_ERROR(e.init());
  MigrationChoice choice;
  double best = -INFINITY;
  for (float a : strengths) {
    if (stop && stop()) return Status::stopped("choosing the scale migration interrupted");
    o.channel_migration = a;
    RESR_ASSIGN_OR_RETURN(double mse, e.mse({}, nullptr));
    const double psnr = psnr_from_mse(mse);
    choice.psnr_db.emplace_back(a, psnr);
    if (psnr > best) {
      best = psnr;
      choice.strength = a;
    }
  }
  return choice;
}

Result<double> measure_psnr(const ir::Graph& fp32, const ir::Graph& reduced, const std::vector<Tensor>& samples) {
  if (samples.empty()) return Status::error("measuring the quality needs at least one sample tile");
  RESR_ASSIGN_OR_RETURN(std::vector<Tensor> refs,
                        run_on_cpu(std::make_shared<const ir::Graph>(fp32), samples, nullptr));
  RESR_ASSIGN_OR_RETURN(std::vector<Tensor> outs,
                        run_on_cpu(std::make_shared<const ir::Graph>(reduced), samples, nullptr));
  return psnr_from_mse(clamped_mse(outs, refs));
}

Result<SearchResult> search_precision(const ir::Graph& fp32, const CalibTable& table, const QuantOptions& base,
                                      const std::vector<Tensor>& samples, const SearchOptions& options) {
  if (samples.empty()) return Status::error("the precision search needs at least one sample tile");
  for (const Tensor& t : samples)
    if (t.c() != 3 || t.h() != samples.front().h() || t.w() != samples.front().w())
      return Status::error("the precision search needs sample tiles of one size");
  auto say = [&](const std::string& line) {
    if (options.on_progress) options.on_progress(line);
  };
  Evaluator ev(fp32, table, base, samples);
  RESR_RETURN_IF_ERROR(ev.init());
  // Every measurement goes through here, so that a stop request is seen within one evaluation.
  auto measure = [&](const std::map<std::string, ir::Precision>& m, double* share) -> Result<double> {
    if (options.stop && options.stop()) return Status::stopped("precision search interrupted");
    return ev.mse(m, share);
  };
  RESR_ASSIGN_OR_RETURN(std::vector<Candidate> cands,
                        make_candidates(fp32, base, samples.front().h(), samples.front().w(), options.max_groups));
  const bool grouped = std::any_of(cands.begin(), cands.end(), [](const Candidate& c) { return c.names.size() > 1; });
  const char* kind = quantized_kind(options.choose_int8_or_fp8, base.precision);
  SearchResult r;
  auto record = [&](int kept, double share, double mse) {
    r.curve.push_back({kept, share, psnr_from_mse(mse)});
    char buf[160];
    std::snprintf(buf, sizeof buf, "kept %d convs out of %s: %s share %.1f%%, PSNR %.2f dB", kept, kind, kind,
                  100 * share, psnr_from_mse(mse));
    say(buf);
  };
  // The precisions with the first `k` candidates kept and the rest at their quantized precision.
  auto with_prefix_kept = [&](std::size_t k) {
    std::map<std::string, ir::Precision> m;
    for (std::size_t i = 0; i < cands.size(); ++i)
      for (const std::string& name : cands[i].names) m[name] = i < k ? options.keep_precision : cands[i].quantized;
    return m;
  };
  // The error of the graph with every candidate kept but cands[i], which runs at precision p.
  auto alone = [&](std::size_t i, ir::Precision p) {
    std::map<std::string, ir::Precision> m = with_prefix_kept(cands.size());
    for (const std::string& name : cands[i].names) m[name] = p;
    return measure(m, nullptr);
  };
  auto progress = [&](std::size_t done, const char* what) {
    if (done % 10 == 0 || done == cands.size())
      say(std::string(what) + std::to_string(done) + " / " + std::to_string(cands.size()) +
          (grouped ? " groups of consecutive convs measured" : " convs measured"));
  };

  // Each candidate alone in INT8 and in FP8: its precision is that of the smaller error.
  if (options.choose_int8_or_fp8) {
    int fp8 = 0;
    for (std::size_t i = 0; i < cands.size(); ++i) {
      RESR_ASSIGN_OR_RETURN(const double int8_mse, alone(i, ir::Precision::kInt8));
      RESR_ASSIGN_OR_RETURN(const double fp8_mse, alone(i, ir::Precision::kFp8));
      cands[i].quantized = fp8_mse < int8_mse ? ir::Precision::kFp8 : ir::Precision::kInt8;
      cands[i].mse = std::min(int8_mse, fp8_mse);
      fp8 += cands[i].quantized == ir::Precision::kFp8;
      progress(i + 1, "INT8 or FP8: ");
    }
    say("INT8 or FP8: " + std::to_string(fp8) + " of " + std::to_string(cands.size()) +
        (grouped ? " groups" : " convs") + " chose FP8");
  }
  auto result_for = [&](std::size_t k, double share, double psnr) {
    r.per_conv = base.per_conv;
    r.kept = 0;
    for (const auto& [name, p] : with_prefix_kept(k))
      if (p != base.precision) r.per_conv[name] = p;
    for (const auto& [name, p] : r.per_conv) r.kept += !ir::is_quantized(p);
    r.quantized_share = share;
    r.psnr_db = psnr;
    r.reached = psnr >= options.target_psnr_db;
    r.evaluations = ev.evaluations;
    std::sort(r.curve.begin(), r.curve.end(),
              [](const CurvePoint& a, const CurvePoint& b) { return a.quantized_share > b.quantized_share; });
  };

  double share = 0;
  RESR_ASSIGN_OR_RETURN(double all_mse, measure(with_prefix_kept(0), &share));
  record(0, share, all_mse);
  if (psnr_from_mse(all_mse) >= options.target_psnr_db || cands.empty()) {
    result_for(0, share, psnr_from_mse(all_mse));
    return r;
  }

  // Sensitivity of each candidate alone in its quantized precision (already measured when it was chosen).
  if (!options.choose_int8_or_fp8) {
    for (std::size_t i = 0; i < cands.size(); ++i) {
      RESR_ASSIGN_OR_RETURN(cands[i].mse, alone(i, cands[i].quantized));
      progress(i + 1, "sensitivity: ");
    }
  }
  std::stable_sort(cands.begin(), cands.end(),
                   [](const Candidate& a, const Candidate& b) { return a.mse / a.macs > b.mse / b.macs; });
  for (const Candidate& c : cands)
    for (const std::string& name : c.names) r.ranking.push_back(name);

  // Bisection over the prefix length: the PSNR grows (nearly) monotonically with it.
  std::size_t lo = 0, hi = cands.size();    // lo misses the target; hi: every candidate kept
  double hi_share = 0, hi_psnr = INFINITY;  // measured below when the bisection ends there
  while (hi - lo > 1) {
    const std::size_t mid = (lo + hi) / 2;
    double s = 0;
    const std::map<std::string, ir::Precision> m = with_prefix_kept(mid);
    RESR_ASSIGN_OR_RETURN(double mse, measure(m, &s));
    int kept = 0;
    for (std::size_t i = 0; i < mid; ++i) kept += static_cast<int>(cands[i].names.size());
    record(kept, s, mse);
    if (psnr_from_mse(mse) >= options.target_psnr_db) {
      hi = mid;
      hi_share = s;
      hi_psnr = psnr_from_mse(mse);
    } else {
      lo = mid;
    }
  }
  // Every candidate kept is the FP32 output unless the kept precision is FP16 or convs outside the search are
  // pinned (a qtable) to another precision: then it is measured, so that a missed target is said to be missed.
  const bool all_kept_exact = options.keep_precision == ir::Precision::kFp32 &&
                              std::all_of(base.per_conv.begin(), base.per_conv.end(),
                                          [](const auto& pinned) { return pinned.second == ir::Precision::kFp32; });
  if (hi == cands.size() && !all_kept_exact) {
    RESR_ASSIGN_OR_RETURN(const double mse, measure(with_prefix_kept(hi), &hi_share));
    int kept = 0;
    for (const Candidate& c : cands) kept += static_cast<int>(c.names.size());
    record(kept, hi_share, mse);
    hi_psnr = psnr_from_mse(mse);
  }
  result_for(hi, hi_share, hi_psnr);
  return r;
}

}  // namespace resr::quant
