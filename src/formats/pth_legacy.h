// Reader for PyTorch checkpoints in the legacy format torch.save wrote before 1.6 (and since with
// _use_new_zipfile_serialization=False), in which many ESRGAN-era community models are published. The file is
// five pickles in a row, then the raw storages:
//
//   magic number (0x1950a86a20f9469cfc6c) | protocol version (1001) | sys_info {little_endian, type_sizes}
//   | the object (storages as persistent ids ('storage', type, key, location, numel, None))
//   | the storage keys, in the order their data follows | per key: numel as int64 LE, then numel elements.
//
// Any pickle protocol torch.save may be given (2, its default, to 5). The pickles go through the restricted unpickler
// (formats/pickle.h: nothing is executed) and the state dict is taken as from the zip format
// (formats/pth_state_dict.h). Refused: big-endian files, storage views, records shorter than their references declare
// or than the file; the older tar-based format (PyTorch 0.1-0.3).
#pragma once

#include <cstdint>
#include <span>

#include "core/status.h"
#include "formats/weight_map.h"

namespace resr::formats {

// True when the bytes start with the legacy format's magic-number pickle.
bool looks_like_legacy_pth(std::span<const std::uint8_t> head);

// In-memory contents; messages carry no file name.
[[nodiscard]] Result<WeightMap> parse_legacy_pth(std::span<const std::uint8_t> bytes);

}  // namespace resr::formats
