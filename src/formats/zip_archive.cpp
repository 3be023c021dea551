// ZIP reading after PKWARE's APPNOTE.TXT (sections 4.3.7 local header, 4.3.12 central directory, 4.3.14-16
// ZIP64 end records, 4.5.3 ZIP64 extra field).
#include "formats/zip_archive.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/deflate_bound.h"

namespace resr::formats {
namespace {

constexpr std::uint32_t kLocalSig = 0x04034b50u, kCentralSig = 0x02014b50u, kEndSig = 0x06054b50u;
constexpr std::uint32_t kZip64EndSig = 0x06064b50u, kZip64LocatorSig = 0x07064b50u;
constexpr std::size_t kMaxEntries = 1 << 20;

std::uint64_t le(const std::uint8_t* p, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

bool fits(std::span<const std::uint8_t> b, std::uint64_t offset, std::uint64_t size) {
  return offset <= b.size() && size <= b.size() - offset;
}

// Replaces 0xFFFF... fields of a central directory entry from its ZIP64 extra field.
Status apply_zip64_extra(const std::uint8_t* extra, std::size_t len, ZipArchive::Entry& e, bool need_size,
                         bool need_csize, bool need_offset) {
  std::size_t pos = 0;
  while (pos + 4 <= len) {
    const auto id = std::uint16_t(le(extra + pos, 2));
    const auto sz = std::size_t(le(extra + pos + 2, 2));
    if (pos + 4 + sz > len) return Status::error("entry '" + e.name + "': extra field overruns its record");
    if (id == 0x0001) {
      std::size_t q = pos + 4;
      const std::size_t end = q + sz;
      auto take = [&](std::uint64_t& field) -> Status {
        if (q + 8 > end) return Status::error("entry '" + e.name + "': short ZIP64 extra field");
        field = le(extra + q, 8);
        q += 8;
        return {};
      };
      if (need_size) RESR_RETURN_IF_ERROR(take(e.size));
      if (need_csize) RESR_RETURN_IF_ERROR(take(e.compressed_size));
      if (need_offset) RESR_RETURN_IF_ERROR(take(e.local_header_offset));
      return {};
    }
    pos += 4 + sz;
  }
  if (need_size || need_csize || need_offset) return Status::error("entry '" + e.name + "': missing ZIP64 extra field");
  return {};
}

}  // namespace

Result<ZipArchive> ZipArchive::open(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 22) return Status::error("not a zip archive (too short)");
  // The end record is the last 22 bytes plus a comment of up to 65535 bytes.
  const std::size_t lowest = bytes.size() >= 22 + 65535 ? bytes.size() - 22 - 65535 : 0;
  std::size_t end = std::numeric_limits<std::size_t>::max();
  for (std::size_t p = bytes.size() - 22 + 1; p-- > lowest;) {
    if (le(bytes.data() + p, 4) == kEndSig) {
      end = p;
      break;
    }
  }
  if (end == std::numeric_limits<std::size_t>::max())
    return Status::error("not a zip archive (no end of central directory record; truncated?)");
  const std::uint8_t* r = bytes.data() + end;
  if (le(r + 4, 2) != 0 || le(r + 6, 2) != 0) return Status::error("multi-disk zip archives are not supported");
  std::uint64_t count = le(r + 10, 2);
  std::uint64_t dir_size = le(r + 12, 4);
  std::uint64_t dir_offset = le(r + 16, 4);
  if (count == 0xffff || dir_size == 0xffffffffu || dir_offset == 0xffffffffu) {
    if (end < 20 || le(bytes.data() + end - 20, 4) != kZip64LocatorSig)
      return Status::error("zip64 archive without its end-of-directory locator");
    const std::uint64_t rec = le(bytes.data() + end - 20 + 8, 8);
    if (!fits(bytes, rec, 56) || le(bytes.data() + rec, 4) != kZip64EndSig)
      return Status::error("zip64 end-of-directory record out of range");
    count = le(bytes.data() + rec + 32, 8);
    dir_size = le(bytes.data() + rec + 40, 8);
    dir_offset = le(bytes.data() + rec + 48, 8);
  }
  if (!fits(bytes, dir_offset, dir_size)) return Status::error("central directory out of range (truncated archive?)");
  if (count > kMaxEntries) return Status::error("too many zip entries (" + std::to_string(count) + ")");
  ZipArchive zip;
  zip.bytes_ = bytes;
  std::uint64_t p = dir_offset;
  const std::uint64_t dir_end = dir_offset + dir_size;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (p + 46 > dir_end || le(bytes.data() + p, 4) != kCentralSig)
      return Status::error("truncated central directory (entry " + std::to_string(i) + ")");
    const std::uint8_t* c = bytes.data() + p;
    Entry e;
    e.flags = std::uint16_t(le(c + 8, 2));
    e.method = std::uint16_t(le(c + 10, 2));
    e.crc32 = std::uint32_t(le(c + 16, 4));
    e.compressed_size = le(c + 20, 4);
    e.size = le(c + 24, 4);
    const std::uint64_t name_len = le(c + 28, 2), extra_len = le(c + 30, 2), comment_len = le(c + 32, 2);
    e.local_header_offset = le(c + 42, 4);
    if (p + 46 + name_len + extra_len + comment_len > dir_end)
      return Status::error("truncated central directory (entry " + std::to_string(i) + ")");
    e.name.assign(reinterpret_cast<const char*>(c + 46), name_len);
    RESR_RETURN_IF_ERROR(apply_zip64_extra(c + 46 + name_len, extra_len, e, e.size == 0xffffffffu,
                                           e.compressed_size == 0xffffffffu, e.local_header_offset == 0xffffffffu));
    zip.entries_.push_back(std::move(e));
    p += 46 + name_len + extra_len + comment_len;
  }
  return zip;
}

const ZipArchive::Entry* ZipArchive::find(std::string_view name) const {
  for (const Entry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

Result<std::span<const std::uint8_t>> ZipArchive::read(const Entry& e, std::vector<std::uint8_t>& scratch,
                                                       std::uint64_t max_size) const {
  const std::string where = "entry '" + e.name + "'";
  if ((e.flags & 1u) != 0) return Status::error(where + ": encrypted zip entries are not supported");
  if (!fits(bytes_, e.local_header_offset, 30) || le(bytes_.data() + e.local_header_offset, 4) != kLocalSig)
    return Status::error(where + ": local header out of range or corrupt (truncated archive?)");
  const std::uint8_t* h = bytes_.data() + e.local_header_offset;
  const std::uint64_t data_offset = e.local_header_offset + 30 + le(h + 26, 2) + le(h + 28, 2);
  if (!fits(bytes_, data_offset, e.compressed_size))
    return Status::error(where + ": data runs past the end of the file (truncated archive?)");
  if (e.size > max_size) return Status::error(where + ": " + std::to_string(e.size) + " bytes is too large");
  std::span<const std::uint8_t> out;
  if (e.method == 0) {
    if (e.compressed_size != e.size) return Status::error(where + ": stored entry with different sizes");
    out = bytes_.subspan(data_offset, e.size);
  } else if (e.method == 8) {
    // A claimed size past deflate's largest expansion is a lie that must not be allocated first: a few KB of file
    // could otherwise ask for gigabytes.
    if (e.size / std::uint64_t(kMaxDeflateExpansion) > e.compressed_size)
      return Status::error(where + ": claims " + std::to_string(e.size) + " bytes from " +
                           std::to_string(e.compressed_size) + " deflated ones, more than deflate can expand to");
    scratch.assign(e.size, 0);
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) return Status::error(where + ": zlib initialisation failed");
    std::uint64_t in_left = e.compressed_size, out_done = 0;
    const std::uint8_t* in = bytes_.data() + data_offset;
    int rc = Z_OK;
    while (rc == Z_OK) {
      const uInt chunk_in = uInt(std::min<std::uint64_t>(in_left, 1u << 30));
      const uInt chunk_out = uInt(std::min<std::uint64_t>(e.size - out_done, 1u << 30));
      z.next_in = const_cast<Bytef*>(in);
      z.avail_in = chunk_in;
      z.next_out = scratch.data() + out_done;
      z.avail_out = chunk_out;
      rc = inflate(&z, Z_NO_FLUSH);
      in += chunk_in - z.avail_in;
      in_left -= chunk_in - z.avail_in;
      out_done += chunk_out - z.avail_out;
      if (rc == Z_OK && chunk_in == z.avail_in && chunk_out == z.avail_out) rc = Z_BUF_ERROR;  // no progress
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END || out_done != e.size)
      return Status::error(where + ": corrupt deflate data (" +
                           std::string(rc == Z_STREAM_END ? "size mismatch" : "zlib error") + ")");
    out = std::span<const std::uint8_t>(scratch.data(), scratch.size());
  } else {
    return Status::error(where + ": unsupported compression method " + std::to_string(e.method));
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  for (std::size_t done = 0; done < out.size();) {
    const std::size_t n = std::min<std::size_t>(out.size() - done, 1u << 30);
    crc = crc32(crc, out.data() + done, uInt(n));
    done += n;
  }
  if (crc != e.crc32) return Status::error(where + ": CRC mismatch (corrupt file)");
  return out;
}

}  // namespace resr::formats
