// resr: the command-line tool. Subcommands are listed here, in the order `resr --help` shows them.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <string_view>

#include "commands.h"
#include "core/openmp_threads.h"
#include "engine/backend_factory.h"

namespace resr::cli {

void say(const std::string& message) {
  std::string line = "resr: ";
  for (const char c : message) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte == '\n') {
      line += "\\n";
    } else if (byte < 0x20 || byte == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      line += escaped;
    } else {
      line += c;
    }
  }
  line += '\n';
  std::fputs(line.c_str(), stderr);
}

int fail(const std::string& message) {
  say(message);
  return 1;
}

}  // namespace resr::cli

namespace {

// CLI11 checks for missing options before arguments no option takes, so `resr upscale --fo x` said "--input is
// required". The misspelt option is the likelier mistake: parse again without requirements and report what that
// finds, else the missing option.
std::string error_beside_missing_options(CLI::App& app, int argc, char** argv, const std::string& missing) {
  for (CLI::App* sub : app.get_subcommands({}))
    for (CLI::Option* option : sub->get_options()) option->required(false);
  app.clear();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  return missing;
}

int run_cli(int argc, char** argv) {
  using namespace resr::cli;
  CLI::App app{"resr: Real-ESRGAN super-resolution on CPU (and GPU), from model files as people have them"};
  app.require_subcommand(1);
  app.set_version_flag(
      "--version", std::string("resr ") + RESR_VERSION_STRING + " (backends: " + resr::engine::built_backends() + ")");
  Action action;
  add_upscale_command(app, &action);
  add_info_command(app, &action);
  add_bench_command(app, &action);
  add_eval_command(app, &action);
  add_convert_command(app, &action);
  add_calibrate_command(app, &action);
  // A first word that names no command: said so (CLI11 only says that a command is required).
  if (argc > 1 && argv[1][0] != '-') {
    std::string names;
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands({})) {
      known = known || sub->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) return fail("unknown command '" + std::string(argv[1]) + "' (commands: " + names + ")");
  }
  for (int i = 1; i < argc; ++i)  // Real-ESRGAN's "-dn 0.5": CLI11 takes only one-letter short options
    if (std::string_view(argv[i]) == "-dn") argv[i] = const_cast<char*>("--dn");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::RequiredError& e) {
    return fail(error_beside_missing_options(app, argc, argv, e.what()) + " (see resr --help)");
  } catch (const CLI::ParseError& e) {
    return fail(std::string(e.what()) + " (see resr --help)");
  }
  try {
    return action ? action() : fail("no command given");
  } catch (const std::bad_alloc&) {
    return fail("out of memory (try a smaller image or tile size)");
  } catch (const std::exception& e) {
    return fail(std::string("internal error: ") + e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  resr::cap_openmp_threads("resr");
  try {  // what escapes run_cli (building the command table) still ends in one line
    return run_cli(argc, argv);
  } catch (...) {
    return resr::cli::fail("internal error while setting up the command line");
  }
}
