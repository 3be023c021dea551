// utc_timestamp: the current time as ISO 8601 UTC, "2024-05-01T12:34:56Z": the date stamp of calibration tables
// and .resr files.
#pragma once

#include <ctime>
#include <string>

namespace resr {

inline std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace resr
