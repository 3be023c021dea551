#include "quant/calib_table.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <zlib.h>

#include "core/staged_file.h"
#include "ir/fingerprint.h"
#include "quant/threshold_methods.h"

namespace resr::quant {
namespace {

constexpr const char* kMagicV1 = "# resr calibration table v1";
constexpr const char* kMagicV2 = "# resr calibration table v2";
constexpr const char* kMagic = "# resr calibration table v3";  // written

// CRC-32 of the bytes but carriage returns: the reader takes CRLF lines (a table through a Windows checkout or
// editor), and so does the check.
std::uint32_t crc32_of(std::string_view bytes) {
  uLong crc = crc32_z(0, Z_NULL, 0);
  for (std::size_t at = 0; at < bytes.size();) {
    std::size_t cr = bytes.find('\r', at);
    if (cr == std::string_view::npos) cr = bytes.size();
    crc = crc32_z(crc, reinterpret_cast<const Bytef*>(bytes.data() + at), cr - at);
    at = cr + 1;
  }
  return std::uint32_t(crc);
}

// The v3 end line for `tensors` lines and the bytes before it.
std::string end_line(std::size_t tensors, std::string_view before) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "# end %zu crc32 %08x", tensors, unsigned(crc32_of(before)));
  return buf;
}

// Text from the file as an error message shows it: printable ASCII (anything else '?'), at most 64 characters.
std::string shown(const std::string& text) {
  std::string s = text.substr(0, 64);
  for (char& c : s)
    if (c < 0x20 || c > 0x7e) c = '?';
  return text.size() > 64 ? s + "..." : s;
}

std::vector<std::string> split_ws(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string tok; in >> tok;) out.push_back(tok);
  return out;
}

bool parse_float(const std::string& s, float* out) {
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, *out);
  return ec == std::errc() && p == end && std::isfinite(*out);
}

// A decimal integer (no sign but '-'); *out_of_range, if asked, when it has too many digits for T.
template <class T>
bool parse_integer(const std::string& s, T* out, bool* out_of_range = nullptr) {
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, *out);
  if (out_of_range != nullptr) *out_of_range = ec == std::errc::result_out_of_range && p == end;
  return ec == std::errc() && p == end;
}

bool parse_hex64(const std::string& s, std::uint64_t* out) {
  if (s.size() != 16) return false;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, *out, 16);
  return ec == std::errc() && p == end;
}

// The header line `# key v1 [key2 v2]`: the values after the expected keys.
bool header_fields(const std::string& line, const std::vector<std::string>& keys, std::vector<std::string>* values) {
  const std::vector<std::string> t = split_ws(line);
  if (t.size() != 1 + 2 * keys.size() || t[0] != "#") return false;
  values->clear();
  for (std::size_t k = 0; k < keys.size(); ++k) {
    if (t[1 + 2 * k] != keys[k]) return false;
    values->push_back(t[2 + 2 * k]);
  }
  return true;
}

std::string format_float(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", double(v));  // 9 significant digits: reads back bit-exact
  return buf;
}

}  // namespace

const TensorRange* CalibTable::find(const std::string& name) const {
  for (const TensorRange& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

Result<CalibTable> read_calib_table(const std::string& path) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxTableBytes)
    return Status::error(path + ": too large for a calibration table (" + std::to_string(size) + " bytes, at most " +
                         std::to_string(kMaxTableBytes) + ")");
  std::ifstream file(path, std::ios::binary);
  if (!file) return Status::error(path + ": cannot open calibration table");
  std::string text;
  char buf[65536];
  while (file.read(buf, sizeof buf) || file.gcount() > 0) {
    text.append(buf, std::size_t(file.gcount()));
    if (text.size() > kMaxTableBytes) return Status::error(path + ": too large for a calibration table");
  }
  if (file.bad()) return Status::error(path + ": read error");
  return parse_calib_table(text, path);
}

Result<CalibTable> parse_calib_table(std::string_view text, const std::string& path) {
  std::istringstream in{std::string(text)};
  CalibTable table;
  std::set<std::string> seen;
  std::string line;
  int line_no = 0;
  auto error = [&](const std::string& what) {
    return Status::error(path + ": line " + std::to_string(line_no) + ": " + what);
  };
  std::vector<std::string> v;
  int version = 0;
  // The five header lines, in order.
  const char* const header_names[] = {"version line", "model line", "method line", "samples line", "date line"};
  for (int h = 0; h < 5; ++h) {
    ++line_no;
    if (!std::getline(in, line)) return error("missing " + std::string(header_names[h]));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    switch (h) {
      case 0:
        if (line == kMagicV1) {
          version = 1;
        } else if (line == kMagicV2) {
          version = 2;
        } else if (line == kMagic) {
          version = 3;
        } else {
          if (line.rfind("# resr calibration table ", 0) == 0)
            return error("unsupported version '" + shown(line.substr(25)) + "' (this resr reads v1 to v3)");
          return error("not a resr calibration table (expected '" + std::string(kMagic) + "')");
        }
        break;
      case 1:
        if (!header_fields(line, {"model"}, &v) || !parse_hex64(v[0], &table.model_fingerprint))
          return error("expected '# model <16 hex digits>'");
        break;
      case 2: {
        Method m;
        if (!header_fields(line, {"method"}, &v) || !parse_method(v[0], &m))
          return error("expected '# method minmax|percentile|kl|mse'");
        table.method = v[0];
        break;
      }
      case 3:
        if (!header_fields(line, {"samples", "tile"}, &v) || !parse_integer(v[0], &table.samples) ||
            !parse_integer(v[1], &table.tile) || table.samples < 1 || table.tile < 1)
          return error("expected '# samples <N>  tile <T>' with N, T >= 1");
        break;
      case 4:
        if (!header_fields(line, {"date"}, &v)) return error("expected '# date <ISO 8601 UTC>'");
        table.date = v[0];
        break;
    }
  }
  // v3: the last line that is not blank is "# end <tensors> crc32 <8 hex digits>", the CRC-32 of every byte
  // before it: a table cut short, or changed after calibrate wrote it, is refused (a cut value read as another).
  std::size_t end_at = std::string_view::npos;
  std::string end_text;
  if (version == 3) {
    const std::size_t last = text.find_last_not_of(" \t\r\n");
    end_at = last == std::string_view::npos ? 0 : text.rfind('\n', last);
    end_at = end_at == std::string_view::npos ? 0 : end_at + 1;
    end_text = std::string(text.substr(end_at, last == std::string_view::npos ? 0 : last + 1 - end_at));
    if (end_text.rfind("# end ", 0) != 0)
      return Status::error(path +
                           ": the table's end line is missing: cut short (a table edited by hand: make its "
                           "first line v2)");
  }
  std::size_t offset = 0;  // of the next line: past the header's five
  for (int h = 0; h < 5 && offset < text.size(); ++h) {
    const std::size_t newline = text.find('\n', offset);
    offset = newline == std::string_view::npos ? text.size() : newline + 1;
  }
  while (std::getline(in, line)) {
    ++line_no;
    const std::size_t line_start = offset;
    offset += line.size() + 1;
    if (line_start == end_at) break;  // the end line, checked below
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::vector<std::string> t = split_ws(line);
    if (t.empty() || t[0][0] == '#') continue;  // blank lines and comments
    if (version == 1 && t.size() != 4)
      return error("expected '<tensor> <threshold> <min> <max>', got " + std::to_string(t.size()) + " fields");
    if (version >= 2 && t.size() < 5)
      return error("expected '<tensor> <threshold> <min> <max> <n> <m_0> ... <m_{n-1}>', got " +
                   std::to_string(t.size()) + " fields");
    TensorRange r;
    r.name = t[0];
    const std::string name = "tensor '" + shown(r.name) + "'";
    if (!parse_float(t[1], &r.threshold) || !parse_float(t[2], &r.min) || !parse_float(t[3], &r.max))
      return error(name + ": malformed or non-finite number");
    if (r.threshold < 0) return error(name + ": negative threshold");
    if (r.min > r.max) return error(name + ": min > max");
    // Every method clips within the observed range, and a channel's maximum is within it too.
    const float observed = std::max(std::fabs(r.min), std::fabs(r.max));
    if (r.threshold > observed) return error(name + ": threshold beyond the observed range");
    if (version >= 2) {
      long long n = 0;
      bool huge = false;
      if (!parse_integer(t[4], &n, &huge) && !huge)
        return error(name + ": channel count '" + shown(t[4]) + "' is not an integer");
      if (huge || n < 0 || n > kMaxTableChannels)
        return error(name + ": channel count " + shown(t[4]) + " out of range (0 to " +
                     std::to_string(kMaxTableChannels) + ")");
      const std::size_t given = t.size() - 5;
      if (given != std::size_t(n))
        return error(name + ": " + std::to_string(n) + " channel maxima announced, " + std::to_string(given) +
                     " given");
      r.channel_max.resize(given);
      for (std::size_t c = 0; c < given; ++c) {
        if (!parse_float(t[5 + c], &r.channel_max[c]))
          return error(name + ": channel " + std::to_string(c) + ": malformed or non-finite maximum");
        if (r.channel_max[c] < 0) return error(name + ": channel " + std::to_string(c) + ": negative maximum");
        if (r.channel_max[c] > observed)
          return error(name + ": channel " + std::to_string(c) + ": maximum beyond the observed range");
      }
    }
    if (!seen.insert(r.name).second) return error(name + " listed twice");
    table.tensors.push_back(std::move(r));
  }
  if (table.tensors.empty()) return error("no tensor lines after the header");
  if (version == 3 && end_line(table.tensors.size(), text.substr(0, end_at)) != end_text)
    return Status::error(path + ": the end line '" + shown(end_text) + "' does not match the " +
                         std::to_string(table.tensors.size()) +
                         " tensor lines and the bytes before it: cut short or changed after calibrate wrote it (a "
                         "table edited by hand: make its first line v2 and drop the end line)");
  return table;
}

Status write_calib_table(const CalibTable& table, const std::string& path) {
  Method m;
  if (!parse_method(table.method, &m)) return Status::error(path + ": unknown method '" + table.method + "'");
  if (table.samples < 1 || table.tile < 1 || table.date.empty() ||
      table.date.find_first_of(" \t\n") != std::string::npos)
    return Status::error(path + ": table header incomplete (samples, tile, date)");
  std::ostringstream out;
  out << kMagic << "\n# model " << ir::fingerprint_hex(table.model_fingerprint) << "\n# method " << table.method
      << "\n# samples " << table.samples << "  tile " << table.tile << "\n# date " << table.date << "\n";
  for (const TensorRange& r : table.tensors) {
    // (a name starting with '#' would be read back as a comment; the rest the reader checks below)
    if (!r.name.empty() && r.name[0] == '#')
      return Status::error(path + ": tensor name '" + r.name + "' cannot be written (starts with '#')");
    out << r.name << ' ' << format_float(r.threshold) << ' ' << format_float(r.min) << ' ' << format_float(r.max) << ' '
        << r.channel_max.size();
    for (float m : r.channel_max) out << ' ' << format_float(m);
    out << '\n';
  }
  // A table the reader would refuse is not written: its own checks (names, ranges, maxima, duplicates), and its
  // size limit (read_calib_table's, before it parses).
  std::string text = out.str();
  text += end_line(table.tensors.size(), text) + "\n";
  if (text.size() > kMaxTableBytes)
    return Status::error(path + ": the table would take " + std::to_string(text.size()) + " bytes, over " +
                         std::to_string(kMaxTableBytes));
  RESR_RETURN_IF_ERROR(parse_calib_table(text, path).status());
  return write_file_atomically(path, text).with_context(path);
}

}  // namespace resr::quant
