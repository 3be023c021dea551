#include "formats/pth_legacy.h"

#include <algorithm>
#include <map>
#include <string>

#include "formats/pickle.h"
#include "formats/pth_state_dict.h"
#include "formats/tensor_dtype.h"

namespace resr::formats {
namespace {

using pickle::Kind;
using pickle::Object;

// torch.save's first pickle: PROTO 2 to 5 (from 4 on a FRAME follows), then LONG1 of 10 bytes holding
// 0x1950a86a20f9469cfc6c little-endian, then STOP.
constexpr std::uint8_t kMagicLong[] = {0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
constexpr std::int64_t kLegacyProtocolVersion = 1001;

// The offset just past the magic pickle, or 0 when the bytes do not start with it.
std::size_t magic_pickle_end(std::span<const std::uint8_t> b) {
  if (b.size() < 2 || b[0] != 0x80 || b[1] < 2 || b[1] > 5) return 0;
  std::size_t pos = 2;
  if (b[1] >= 4 && b.size() > pos && b[pos] == 0x95) pos += 9;  // FRAME and its 8-byte length
  if (b.size() < pos + sizeof kMagicLong) return 0;
  return std::equal(std::begin(kMagicLong), std::end(kMagicLong), b.begin() + long(pos)) ? pos + sizeof kMagicLong : 0;
}

// Runs one pickle from `pos` and moves `pos` past it.
Result<const Object*> next_pickle(pickle::Unpickler& u, std::span<const std::uint8_t> bytes, std::size_t& pos,
                                  const char* what) {
  std::size_t used = 0;
  auto o = u.run(bytes.subspan(pos), &used);
  if (!o) return o.status().with_context(what);
  pos += used;
  return o;
}

const Object* dict_value(const Object& dict, const std::string& key) {
  for (const auto& [k, v] : dict.entries)
    if (k->kind == Kind::kString && k->s == key) return v;
  return nullptr;
}

Status check_header(std::span<const std::uint8_t> bytes, std::size_t& pos) {
  pickle::Unpickler u;
  RESR_ASSIGN_OR_RETURN(const Object* version, next_pickle(u, bytes, pos, "protocol version"));
  if (version->kind != Kind::kInt || version->i != kLegacyProtocolVersion)
    return Status::error("unsupported legacy torch.save protocol version (expected 1001)");
  RESR_ASSIGN_OR_RETURN(const Object* info, next_pickle(u, bytes, pos, "sys_info"));
  if (info->kind != Kind::kDict) return Status::error("sys_info is not a dict");
  const Object* little = dict_value(*info, "little_endian");
  if (little != nullptr && little->kind == Kind::kBool && little->i == 0)
    return Status::error("big-endian checkpoints are not supported");
  return {};
}

}  // namespace

bool looks_like_legacy_pth(std::span<const std::uint8_t> head) {
  return magic_pickle_end(head) != 0;
}

Result<WeightMap> parse_legacy_pth(std::span<const std::uint8_t> bytes) {
  std::size_t pos = magic_pickle_end(bytes);
  if (pos == 0) return Status::error("not a legacy torch.save file (no magic number)");
  RESR_RETURN_IF_ERROR(check_header(bytes, pos));
  pickle::Unpickler object_pickle;
  RESR_ASSIGN_OR_RETURN(const Object* root, next_pickle(object_pickle, bytes, pos, "the pickled object"));
  // Each key's element type, from its references; the data records below are sized by it.
  std::map<std::string, std::string> dtype_of;
  for (const Object* s : object_pickle.storages()) {
    auto [it, added] = dtype_of.emplace(s->s, s->dtype);
    if (!added && it->second != s->dtype)
      return Status::error("storage '" + s->s + "' is referenced as both " + it->second + " and " + s->dtype);
  }
  pickle::Unpickler keys_pickle;
  RESR_ASSIGN_OR_RETURN(const Object* keys, next_pickle(keys_pickle, bytes, pos, "the storage keys"));
  if (keys->kind != Kind::kList) return Status::error("the storage keys are not a list");
  std::map<std::string, std::span<const std::uint8_t>> data_of;
  for (const Object* key : keys->items) {
    if (key->kind != Kind::kString) return Status::error("a storage key is not a string");
    auto dtype = dtype_of.find(key->s);
    if (dtype == dtype_of.end()) return Status::error("storage '" + key->s + "' is listed but never referenced");
    if (data_of.count(key->s) != 0) return Status::error("storage '" + key->s + "' is listed twice");
    if (bytes.size() - pos < 8) return Status::error("truncated: storage '" + key->s + "' has no size");
    std::uint64_t numel = 0;
    for (int k = 7; k >= 0; --k) numel = (numel << 8) | bytes[pos + std::size_t(k)];
    pos += 8;
    const std::size_t es = dtype_size(dtype->second);
    if (numel > (bytes.size() - pos) / es)
      return Status::error("truncated: storage '" + key->s + "' declares " + std::to_string(numel) +
                           " elements, the file has " + std::to_string(bytes.size() - pos) + " bytes left");
    data_of.emplace(key->s, bytes.subspan(pos, std::size_t(numel) * es));
    pos += std::size_t(numel) * es;
  }
  return state_dict_weights(root, [&](const Object& storage) -> Result<std::span<const std::uint8_t>> {
    auto it = data_of.find(storage.s);
    if (it == data_of.end()) return Status::error("storage '" + storage.s + "' has no data in the file");
    return it->second;
  });
}

}  // namespace resr::formats
