// choose_kernel: the ordered-list dispatch shared by the fp32/fp16 (conv3x3_impl) and INT8 (conv3x3_int8_impl)
// convolutions. Entries are tried fastest first; RESR_IMPL=<name or short name> moves the entries it matches to
// the front (when they can run); RESR_VERBOSE=dispatch prints every decline reason and the choice on stderr.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/status.h"

namespace resr::cpu {

struct KernelEntry {
  const char* name;        // full kernel name, as step timing shows it
  const char* short_name;  // RESR_IMPL spelling
};

// declines(i): why entry i cannot run this conv, or nullptr. also_matches(forced, i): extra RESR_IMPL aliases.
// `what` describes the conv in the log ("64->32", "64->32 int8"). Returns the chosen index; the list must end with
// an entry that always runs.
template <typename Declines, typename AlsoMatches>
int choose_kernel(const KernelEntry* entries, int n, Declines declines, AlsoMatches also_matches,
                  const std::string& layer, const std::string& what) {
  const char* forced = std::getenv("RESR_IMPL");
  const char* verbose = std::getenv("RESR_VERBOSE");
  const bool log = verbose != nullptr && std::strstr(verbose, "dispatch") != nullptr;
  auto matches = [&](int i) {
    return std::strcmp(forced, entries[i].name) == 0 || std::strcmp(forced, entries[i].short_name) == 0 ||
           also_matches(forced, i);
  };
  int chosen = -1;
  for (int pass = 0; pass < 2 && chosen < 0; ++pass) {  // forced entries first, then the ordered list
    for (int i = 0; i < n; ++i) {
      if (pass == 0 && (forced == nullptr || !matches(i))) continue;
      const char* why = declines(i);
      if (log && why != nullptr)
        std::fprintf(stderr, "dispatch %s: %s declines: %s\n", layer.c_str(), entries[i].name, why);
      if (why == nullptr) {
        chosen = i;
        break;
      }
    }
  }
  RESR_ASSERT(chosen >= 0);
  if (log) std::fprintf(stderr, "dispatch %s (%s): %s\n", layer.c_str(), what.c_str(), entries[chosen].name);
  return chosen;
}

}  // namespace resr::cpu
