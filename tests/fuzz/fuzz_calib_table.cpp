// Build+run: scripts/fuzz.sh calib_table 60   (clang, libFuzzer + ASan/UBSan; see the script for the sources)
//
// libFuzzer entry point for the calibration table reader (`resr convert --calib`, v1 and v2 tables): any text must
// yield a table that keeps the format's promises or one short error line, never a crash or sanitizer report.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "quant/calib_table.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  resr::Result<resr::quant::CalibTable> table = resr::quant::parse_calib_table(text, "fuzz.calib");
  if (!table.ok()) {
    const std::string e = table.status().message();
    RESR_ASSERT(e.rfind("fuzz.calib: ", 0) == 0 && e.find('\n') == std::string::npos && e.size() < 400);
    return 0;
  }
  RESR_ASSERT(!table->tensors.empty() && table->samples >= 1 && table->tile >= 1);
  for (const resr::quant::TensorRange& r : table->tensors) {
    RESR_ASSERT(!r.name.empty() && r.name[0] != '#' && r.threshold >= 0 && r.min <= r.max);
    RESR_ASSERT(r.channel_max.size() <= std::size_t(resr::quant::kMaxTableChannels));
    for (float m : r.channel_max) RESR_ASSERT(std::isfinite(m) && m >= 0);
  }
  return 0;
}
