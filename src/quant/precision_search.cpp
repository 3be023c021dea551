#include "quant/precision_search.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "engine/backend_factory.h"
#include "engine/tile_io.h"
#include "image/codec.h"
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

  // Mean squared error over all samples of the graph with every conv INT8 except `keep`.
  Result<double> mse(const std::map<std::string, ir::Precision>& keep, double* share) {
    ir::Graph g = fp32_;
    QuantOptions o = base_;
    for (const auto& [name, p] : keep) o.keep[name] = p;
    RESR_RETURN_IF_ERROR(quantize_graph(g, table_, o));
    if (share != nullptr) *share = quantized_mac_share(g, samples_.front().h(), samples_.front().w());
    RESR_ASSIGN_OR_RETURN(std::vector<Tensor> outs, run(std::make_shared<const ir::Graph>(std::move(g))));
    ++evaluations;
    double sum = 0, count = 0;
    for (std::size_t i = 0; i < outs.size(); ++i) {
      const float* a = outs[i].data();
      const float* b = refs_[i].data();
      for (std::int64_t k = 0; k < outs[i].numel(); ++k) {
        const double d = double(std::clamp(a[k], 0.0f, 1.0f)) - double(std::clamp(b[k], 0.0f, 1.0f));
        sum += d * d;
      }
      count += double(outs[i].numel());
    }
    return sum / count;
  }

  int evaluations = 0;

 private:
  Result<std::vector<Tensor>> run(std::shared_ptr<const ir::Graph> g) {
    RESR_ASSIGN_OR_RETURN(std::unique_ptr<Executable> exe, engine::make_executable(std::move(g), "cpu"));
    std::vector<Tensor> outs;
    for (const Tensor& t : samples_) {
      RESR_ASSIGN_OR_RETURN(Tensor o, exe->run(t));
      outs.push_back(std::move(o));
    }
    return outs;
  }

  const ir::Graph& fp32_;
  const CalibTable& table_;
  const QuantOptions& base_;
  const std::vector<Tensor>& samples_;
  std::vector<Tensor> refs_;
};

}  // namespace

Result<std::vector<Tensor>> load_sample_tiles(const std::vector<std::string>& images, int count, int tile,
                                              std::uint64_t seed) {
  if (count < 1 || tile < 8) return Status::error("the search needs at least 1 sample tile of at least 8 pixels");
  std::vector<Image> decoded;
  std::string first_error;
  for (const std::string& path : images) {
    auto img = read_image_file(path);
    if (!img) {
      if (first_error.empty()) first_error = path + ": " + img.status().message();
      continue;
    }
    if (img->width >= tile && img->height >= tile) decoded.push_back(std::move(*img));
  }
  if (decoded.empty())
    return Status::error(first_error.empty() ? "no sample image is at least " + std::to_string(tile) + " pixels"
                                             : first_error);
  std::vector<std::pair<int, int>> sizes;
  sizes.reserve(decoded.size());
  for (const Image& img : decoded) sizes.emplace_back(img.width, img.height);
  std::vector<Tensor> out;
  for (const TileChoice& t : choose_tiles(sizes, count, tile, seed))
    out.push_back(engine::image_region_to_tensor(decoded[t.image], t.rect));
  return out;
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
  SearchResult r;
  auto record = [&](int kept, double share, double mse) {
    r.curve.push_back({kept, share, psnr_from_mse(mse)});
    char buf[160];
    const char* kind = base.precision == ir::Precision::kFp8 ? "FP8" : "INT8";
    std::snprintf(buf, sizeof buf, "kept %d convs out of %s: %s share %.1f%%, PSNR %.2f dB", kept, kind, kind,
                  100 * share, psnr_from_mse(mse));
    say(buf);
  };

  double share = 0;
  RESR_ASSIGN_OR_RETURN(double all_mse, ev.mse({}, &share));
  record(0, share, all_mse);
  r.keep = base.keep;
  r.quantized_share = share;
  r.psnr_db = psnr_from_mse(all_mse);
  r.reached = r.psnr_db >= options.target_psnr_db;
  if (r.reached) {
    r.evaluations = ev.evaluations;
    return r;
  }

  // Sensitivity of each conv alone in INT8.
  auto shapes = ir::infer_shapes(fp32, samples.front().h(), samples.front().w());
  if (!shapes) return shapes.status();
  // Candidates: single convs, or for deep models runs of consecutive convs (a dense block's convs together), so
  // that the sensitivity pass costs at most max_groups evaluations.
  struct Candidate {
    std::vector<std::string> names;
    double macs = 0, mse = 0;
  };
  std::vector<Candidate> cands;
  std::map<std::string, ir::Precision> all_fp;
  std::vector<const ir::Node*> convs;
  for (const ir::Node& n : fp32.nodes) {
    if (n.op != ir::Op::kConv2d || base.keep.count(n.name) != 0) continue;
    convs.push_back(&n);
    all_fp[n.name] = options.keep_precision;
  }
  const int groups = std::max(1, std::min<int>(static_cast<int>(convs.size()), options.max_groups));
  for (int gi = 0; gi < groups; ++gi) {
    Candidate c;
    const std::size_t b = convs.size() * gi / groups, e = convs.size() * (gi + 1) / groups;
    for (std::size_t i = b; i < e; ++i) {
      c.names.push_back(convs[i]->name);
      c.macs += mac_count(*convs[i], (*shapes)[convs[i]->output]);
    }
    cands.push_back(std::move(c));
  }
  for (std::size_t i = 0; i < cands.size(); ++i) {
    std::map<std::string, ir::Precision> keep = all_fp;
    for (const std::string& name : cands[i].names) keep.erase(name);
    RESR_ASSIGN_OR_RETURN(cands[i].mse, ev.mse(keep, nullptr));
    if ((i + 1) % 10 == 0 || i + 1 == cands.size())
      say("sensitivity: " + std::to_string(i + 1) + " / " + std::to_string(cands.size()) +
          (groups < static_cast<int>(convs.size()) ? " groups of consecutive convs measured" : " convs measured"));
  }
  std::stable_sort(cands.begin(), cands.end(),
                   [](const Candidate& a, const Candidate& b) { return a.mse / a.macs > b.mse / b.macs; });
  for (const Candidate& c : cands)
    for (const std::string& name : c.names) r.ranking.push_back(name);

  auto keep_prefix = [&](int k) {
    std::map<std::string, ir::Precision> keep;
    for (int i = 0; i < k; ++i)
      for (const std::string& name : cands[i].names) keep[name] = options.keep_precision;
    return keep;
  };
  // Bisection over the prefix length: the PSNR grows (nearly) monotonically with it.
  int lo = 0, hi = static_cast<int>(cands.size());  // lo misses the target; hi: every conv kept (FP32 output)
  double hi_share = 0, hi_psnr = INFINITY;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    double s = 0;
    RESR_ASSIGN_OR_RETURN(double m, ev.mse(keep_prefix(mid), &s));
    record(static_cast<int>(keep_prefix(mid).size()), s, m);
    if (psnr_from_mse(m) >= options.target_psnr_db) {
      hi = mid;
      hi_share = s;
      hi_psnr = psnr_from_mse(m);
    } else {
      lo = mid;
    }
  }
  r.keep = base.keep;
  for (const auto& [name, p] : keep_prefix(hi)) r.keep[name] = p;
  r.quantized_share = hi_share;
  r.psnr_db = hi_psnr;
  r.reached = hi_psnr >= options.target_psnr_db;
  std::sort(r.curve.begin(), r.curve.end(),
            [](const CurvePoint& a, const CurvePoint& b) { return a.quantized_share > b.quantized_share; });
  r.evaluations = ev.evaluations;
  return r;
}

}  // namespace resr::quant
