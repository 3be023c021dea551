// Internal to src/api: a caller's progress callback whose `false` asks the work to stop. The work reports through
// reporter() and polls stopper(); once the callback has said false, stopper() stays true. Both must be called on
// the thread that runs the work (the engine's tile loop, the calibration, the precision search), and this object
// must outlive them.
#pragma once

#include <functional>
#include <utility>

namespace resr::api_detail {

template <class... Args>
class StopOnFalse {
 public:
  explicit StopOnFalse(std::function<bool(Args...)> callback) : callback_(std::move(callback)) {}
  // The reporter and stopper point at this object.
  StopOnFalse(const StopOnFalse&) = delete;
  StopOnFalse& operator=(const StopOnFalse&) = delete;

  // Empty when the caller gave no callback.
  std::function<void(Args...)> reporter() {
    if (!callback_) return {};
    return [this](Args... args) { stopped_ = stopped_ || !callback_(args...); };
  }
  std::function<bool()> stopper() {
    return [this] { return stopped_; };
  }

 private:
  std::function<bool(Args...)> callback_;
  bool stopped_ = false;
};

}  // namespace resr::api_detail
