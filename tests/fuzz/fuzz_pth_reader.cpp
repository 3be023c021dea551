// libFuzzer target for the weight-file readers. The first input byte picks what the rest is:
//   0: a whole .pth file (zip or legacy format + restricted unpickler + tensor records)
//   1: the data.pkl of a .pth: wrapped here into a valid zip beside two storages, so the fuzzer reaches the
//      unpickler and the tensor checks without having to forge CRCs
//   2: a .safetensors file
// Weights that read go on to the architecture detection and graph building (models/detect.h).
// Build and run: scripts/fuzz.sh pth_reader 60
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "formats/pth_reader.h"
#include "formats/safetensors_reader.h"
#include "models/detect.h"
#include "unit/formats/pickle_bytes.h"

namespace {

void detect(const resr::Result<resr::formats::WeightMap>& w) {
  if (!w.ok()) return;
  auto m = resr::models::build_from_weights(*w);
  (void)m.ok();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::span<const std::uint8_t> rest(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      detect(resr::formats::parse_pth(rest));
      break;
    case 1: {
      const std::vector<std::uint8_t> pkl(rest.begin(), rest.end());
      const auto zip = resr::test::make_zip({{"archive/data.pkl", pkl},
                                             {"archive/data/0", std::vector<std::uint8_t>(64, 0x3c)},
                                             {"archive/data/1", std::vector<std::uint8_t>(6, 0x3c)}});
      detect(resr::formats::parse_pth(zip));
      break;
    }
    default: {
      auto file = resr::formats::parse_safetensors(rest);
      if (file.ok()) detect(std::move(file->weights));
    }
  }
  return 0;
}
