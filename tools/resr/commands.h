// The resr subcommands. Each add_<name>_command registers its options on `app` and, when chosen on the
// command line, stores in `*action` the function main() runs after parsing; that function returns the exit
// code and prints errors as one line ("resr: <file>: <problem>").
#pragma once

#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace resr::cli {

using Action = std::function<int()>;

void add_info_command(CLI::App& app, Action* action);
void add_upscale_command(CLI::App& app, Action* action);
void add_bench_command(CLI::App& app, Action* action);
void add_eval_command(CLI::App& app, Action* action);
void add_convert_command(CLI::App& app, Action* action);
void add_calibrate_command(CLI::App& app, Action* action);

// Prints "resr: <message>" on stderr as one line: control characters in it (a file name with a newline) are shown
// as escapes ("\n", "\x1b"), where they split the line or moved the terminal's cursor.
void say(const std::string& message);

// say(message), and the failure exit code.
int fail(const std::string& message);

}  // namespace resr::cli
