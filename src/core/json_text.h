// A JSON document (nlohmann::json or ordered_json) as text, for what resr writes: reports, --json outputs. File
// names need not be UTF-8 on Linux: their other bytes are written as U+FFFD, where dump() would throw.
#pragma once

#include <string>

namespace resr {

template <class Json>
std::string json_text(const Json& j, int indent = 2) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace resr
