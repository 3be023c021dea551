#include "formats/onnx_constants.h"

#include <cmath>
#include <cstring>
#include <optional>
#include <string_view>

#include "core/half.h"
#include "formats/weight_map.h"

namespace resr::formats::onnx_detail {

std::string dims_string(const std::vector<std::int64_t>& d) {
  WeightTensor t;
  t.shape = d;
  return t.shape_string();
}

Result<std::int64_t> checked_numel(const std::vector<std::int64_t>& dims) {
  std::int64_t n = 1;
  for (std::int64_t d : dims) {
    if (d < 0 || (d != 0 && n > kMaxElements / d))
      return Status::error("tensor size " + dims_string(dims) + " is too large");
    n *= d;
  }
  return n;
}

namespace {

template <class T>
Status from_raw(std::string_view raw, std::int64_t n, std::vector<double>& out) {
  if (raw.size() != std::size_t(n) * sizeof(T))
    return Status::error("raw data holds " + std::to_string(raw.size()) + " bytes, expected " +
                         std::to_string(std::size_t(n) * sizeof(T)));
  out.resize(std::size_t(n));
  for (std::int64_t i = 0; i < n; ++i) {
    T x;
    std::memcpy(&x, raw.data() + i * sizeof(T), sizeof(T));
    out[std::size_t(i)] = double(x);
  }
  return {};
}

}  // namespace

Result<Const> to_const(const onnx::TensorProto& t, ExternalData* external) {
  // The raw bytes: in the tensor, or read in place from the mapped external file (not copied into the tensor first,
  // which with the doubles below held the weights about four times over).
  std::optional<std::string_view> raw;
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    if (external == nullptr) return Status::error("tensor '" + t.name() + "': external data is not supported here");
    auto bytes = external->bytes_of(t);
    if (!bytes) return bytes.status().with_context("tensor '" + t.name() + "'");
    raw = std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  } else if (t.has_raw_data()) {
    raw = t.raw_data();
  }
  Const c;
  c.dims.assign(t.dims().begin(), t.dims().end());
  RESR_ASSIGN_OR_RETURN(std::int64_t n, checked_numel(c.dims));
  // The values stored raw (as raw_type's type) or else in `field`, one of the repeated *_data fields.
  auto read = [&](auto raw_type, const auto& field, std::vector<double>& out) -> Status {
    if (raw) {
      Status st = from_raw<decltype(raw_type)>(*raw, n, out);
      return st.ok() ? st : st.with_context("tensor '" + t.name() + "'");
    }
    if (field.size() != n)
      return Status::error("tensor '" + t.name() + "': holds " + std::to_string(field.size()) + " values, shape " +
                           dims_string(c.dims) + " needs " + std::to_string(n));
    out.assign(field.begin(), field.end());
    return {};
  };
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      RESR_RETURN_IF_ERROR(read(float{}, t.float_data(), c.v));
      break;
    case onnx::TensorProto::DOUBLE:
      RESR_RETURN_IF_ERROR(read(double{}, t.double_data(), c.v));
      break;
    case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16: {
      std::vector<double> bits;
      RESR_RETURN_IF_ERROR(read(std::uint16_t{}, t.int32_data(), bits));
      const bool half = t.data_type() == onnx::TensorProto::FLOAT16;
      for (double b : bits) {
        const auto h = std::uint16_t(std::int64_t(b) & 0xffff);
        c.v.push_back(half ? half_to_float(h) : bf16_to_float(h));
      }
      break;
    }
    case onnx::TensorProto::INT64:
      c.is_int = true;
      RESR_RETURN_IF_ERROR(read(std::int64_t{}, t.int64_data(), c.v));
      break;
    case onnx::TensorProto::INT32:
      c.is_int = true;
      RESR_RETURN_IF_ERROR(read(std::int32_t{}, t.int32_data(), c.v));
      break;
    default:
      return Status::error("tensor '" + t.name() + "': data type " + std::to_string(t.data_type()) +
                           " is not supported");
  }
  for (double x : c.v)
    if (!std::isfinite(x)) return Status::error("tensor '" + t.name() + "': non-finite value");
  return c;
}

std::vector<std::int64_t> drop_ones(const std::vector<std::int64_t>& d) {
  std::vector<std::int64_t> out;
  for (std::int64_t x : d)
    if (x != 1) out.push_back(x);
  return out;
}

Result<std::vector<std::int64_t>> reshape_target(const std::vector<std::int64_t>& from, const Const& shape) {
  RESR_ASSIGN_OR_RETURN(std::int64_t total, checked_numel(from));
  std::vector<std::int64_t> to;
  int infer = -1;
  std::int64_t known = 1;
  if (shape.v.size() > 8) return Status::error("reshape to too many dims");
  for (std::size_t i = 0; i < shape.v.size(); ++i) {
    auto d = std::int64_t(shape.v[i]);
    if (d == 0) {
      if (i >= from.size()) return Status::error("reshape copies a dim that does not exist");
      d = from[i];
    }
    if (d == -1) {
      if (infer >= 0) return Status::error("reshape with two -1 dims");
      infer = int(i);
      d = 1;
    } else if (d < 0 || d > kMaxElements) {
      return Status::error("bad reshape dim");
    }
    to.push_back(d);
    if (d != 0 && known > kMaxElements / d) return Status::error("reshape too large");
    known *= d;
  }
  if (infer >= 0) {
    if (known == 0 || total % known != 0) return Status::error("reshape -1 cannot be inferred");
    to[std::size_t(infer)] = total / known;
    known = total;
  }
  if (known != total)
    return Status::error("reshape from " + dims_string(from) + " to " + dims_string(to) + " changes the size");
  return to;
}

}  // namespace resr::formats::onnx_detail
