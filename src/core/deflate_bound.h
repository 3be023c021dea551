// The most that deflate data (RFC 1951) can expand: a 258-byte match coded in two bits at best, 1032-fold. A
// claimed size past stored bytes x this is a lie, refused before anything that size is allocated (PNG, the zip
// entries of .pth files, deflated TIFF).
#pragma once

#include <cstdint>

namespace resr {

inline constexpr std::int64_t kMaxDeflateExpansion = 1032;

}  // namespace resr
