// The metadata section of a .resr file:
//   {"model", "source", "architecture", "scale", "source_fingerprint": "<16 hex digits>",
//    "precision": {"fp32"|"fp16"|"int8"|"fp8": {"convs", "mac_share"}}, "calibration": {"method", "table"} (INT8 and
//    FP8 only; "fp8" is absent from files written before FP8 existed, and then means none),
//    "quality": {"psnr_db" (null: equal to FP32), "tiles", "tile"} (convert --images only),
//    "resr_version", "created"}
#include <cmath>
#include <cstdio>

#include "formats/resr_json_fields.h"
#include "formats/resr_sections.h"

namespace resr::formats::resr_sections {
namespace {

using nlohmann::json;

constexpr ir::Precision kPrecisions[] = {ir::Precision::kFp32, ir::Precision::kFp16, ir::Precision::kInt8,
                                         ir::Precision::kFp8};

std::string hex16(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

bool parse_hex16(const std::string& s, std::uint64_t* out) {
  if (s.size() != 16) return false;
  std::uint64_t v = 0;
  for (char ch : s) {
    const int d = (ch >= '0' && ch <= '9') ? ch - '0' : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : -1;
    if (d < 0) return false;
    v = (v << 4) | std::uint64_t(d);
  }
  *out = v;
  return true;
}

Status read_precision(const JsonFields& f, PrecisionSummary* s) {
  const json* pj = nullptr;
  RESR_RETURN_IF_ERROR(f.get("precision", &pj));
  JsonFields pf(*pj, f.where() + ": precision");
  RESR_RETURN_IF_ERROR(pf.is_object());
  for (ir::Precision p : kPrecisions) {
    if (p == ir::Precision::kFp8 && !pf.has(ir::precision_name(p))) continue;
    const json* ej = nullptr;
    RESR_RETURN_IF_ERROR(pf.get(ir::precision_name(p), &ej));
    JsonFields ef(*ej, pf.where() + ": " + ir::precision_name(p));
    RESR_RETURN_IF_ERROR(ef.is_object());
    RESR_RETURN_IF_ERROR(ef.get_int("convs", 0, std::int64_t{1} << 30, &s->at(p).convs));
    double& share = s->at(p).mac_share;
    RESR_RETURN_IF_ERROR(ef.get_double("mac_share", &share));
    if (!(share >= 0.0 && share <= 1.0)) return ef.error("mac_share", "must be in [0, 1]");
  }
  return {};
}

}  // namespace

json metadata_to_json(const ResrMetadata& m) {
  json precision = json::object();
  for (ir::Precision p : kPrecisions)
    precision[ir::precision_name(p)] = {{"convs", m.precision.at(p).convs}, {"mac_share", m.precision.at(p).mac_share}};
  json j = {{"model", m.model},
            {"source", m.source},
            {"architecture", m.architecture},
            {"scale", m.scale},
            {"source_fingerprint", hex16(m.source_fingerprint)},
            {"precision", std::move(precision)},
            {"resr_version", m.resr_version},
            {"created", m.created}};
  if (!m.calib_method.empty() || !m.calib_fingerprint.empty())
    j["calibration"] = {{"method", m.calib_method}, {"table", m.calib_fingerprint}};
  if (m.quality_tiles > 0)  // JSON has no infinity: null is "equal to FP32"
    j["quality"] = {{"psnr_db", std::isfinite(m.quality_psnr_db) ? json(m.quality_psnr_db) : json(nullptr)},
                    {"tiles", m.quality_tiles},
                    {"tile", m.quality_tile}};
  return j;
}

Result<ResrMetadata> metadata_from_json(const json& j) {
  JsonFields f(j, "metadata");
  RESR_RETURN_IF_ERROR(f.is_object());
  ResrMetadata m;
  RESR_RETURN_IF_ERROR(f.get_string("model", &m.model));
  RESR_RETURN_IF_ERROR(f.get_string("source", &m.source));
  RESR_RETURN_IF_ERROR(f.get_string("architecture", &m.architecture));
  RESR_RETURN_IF_ERROR(f.get_int("scale", 0, 64, &m.scale));
  std::string fp;
  RESR_RETURN_IF_ERROR(f.get_string("source_fingerprint", &fp));
  if (!parse_hex16(fp, &m.source_fingerprint)) return f.error("source_fingerprint", "must be 16 lower-case hex digits");
  RESR_RETURN_IF_ERROR(read_precision(f, &m.precision));
  RESR_RETURN_IF_ERROR(f.get_string("resr_version", &m.resr_version));
  RESR_RETURN_IF_ERROR(f.get_string("created", &m.created));
  if (f.has("calibration")) {
    const json* cj = nullptr;
    RESR_RETURN_IF_ERROR(f.get("calibration", &cj));
    JsonFields cf(*cj, "metadata: calibration");
    RESR_RETURN_IF_ERROR(cf.is_object());
    RESR_RETURN_IF_ERROR(cf.get_string("method", &m.calib_method));
    RESR_RETURN_IF_ERROR(cf.get_string("table", &m.calib_fingerprint));
  }
  if (f.has("quality")) {
    const json* qj = nullptr;
    RESR_RETURN_IF_ERROR(f.get("quality", &qj));
    JsonFields qf(*qj, "metadata: quality");
    RESR_RETURN_IF_ERROR(qf.is_object());
    RESR_RETURN_IF_ERROR(qf.get_int("tiles", 1, 1 << 20, &m.quality_tiles));
    RESR_RETURN_IF_ERROR(qf.get_int("tile", 1, 1 << 16, &m.quality_tile));
    const json* psnr = nullptr;
    RESR_RETURN_IF_ERROR(qf.get("psnr_db", &psnr));
    if (psnr->is_null())
      m.quality_psnr_db = INFINITY;
    else
      RESR_RETURN_IF_ERROR(qf.get_double("psnr_db", &m.quality_psnr_db));
  }
  return m;
}

}  // namespace resr::formats::resr_sections
