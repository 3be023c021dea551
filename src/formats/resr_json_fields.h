// Typed, range-checked access to the fields of an untrusted JSON object (the .resr sections). nlohmann's own
// accessors throw, or convert silently (1e300 to int is undefined), so every read goes through these: each
// checks presence, type and range, and names the field in its error ("node 3 'conv': 'stride' must be an
// integer in [1, 8]").
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"

namespace resr::formats::resr_sections {

class JsonFields {
 public:
  static constexpr std::size_t kMaxString = 4096;

  // `where` prefixes every error ("graph: node 3 'conv'"); is_object() checks that obj is an object.
  JsonFields(const nlohmann::json& obj, std::string where) : obj_(obj), where_(std::move(where)) {}

  Status is_object() const { return obj_.is_object() ? Status() : error("", "must be a JSON object"); }
  bool has(const char* key) const { return obj_.contains(key); }
  const std::string& where() const { return where_; }

  Status get(const char* key, const nlohmann::json** out) const {
    auto it = obj_.find(key);
    if (it == obj_.end()) return error(key, "is missing");
    *out = &*it;
    return {};
  }
  Status get_int(const char* key, std::int64_t lo, std::int64_t hi, std::int64_t* out) const {
    const nlohmann::json* v = nullptr;
    RESR_RETURN_IF_ERROR(get(key, &v));
    return to_int(*v, key, lo, hi, out);
  }
  template <class Int>
  Status get_int(const char* key, std::int64_t lo, std::int64_t hi, Int* out) const {
    std::int64_t v = 0;
    RESR_RETURN_IF_ERROR(get_int(key, lo, hi, &v));
    *out = static_cast<Int>(v);
    return {};
  }
  Status get_float(const char* key, float* out) const {
    const nlohmann::json* v = nullptr;
    RESR_RETURN_IF_ERROR(get(key, &v));
    return to_float(*v, key, out);
  }
  Status get_double(const char* key, double* out) const {
    const nlohmann::json* v = nullptr;
    RESR_RETURN_IF_ERROR(get(key, &v));
    if (!v->is_number() || !std::isfinite(v->get<double>())) return error(key, "must be a finite number");
    *out = v->get<double>();
    return {};
  }
  Status get_bool(const char* key, bool* out) const {
    const nlohmann::json* v = nullptr;
    RESR_RETURN_IF_ERROR(get(key, &v));
    if (!v->is_boolean()) return error(key, "must be true or false");
    *out = v->get<bool>();
    return {};
  }
  Status get_string(const char* key, std::string* out) const {
    const nlohmann::json* v = nullptr;
    RESR_RETURN_IF_ERROR(get(key, &v));
    if (!v->is_string()) return error(key, "must be a string");
    const auto& str = v->get_ref<const std::string&>();
    // Strings end up in one-line error messages and in layer listings: no control characters.
    if (str.size() > kMaxString) return error(key, "is longer than " + std::to_string(kMaxString) + " bytes");
    for (char ch : str)
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) return error(key, "contains control characters");
    *out = str;
    return {};
  }
  Status get_array(const char* key, const nlohmann::json** out) const {
    RESR_RETURN_IF_ERROR(get(key, out));
    if (!(*out)->is_array()) return error(key, "must be an array");
    return {};
  }

  Status to_int(const nlohmann::json& v, const std::string& what, std::int64_t lo, std::int64_t hi,
                std::int64_t* out) const {
    bool in_range = false;
    if (v.is_number_unsigned()) {
      const std::uint64_t u = v.get<std::uint64_t>();
      in_range = hi >= 0 && u <= static_cast<std::uint64_t>(hi) && static_cast<std::int64_t>(u) >= lo;
      *out = in_range ? static_cast<std::int64_t>(u) : 0;
    } else if (v.is_number_integer()) {
      *out = v.get<std::int64_t>();
      in_range = *out >= lo && *out <= hi;
    }
    if (!in_range) return error(what, "must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return {};
  }
  Status to_float(const nlohmann::json& v, const std::string& what, float* out) const {
    if (!v.is_number()) return error(what, "must be a number");
    const double d = v.get<double>();
    if (!std::isfinite(d) || std::fabs(d) > double(FLT_MAX)) return error(what, "is not a finite float");
    *out = static_cast<float>(d);
    return {};
  }

  Status error(const std::string& key, const std::string& what) const {
    return Status::error(where_ + (key.empty() ? "" : ": '" + key + "'") + " " + what);
  }

 private:
  const nlohmann::json& obj_;
  std::string where_;
};

}  // namespace resr::formats::resr_sections
