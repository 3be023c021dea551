// FNV-1a 64 (Fowler/Noll/Vo) over a canonical byte stream of the graph: every integer as 4 or 8 little-endian
// bytes, every float as its IEEE bit pattern (little-endian), every string and array length-prefixed, so the
// hash is the same on every platform and two different graphs cannot share a stream.
#include "ir/fingerprint.h"

#include <cstring>
#include <span>

namespace resr::ir {
namespace {

class Fnv1a {
 public:
  void byte(std::uint8_t b) {
    h_ ^= b;
    h_ *= 0x100000001b3ull;
  }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) byte(std::uint8_t(v >> (8 * i)));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) byte(std::uint8_t(v >> (8 * i)));
  }
  void i32(int v) { u32(static_cast<std::uint32_t>(v)); }
  void f32(float v) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    u32(bits);
  }
  void str(const std::string& s) {
    u64(s.size());
    for (char c : s) byte(static_cast<std::uint8_t>(c));
  }
  void floats(std::span<const float> v) {
    u64(v.size());
    for (float f : v) f32(f);
  }
  void ints(std::span<const int> v) {
    u64(v.size());
    for (int i : v) i32(i);
  }
  std::uint64_t value() const { return h_; }

 private:
  std::uint64_t h_ = 0xcbf29ce484222325ull;  // FNV-1a 64 offset basis
};

}  // namespace

std::uint64_t graph_fingerprint(const Graph& g) {
  Fnv1a h;
  h.str("resr graph v1");
  h.u64(g.values.size());
  for (const Value& v : g.values) {
    h.str(v.name);
    h.i32(v.channels);
    h.i32(v.producer);
  }
  h.i32(g.input);
  h.i32(g.output);
  h.u64(g.nodes.size());
  for (const Node& n : g.nodes) {
    h.i32(static_cast<int>(n.op));
    h.str(n.name);
    h.ints(n.inputs);
    h.i32(n.output);
    const ConvParams& c = n.conv;
    for (int v : {c.in_channels, c.out_channels, c.kernel_h, c.kernel_w, c.stride, c.pad, c.dilation,
                  static_cast<int>(c.activation)})
      h.i32(v);
    h.f32(c.activation_slope);
    h.floats(n.weights);
    h.floats(n.bias);
    h.floats(n.slopes);
    h.floats(n.coeffs);
    h.i32(n.factor);
  }
  return h.value();
}

std::string fingerprint_hex(std::uint64_t fingerprint) {
  static const char digits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, fingerprint >>= 4) s[i] = digits[fingerprint & 0xf];
  return s;
}

}  // namespace resr::ir
