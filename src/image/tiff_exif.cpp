// Reads IFD0 and the EXIF and GPS IFDs of a TIFF structure (tiff_structure.h), then writes them again, packed: after
// a prefix (a bare header for a blob, the whole file for a TIFF output), IFD0, EXIF IFD, GPS IFD, then the values
// longer than 4 bytes, each at an even offset (TIFF 6.0 section 2).
#include "image/tiff_exif.h"

#include <algorithm>
#include <cstring>

#include "core/status.h"
#include "image/tiff_structure.h"

namespace resr::image_detail {
namespace {

constexpr std::uint32_t kExifIfdTag = 0x8769, kGpsIfdTag = 0x8825, kMakerNoteTag = 0x927C;
constexpr std::uint32_t kTypeLong = 4;
constexpr std::size_t kMaxBlob = 65527;      // a JPEG APP1 segment's 65533 bytes less "Exif\0\0"
constexpr std::uint32_t kMaxEntries = 1024;  // per IFD: more is a broken file, not EXIF

// IFD0 tags that describe the picture rather than its storage.
constexpr std::uint32_t kDescriptiveTags[] = {0x010E, 0x010F, 0x0110, 0x011A, 0x011B,
                                              0x0128, 0x0131, 0x0132, 0x013B, 0x8298};
// Those of them set by whatever wrote the file: XResolution, YResolution, ResolutionUnit, Software.
constexpr std::uint32_t kWriterTags[] = {0x011A, 0x011B, 0x0128, 0x0131};

// Bytes per value of TIFF field type `type` (1..12, and 13: IFD), 0 for types this does not know.
std::uint64_t type_size(std::uint32_t type) {
  static constexpr std::uint8_t kSizes[14] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4};
  return type < 14 ? kSizes[type] : 0;
}

struct Entry {
  std::uint32_t tag = 0, type = 0, count = 0;
  std::span<const std::uint8_t> value;  // count * type_size bytes; up to 4 of them held in the entry itself
  bool raw_field = false;               // value is the entry's 4-byte field as it stands (an offset stays valid)
};

// The parts of a TIFF structure that EXIF carries.
struct CarriedParts {
  std::vector<Entry> ifd0, exif, gps;  // IFD0: its descriptive tags only; each in ascending tag order, no repeats
};

// The entries of the IFD at `at`; false when the IFD itself cannot be read (its entries, or with `next`, the
// offset of the IFD after it, which *next gets). Entries with unknown types or values outside the file are left
// out; with `raw`, every entry is kept as it stands, its 4-byte field as its value (raw_field).
bool read_ifd(const TiffStructure& t, std::uint64_t at, std::vector<Entry>* out, bool raw = false,
              std::uint32_t* next = nullptr) {
  std::uint32_t n = 0;
  if (!t.u16(at, &n) || n > kMaxEntries) return false;
  if (next != nullptr && !t.u32(at + 2 + 12 * std::uint64_t(n), next)) return false;
  const std::span<const std::uint8_t> data = t.data();
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t e = at + 2 + 12 * i;
    Entry entry;
    std::uint32_t offset = 0;
    if (!t.u16(e, &entry.tag) || !t.u16(e + 2, &entry.type) || !t.u32(e + 4, &entry.count) || !t.u32(e + 8, &offset))
      return false;  // the IFD is cut short
    if (raw) {
      entry.raw_field = true;
      entry.value = data.subspan(std::size_t(e + 8), 4);
      out->push_back(entry);
      continue;
    }
    const std::uint64_t bytes = type_size(entry.type) * entry.count;
    if (bytes == 0) continue;
    const std::uint64_t from = bytes <= 4 ? e + 8 : offset;
    if (from > data.size() || bytes > data.size() - from) continue;
    entry.value = data.subspan(std::size_t(from), std::size_t(bytes));
    out->push_back(entry);
  }
  return true;
}

// The value of a LONG (or SHORT) pointer entry `tag` among `entries`, 0 when there is none.
std::uint64_t pointer(const TiffStructure& t, const std::vector<Entry>& entries, std::uint32_t tag) {
  for (const Entry& e : entries) {
    if (e.tag != tag || e.count != 1 || (e.type != kTypeLong && e.type != 3 && e.type != 13)) continue;
    std::uint32_t v = 0;
    const std::uint64_t at = std::uint64_t(e.value.data() - t.data().data());
    return (e.type == 3 ? t.u16(at, &v) : t.u32(at, &v)) ? v : 0;
  }
  return 0;
}

// The size of what BlobWriter::write makes of these IFDs after a prefix of `prefix` bytes (`pointers`: IFD0's
// pointer entries to add), computed before anything is copied: a hostile file can aim many entries at one value.
std::uint64_t blob_size(std::uint64_t prefix, const std::vector<Entry>& ifd0, std::size_t pointers,
                        const std::vector<Entry>& exif, const std::vector<Entry>& gps) {
  std::uint64_t size = prefix + 2 + 12 * std::uint64_t(ifd0.size() + pointers) + 4;
  for (const std::vector<Entry>* ifd : {&exif, &gps})
    if (!ifd->empty()) size += 2 + 12 * std::uint64_t(ifd->size()) + 4;
  for (const std::vector<Entry>* ifd : {&ifd0, &exif, &gps})
    for (const Entry& e : *ifd)
      if (!e.raw_field && e.value.size() > 4) size += (e.value.size() + 1) / 2 * 2;
  return size;
}

class BlobWriter {
 public:
  explicit BlobWriter(bool big_endian) : big_endian_(big_endian) {}

  // `prefix` (its first 8 bytes a TIFF header, rewritten here), then the three IFDs (exif and gps may be empty: then
  // no pointer to them is written), IFD0 first, which the header then names; `next`: IFD0's next-IFD offset.
  std::vector<std::uint8_t> write(std::vector<std::uint8_t> prefix, std::vector<Entry> ifd0,
                                  const std::vector<Entry>& exif, const std::vector<Entry>& gps,
                                  std::uint32_t next = 0) {
    const auto ifd_bytes = [](std::size_t n) { return 2 + 12 * n + 4; };
    const std::size_t extra0 = (exif.empty() ? 0 : 1) + (gps.empty() ? 0 : 1);  // the pointer entries
    out_ = std::move(prefix);
    if (out_.size() % 2 != 0) out_.push_back(0);
    const std::size_t ifd0_at = out_.size(), exif_at = ifd0_at + ifd_bytes(ifd0.size() + extra0),
                      gps_at = exif_at + (exif.empty() ? 0 : ifd_bytes(exif.size())),
                      data_at = gps_at + (gps.empty() ? 0 : ifd_bytes(gps.size()));
    out_.resize(data_at, 0);
    out_[0] = out_[1] = big_endian_ ? 'M' : 'I';
    put16(2, 42);
    put32(4, std::uint32_t(ifd0_at));
    std::vector<std::uint8_t> pointers(8);  // the pointer entries' values, in this blob's byte order
    if (!exif.empty()) ifd0.push_back(pointer_entry(kExifIfdTag, exif_at, &pointers, 0));
    if (!gps.empty()) ifd0.push_back(pointer_entry(kGpsIfdTag, gps_at, &pointers, 4));
    write_ifd(ifd0_at, ifd0, next);
    if (!exif.empty()) write_ifd(exif_at, exif);
    if (!gps.empty()) write_ifd(gps_at, gps);
    out_.insert(out_.end(), area_.begin(), area_.end());
    return std::move(out_);
  }

 private:
  Entry pointer_entry(std::uint32_t tag, std::size_t at, std::vector<std::uint8_t>* hold, std::size_t slot) const {
    store_uint(*hold, slot, std::uint32_t(at), 4, big_endian_);
    return Entry{tag, kTypeLong, 1, std::span<const std::uint8_t>(hold->data() + slot, 4)};
  }
  void put16(std::size_t at, std::uint32_t v) { store_uint(out_, at, v, 2, big_endian_); }
  void put32(std::size_t at, std::uint32_t v) { store_uint(out_, at, v, 4, big_endian_); }
  // Entries in ascending tag order (TIFF 6.0 requires it); long values go to the area after the IFDs.
  void write_ifd(std::size_t at, std::vector<Entry> entries, std::uint32_t next = 0) {  // (a copy: sorted here)
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.tag < b.tag; });
    put16(at, std::uint32_t(entries.size()));
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const Entry& e = entries[i];
      const std::size_t field = at + 2 + 12 * i;
      put16(field, e.tag);
      put16(field + 2, e.type);
      put32(field + 4, e.count);
      if (e.raw_field || e.value.size() <= 4) {
        std::memcpy(out_.data() + field + 8, e.value.data(), e.value.size());
      } else {
        if (area_.size() % 2 != 0) area_.push_back(0);
        put32(field + 8, std::uint32_t(out_.size() + area_.size()));
        area_.insert(area_.end(), e.value.begin(), e.value.end());
      }
    }
    put32(at + 2 + 12 * entries.size(), next);
  }

  bool big_endian_;
  std::vector<std::uint8_t> out_, area_;
};

void sort_unique(std::vector<Entry>* ifd) {
  std::stable_sort(ifd->begin(), ifd->end(), [](const Entry& a, const Entry& b) { return a.tag < b.tag; });
  ifd->erase(std::unique(ifd->begin(), ifd->end(), [](const Entry& a, const Entry& b) { return a.tag == b.tag; }),
             ifd->end());
}

// The carried parts of the structure `t`; false when its header or IFD0 cannot be read. An EXIF or GPS IFD that
// cannot be read is left empty.
bool read_carried(TiffStructure& t, CarriedParts* parts) {
  std::uint64_t ifd0_at = 0;
  std::vector<Entry>& ifd0 = parts->ifd0;
  if (!t.read_header(&ifd0_at) || !read_ifd(t, ifd0_at, &ifd0)) return false;
  const std::uint64_t exif_at = pointer(t, ifd0, kExifIfdTag), gps_at = pointer(t, ifd0, kGpsIfdTag);
  if (exif_at != 0 && !read_ifd(t, exif_at, &parts->exif)) parts->exif.clear();
  if (gps_at != 0 && !read_ifd(t, gps_at, &parts->gps)) parts->gps.clear();
  // Entries that point elsewhere in the file (sub-IFDs: Interoperability, or pointers a hostile file aims back at
  // IFD0) would point at nothing, or back into the blob, once copied; a tag given twice keeps its first entry.
  for (std::vector<Entry>* ifd : {&parts->exif, &parts->gps}) {
    std::erase_if(*ifd, [](const Entry& e) {
      return e.type == 13 || e.tag == kExifIfdTag || e.tag == kGpsIfdTag || e.tag == 0xA005 || e.tag == 0x014A;
    });
    sort_unique(ifd);
  }
  std::erase_if(ifd0, [](const Entry& e) {
    return std::find(std::begin(kDescriptiveTags), std::end(kDescriptiveTags), e.tag) == std::end(kDescriptiveTags);
  });
  sort_unique(&ifd0);
  return true;
}

}  // namespace

std::vector<std::uint8_t> exif_from_tiff_file(std::span<const std::uint8_t> file) {
  TiffStructure t(file);
  CarriedParts parts;
  if (!read_carried(t, &parts)) return {};
  // Resolution and Software describe nearly every TIFF and its writer: alone, they are not worth an EXIF blob.
  const bool described = std::any_of(parts.ifd0.begin(), parts.ifd0.end(), [](const Entry& e) {
    return std::find(std::begin(kWriterTags), std::end(kWriterTags), e.tag) == std::end(kWriterTags);
  });
  if (!described && parts.exif.empty() && parts.gps.empty()) return {};
  std::vector<Entry>& exif = parts.exif;
  const std::size_t pointers = (exif.empty() ? 0 : 1) + (parts.gps.empty() ? 0 : 1);
  if (blob_size(8, parts.ifd0, pointers, exif, parts.gps) > kMaxBlob)
    std::erase_if(exif, [](const Entry& e) { return e.tag == kMakerNoteTag; });
  if (blob_size(8, parts.ifd0, pointers, exif, parts.gps) > kMaxBlob) return {};
  std::vector<std::uint8_t> header{0, 0, 42, 0, 0, 0, 0, 0};  // (byte order and IFD0's offset written below)
  std::vector<std::uint8_t> blob = BlobWriter(t.big_endian()).write(std::move(header), parts.ifd0, exif, parts.gps);
  RESR_ASSERT(blob.size() <= kMaxBlob);
  return blob;
}

bool exif_is_big_endian(std::span<const std::uint8_t> exif) {
  return exif.size() >= 2 && exif[0] == 'M' && exif[1] == 'M';
}

std::vector<std::uint8_t> tiff_file_with_exif(std::vector<std::uint8_t> file, std::span<const std::uint8_t> exif) {
  CarriedParts parts;
  TiffStructure blob(exif);
  if (!read_carried(blob, &parts)) return file;
  std::vector<Entry> ifd0;
  std::uint32_t next = 0;
  TiffStructure out(file);
  std::uint64_t ifd0_at = 0;  // IFD0 of the file as it stands, its fields raw
  if (!out.read_header(&ifd0_at) || !read_ifd(out, ifd0_at, &ifd0, true, &next) ||
      out.big_endian() != blob.big_endian())
    return file;
  std::erase_if(ifd0, [](const Entry& e) { return e.tag == kExifIfdTag || e.tag == kGpsIfdTag; });
  // ComponentsConfiguration and CompressedBitsPerPixel describe a JPEG's compressed data (EXIF 2.3 4.6.5): not
  // this file's.
  std::erase_if(parts.exif, [](const Entry& e) { return e.tag == 0x9101 || e.tag == 0x9102; });
  const std::size_t own = ifd0.size();
  for (const Entry& e : parts.ifd0) {  // the file's own tags stand; the input's writer tags are not this file's
    const bool writer = std::find(std::begin(kWriterTags), std::end(kWriterTags), e.tag) != std::end(kWriterTags);
    if (!writer && std::none_of(ifd0.begin(), ifd0.begin() + long(own), [&](const Entry& o) { return o.tag == e.tag; }))
      ifd0.push_back(e);
  }
  if (ifd0.size() == own && parts.exif.empty() && parts.gps.empty()) return file;
  const std::size_t pointers = (parts.exif.empty() ? 0 : 1) + (parts.gps.empty() ? 0 : 1);
  // What is added holds each of the blob's values once at most, unless entries share one (a hostile blob aims many
  // at one large value): more than twice the blob, with the file's IFD0 and padding, is refused.
  const std::uint64_t size = blob_size(file.size() + 1, ifd0, pointers, parts.exif, parts.gps);
  if (ifd0.size() + pointers > kMaxEntries || size > 0xFFFFFFFFu ||
      size - file.size() > 2 * std::uint64_t(exif.size()) + 12 * std::uint64_t(own) + 64)
    return file;
  // The file's own entries point into `file`, which is grown below (moving its bytes) and then taken over by the
  // writer: hold their fields apart first.
  std::vector<std::uint8_t> fields(4 * own);
  for (std::size_t i = 0; i < own; ++i) {
    std::memcpy(fields.data() + 4 * i, ifd0[i].value.data(), 4);
    ifd0[i].value = std::span<const std::uint8_t>(fields.data() + 4 * i, 4);
  }
  try {
    file.reserve(std::size_t(size));  // grown once, not copied at each step: the file may be gigabytes
  } catch (...) {                     // bad_alloc: the file goes without EXIF
    return file;
  }
  return BlobWriter(blob.big_endian()).write(std::move(file), ifd0, parts.exif, parts.gps, next);
}

}  // namespace resr::image_detail
