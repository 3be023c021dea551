#include "video/library_log.h"

extern "C" {
#include <libavutil/log.h>
}

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace resr::video {
namespace {

std::mutex g_mutex;
std::vector<std::string> g_errors;
std::atomic<bool> g_echo{false};
int g_users = 0;
int g_host_level = AV_LOG_INFO;
thread_local HeldLibraryLog* t_held = nullptr;

void add_error(const std::string& text) {
  std::lock_guard lock(g_mutex);
  if (g_errors.size() < 8 && std::find(g_errors.begin(), g_errors.end(), text) == g_errors.end())
    g_errors.push_back(text);
}

// "name: text" without FFmpeg's "[name @ address] " prefix and the trailing newline.
std::string error_text(void* object, int level, const char* format, va_list args) {
  char line[512];
  int prefix = 0;
  av_log_format_line2(object, level, format, args, line, sizeof line, &prefix);
  std::string text(line);
  const AVClass* cls = object != nullptr ? *static_cast<AVClass**>(object) : nullptr;
  if (cls != nullptr && cls->item_name != nullptr) text = std::string(cls->item_name(object)) + ": " + text;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

void callback(void* object, int level, const char* format, va_list args) {
  if (t_held != nullptr) {
    HeldLibraryLog::Message m;
    m.level = level;
    char line[1024];
    int prefix = 1;
    va_list copy;
    va_copy(copy, args);
    av_log_format_line2(object, level, format, copy, line, sizeof line, &prefix);
    va_end(copy);
    m.printed = line;
    if (level <= AV_LOG_ERROR) m.error = error_text(object, level, format, args);
    t_held->messages.push_back(std::move(m));
    return;
  }
  if (g_echo.load()) {
    va_list copy;
    va_copy(copy, args);
    av_log_default_callback(object, level, format, copy);
    va_end(copy);
  }
  if (level <= AV_LOG_ERROR) add_error(error_text(object, level, format, args));
}

}  // namespace

LibraryLog::LibraryLog(bool echo) {
  std::lock_guard lock(g_mutex);
  if (g_users++ == 0) {
    g_errors.clear();
    g_echo = echo;
    g_host_level = av_log_get_level();
    av_log_set_level(echo ? AV_LOG_INFO : AV_LOG_ERROR);
    av_log_set_callback(&callback);
  }
}

LibraryLog::~LibraryLog() {
  std::lock_guard lock(g_mutex);
  if (--g_users == 0) {
    av_log_set_callback(av_log_default_callback);
    av_log_set_level(g_host_level);  // as the process had it
  }
}

std::vector<std::string> LibraryLog::errors() {
  std::lock_guard lock(g_mutex);
  return g_errors;
}

HeldLibraryLog::HeldLibraryLog() : outer_(t_held) {
  t_held = this;
}

HeldLibraryLog::~HeldLibraryLog() {
  t_held = outer_;
  if (!keep_) return;
  for (const Message& m : messages) {
    if (outer_ != nullptr) {
      outer_->messages.push_back(m);
      continue;
    }
    if (g_echo.load() && m.level <= av_log_get_level()) std::fputs(m.printed.c_str(), stderr);
    if (m.level <= AV_LOG_ERROR) add_error(m.error);
  }
}

}  // namespace resr::video
