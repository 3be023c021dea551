// Running the resr binary from tests: exit code, stdout and stderr of one command line.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "support/slurp.h"

namespace resr::test {

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs `resr ARGS` with stdout/stderr captured through files in `scratch` (removed afterwards).
inline RunResult run_resr(const std::filesystem::path& scratch, const std::string& args) {
  const std::filesystem::path out = scratch / "stdout.txt", err = scratch / "stderr.txt";
  const std::string cmd = std::string(RESR_BINARY) + " " + args + " >" + out.string() + " 2>" + err.string();
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return r;
}

}  // namespace resr::test
