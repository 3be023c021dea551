// Test helpers: hand-assembled pickle programs and stored (uncompressed) zip archives, so the readers can be
// fed exactly the bytes a test needs (malicious globals, truncations, odd strides) without Python.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace resr::test {

using Bytes = std::vector<std::uint8_t>;

// Builds protocol-2 pickle programs opcode by opcode.
class PickleWriter {
 public:
  PickleWriter& proto() { return op(0x80).byte(2); }
  PickleWriter& op(std::uint8_t o) { return byte(o); }
  PickleWriter& byte(std::uint8_t b) {
    out.push_back(b);
    return *this;
  }
  PickleWriter& raw(const std::string& s) {
    out.insert(out.end(), s.begin(), s.end());
    return *this;
  }
  PickleWriter& global(const std::string& module, const std::string& name) {
    return op('c').raw(module + "\n" + name + "\n");
  }
  PickleWriter& str(const std::string& s) {
    op('X');
    for (int i = 0; i < 4; ++i) byte(std::uint8_t(s.size() >> (8 * i)));
    return raw(s);
  }
  PickleWriter& integer(std::int32_t v) {
    op('J');
    for (int i = 0; i < 4; ++i) byte(std::uint8_t(std::uint32_t(v) >> (8 * i)));
    return *this;
  }
  // BININT where it fits, else LONG1 (8 little-endian bytes).
  PickleWriter& number(std::int64_t v) {
    if (v >= INT32_MIN && v <= INT32_MAX) return integer(std::int32_t(v));
    op(0x8a).byte(8);
    for (int i = 0; i < 8; ++i) byte(std::uint8_t(std::uint64_t(v) >> (8 * i)));
    return *this;
  }
  PickleWriter& mark() { return op('('); }
  PickleWriter& tuple() { return op('t'); }
  PickleWriter& empty_tuple() { return op(')'); }
  PickleWriter& reduce() { return op('R'); }
  PickleWriter& stop() { return op('.'); }
  // ('storage', torch.<type>, key, 'cpu', numel) BINPERSID
  PickleWriter& storage(const std::string& type, const std::string& key, std::int64_t numel) {
    mark().str("storage").global("torch", type).str(key).str("cpu").number(numel).tuple();
    return op('Q');
  }
  // _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())
  PickleWriter& tensor(const std::string& type, const std::string& key, std::int64_t numel, std::int64_t offset,
                       const std::vector<int>& size, const std::vector<int>& stride) {
    global("torch._utils", "_rebuild_tensor_v2").mark();
    storage(type, key, numel).number(offset).mark();
    for (int s : size) integer(s);
    tuple().mark();
    for (int s : stride) integer(s);
    tuple().op(0x89).global("collections", "OrderedDict").empty_tuple().reduce().tuple();
    return reduce();
  }
  Bytes out;
};

// A zip archive with stored entries (what torch.save writes, minus alignment padding).
inline Bytes make_zip(const std::vector<std::pair<std::string, Bytes>>& entries) {
  Bytes z, dir;
  auto u16 = [](Bytes& b, std::uint32_t v) {
    b.push_back(std::uint8_t(v));
    b.push_back(std::uint8_t(v >> 8));
  };
  auto u32 = [&](Bytes& b, std::uint32_t v) {
    u16(b, v & 0xffff);
    u16(b, v >> 16);
  };
  for (const auto& [name, data] : entries) {
    const std::uint32_t offset = std::uint32_t(z.size());
    const std::uint32_t crc = std::uint32_t(crc32(0, data.data(), uInt(data.size())));
    u32(z, 0x04034b50);
    u16(z, 20), u16(z, 0), u16(z, 0), u16(z, 0), u16(z, 0);
    u32(z, crc), u32(z, std::uint32_t(data.size())), u32(z, std::uint32_t(data.size()));
    u16(z, std::uint32_t(name.size())), u16(z, 0);
    z.insert(z.end(), name.begin(), name.end());
    z.insert(z.end(), data.begin(), data.end());
    u32(dir, 0x02014b50);
    u16(dir, 20), u16(dir, 20), u16(dir, 0), u16(dir, 0), u16(dir, 0), u16(dir, 0);
    u32(dir, crc), u32(dir, std::uint32_t(data.size())), u32(dir, std::uint32_t(data.size()));
    u16(dir, std::uint32_t(name.size())), u16(dir, 0), u16(dir, 0), u16(dir, 0), u16(dir, 0);
    u32(dir, 0), u32(dir, offset);
    dir.insert(dir.end(), name.begin(), name.end());
  }
  const std::uint32_t dir_offset = std::uint32_t(z.size());
  z.insert(z.end(), dir.begin(), dir.end());
  u32(z, 0x06054b50);
  u16(z, 0), u16(z, 0), u16(z, std::uint32_t(entries.size())), u16(z, std::uint32_t(entries.size()));
  u32(z, std::uint32_t(dir.size())), u32(z, dir_offset), u16(z, 0);
  return z;
}

inline Bytes float_bytes(const std::vector<float>& v) {
  Bytes b(v.size() * 4);
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::uint32_t x;
    static_assert(sizeof x == sizeof v[i]);
    __builtin_memcpy(&x, &v[i], 4);
    for (int k = 0; k < 4; ++k) b[4 * i + std::size_t(k)] = std::uint8_t(x >> (8 * k));
  }
  return b;
}

}  // namespace resr::test
