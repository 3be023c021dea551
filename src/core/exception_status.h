// The exception in flight as a Status, for code on its own threads, where an exception that escapes ends the
// process: out of memory (marked, Status::out_of_memory) or anything else as an internal error. Call it only
// inside a catch block.
//
//   try { ... } catch (...) { return current_exception_status(); }
#pragma once

#include <exception>
#include <new>
#include <string>

#include "core/status.h"

namespace resr {

inline Status current_exception_status() {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return Status::out_of_memory("out of memory");
  } catch (const std::exception& e) {
    return Status::error(std::string("internal error: ") + e.what());
  } catch (...) {
    return Status::error("internal error: an unknown exception");
  }
}

}  // namespace resr
