// CalibTable: the text calibration table `resr calibrate` writes and `resr convert --calib` reads.
//
//   # resr calibration table v3
//   # model <16 hex digits: ir::graph_fingerprint of the FP32 model>
//   # method minmax|percentile|kl|mse
//   # samples <number of tiles>  tile <T>
//   # date <ISO 8601 UTC>
//   <tensor name> <threshold> <min> <max> <n> <m_0> ... <m_{n-1}>    one line per tensor read by a Conv2d
//   # end <number of tensor lines> crc32 <8 hex digits: CRC-32 of every byte before this line>
//
// threshold: the symmetric clipping range |x| <= threshold the method chose; min / max: the observed range;
// n (0 to 65536) per-channel maxima follow: m_c, the largest |x| seen in channel c (n = 0: not known).
// The end line (v3) makes a table cut short or changed after calibrate wrote it an error, not other numbers (its CRC
// leaves out carriage returns: CRLF lines are read too; a table edited by hand is read as v2 without the line). v2
// tables (the same without it) are still read, and v1 tables (`<tensor name> <threshold> <min> <max>` lines), with
// no channel maxima; the writer writes v3. Numbers are written with 9 significant digits, so floats read back
// bit-exact. Tensor names are graph value names: non-empty, no whitespace, not starting with '#'. After the header,
// blank lines and '#' lines are ignored. Reading is strict: an unknown header version, a missing or reordered header
// field, an unknown method, a malformed number, a non-finite or negative threshold, min > max, a threshold or channel
// maximum beyond max(|min|, |max|) (every method clips within the observed range), a bad channel count, a count that
// does not match the maxima given, a non-finite or negative channel maximum, a duplicate tensor, no tensor at all, or
// (v3) a missing or mismatched end line is an error naming the file and line ("t.calib: line 7: tensor 'x' listed
// twice"); text from the file in a message is cut to 64 characters, anything but printable ASCII shown as '?'.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace resr::quant {

struct TensorRange {
  std::string name;
  float threshold = 0.0f;
  float min = 0.0f, max = 0.0f;
  std::vector<float> channel_max{};  // the largest |x| of each channel; empty when not known (v1 tables)
};

struct CalibTable {
  std::uint64_t model_fingerprint = 0;
  std::string method;
  int samples = 0;
  int tile = 0;
  std::string date;
  std::vector<TensorRange> tensors;

  const TensorRange* find(const std::string& name) const;
};

inline constexpr int kMaxTableChannels = 1 << 16;  // the most channel maxima on one tensor line
// Files past kMaxTableBytes are refused unread (x4plus's v2 table is about 0.55 MB: 351 tensors, 44483 channel maxima).
inline constexpr std::size_t kMaxTableBytes = std::size_t{16} << 20;
[[nodiscard]] Result<CalibTable> read_calib_table(const std::string& path);
// The table in `text`, read as read_calib_table reads a file's bytes; `name` (the file) starts each error.
[[nodiscard]] Result<CalibTable> parse_calib_table(std::string_view text, const std::string& name);
// Written to a temporary file, then renamed: no partial table on failure. Refused, as the reader would refuse them:
// no tensors, a name empty, starting with '#', holding whitespace or listed twice, an invalid range or channel
// maximum, more than kMaxTableChannels maxima, a table over kMaxTableBytes.
[[nodiscard]] Status write_calib_table(const CalibTable& table, const std::string& path);

}  // namespace resr::quant
