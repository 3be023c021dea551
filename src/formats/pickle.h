// A restricted unpickler for PyTorch state dicts: it understands the pickle opcodes torch.save emits
// (protocols 2-4, plus the protocol 0/1 container opcodes) and builds plain data objects. It never calls
// anything: GLOBAL/STACK_GLOBAL may only name the allow-listed callables below, and REDUCE of an allowed
// callable is interpreted by this code (an OrderedDict becomes a dict; _rebuild_tensor_v2 a Tensor record).
// Every other global (os.system, builtins.eval, builtins.getattr, posix.system, subprocess.*, ...) is refused
// when it is named, with an error naming it, so a malicious file cannot execute code by construction.
//
//   Allowed: collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_tensor,
//            torch._utils._rebuild_parameter, torch._utils._rebuild_parameter_with_state,
//            torch.{Float,Half,BFloat16}Storage (as BINPERSID storage types only).
//   BINPERSID must be ('storage', <storage type>, key: str, location: str, numel: int), or the legacy format's
//   6-tuple with a sixth item None (a storage view's metadata there is refused).
//
//   pickle::Unpickler u;
//   RESR_ASSIGN_OR_RETURN(const pickle::Object* root, u.run(data_pkl_bytes));   // objects live in u
//
// Untrusted input: bounded memo, object count, nesting and sizes; fuzzed (tests/fuzz/fuzz_pth_reader.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace resr::formats::pickle {

enum class Kind { kNone, kBool, kInt, kFloat, kString, kBytes, kTuple, kList, kDict, kGlobal, kStorage, kTensor };

struct Object {
  Kind kind = Kind::kNone;
  std::int64_t i = 0;                                            // kBool, kInt; kStorage: numel
  double f = 0;                                                  // kFloat
  std::string s;                                                 // kString/kBytes; kGlobal "module.name"; kStorage: key
  std::string dtype;                                             // kStorage: "F32", "I64"... (tensor_dtype.h)
  std::vector<const Object*> items;                              // kTuple, kList; kTensor: {storage}
  std::vector<std::pair<const Object*, const Object*>> entries;  // kDict, in insertion order
  std::int64_t storage_offset = 0;                               // kTensor
  std::vector<std::int64_t> size, stride;                        // kTensor
};

const char* kind_name(Kind k);

class Unpickler {
 public:
  // Runs the program to STOP and returns the result; the object graph is owned by this Unpickler. `end`, when
  // given, receives the offset just past STOP (the legacy torch.save format is several pickles in a row).
  [[nodiscard]] Result<const Object*> run(std::span<const std::uint8_t> program, std::size_t* end = nullptr);

  // Every storage record made so far, in order of appearance.
  std::vector<const Object*> storages() const;

 private:
  Object* make(Kind k);
  std::vector<std::unique_ptr<Object>> arena_;
};

}  // namespace resr::formats::pickle
