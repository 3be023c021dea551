// Status and Result<T>: how every fallible call across a module boundary reports failure.
//
//   Result<Model> m = load_model(path);
//   if (!m) return m.status().with_context(path);   // "x.param: line 3: unknown layer type 'Foo'"
//
// Messages are one line, lower-case, and name what was wrong; callers prepend where (file, tensor, layer).
// An out-of-memory failure is marked as such (Status::out_of_memory), so that a caller can retry smaller work;
// work stopped on request (Ctrl-C, a progress callback) is marked too (Status::stopped), so that a caller can tell it
// from a failure without reading the message.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace resr {

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status error(std::string message) {
    Status s;
    s.message_ = std::move(message);
    if (s.message_.empty()) s.message_ = "unknown error";
    return s;
  }
  // A failure to get memory (host or device): the same work in smaller pieces may succeed.
  static Status out_of_memory(std::string message) {
    Status s = error(std::move(message));
    s.kind_ = Kind::kOutOfMemory;
    return s;
  }
  // Work stopped on request, not a failure of its input.
  static Status stopped(std::string message) {
    Status s = error(std::move(message));
    s.kind_ = Kind::kStopped;
    return s;
  }
  bool ok() const { return message_.empty(); }
  bool is_out_of_memory() const { return kind_ == Kind::kOutOfMemory; }
  bool is_stopped() const { return kind_ == Kind::kStopped; }
  explicit operator bool() const { return ok(); }
  const std::string& message() const { return message_; }
  // "context: message"; an ok status stays ok.
  Status with_context(std::string_view context) const {
    if (ok()) return *this;
    Status s = error(std::string(context) + ": " + message_);
    s.kind_ = kind_;
    return s;
  }

 private:
  // One byte where a bool out-of-memory mark was, with the same 0 and 1: the layout the video plugin's entry point
  // (video_plugin.h, v2) was built against is unchanged.
  enum class Kind : unsigned char { kError = 0, kOutOfMemory = 1, kStopped = 2 };
  std::string message_;
  Kind kind_ = Kind::kError;
};

inline Status ok_status() {
  return {};
}

// Thrown by Result::value() (and * and ->) of a failed Result, a caller's bug: the message is the failure's, so that
// the bug shows the error it ignored. (It was std::bad_variant_access, which says nothing.)
class BadResultAccess : public std::logic_error {
 public:
  explicit BadResultAccess(const std::string& message) : std::logic_error("value of a failed Result: " + message) {}
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor): return-by-value ergonomics
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).ok()) v_ = Status::error("internal: ok status used as an error");
  }
  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }
  T& value() & {
    check_ok();
    return std::get<T>(v_);
  }
  const T& value() const& {
    check_ok();
    return std::get<T>(v_);
  }
  T&& value() && {
    check_ok();
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  void check_ok() const {
    if (!ok()) throw BadResultAccess(std::get<Status>(v_).message());
  }
  std::variant<T, Status> v_;
};

}  // namespace resr

#define RESR_CONCAT_INNER(a, b) a##b
#define RESR_CONCAT(a, b) RESR_CONCAT_INNER(a, b)

// Returns the status from the enclosing function when `expr` (a Status) failed.
#define RESR_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::resr::Status resr_status_ = (expr);        \
    if (!resr_status_.ok()) return resr_status_; \
  } while (0)

// `RESR_ASSIGN_OR_RETURN(auto x, make_x());` unwraps a Result or returns its status.
#define RESR_ASSIGN_OR_RETURN(lhs, expr) RESR_ASSIGN_OR_RETURN_IMPL(RESR_CONCAT(resr_result_, __LINE__), lhs, expr)
// NOLINTBEGIN(bugprone-macro-parentheses): `lhs` is a declaration such as `auto x`, it cannot be parenthesised.
#define RESR_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)

// For broken invariants only (never for bad input): prints and aborts.
#define RESR_ASSERT(cond)                                                                    \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "resr: internal error: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)
