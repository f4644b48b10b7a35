// A small command-line flag parser for the examples: --name value or
// --name=value, typed getters, --help text, and clear errors for unknown
// flags and malformed values.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace mpq::examples {

class Args {
 public:
  Args(std::string program, std::string summary)
      : program_(std::move(program)), summary_(std::move(summary)) {}

  // Declares a flag with its default (as text) and help line.
  void add(const std::string& name, const std::string& default_value, const std::string& help);
  // Declares a switch: a flag without a value, false unless given.
  void add_switch(const std::string& name, const std::string& help);
  // Parses argv; returns false when --help was given (the help is printed).
  // Throws mpq::Error for an unknown flag, a missing value or a repeated flag.
  bool parse(int argc, char** argv);

  // Reads section [section] of an INI file (key = value lines; lines starting
  // with # or ; are comments)
  // and uses its values for the flags not given on the command line. Keys are
  // flag names without the dashes; an unknown key, a key set twice in a
  // section, a section that appears twice, a key of `command_line_only` (flags
  // read before the file is) or a missing section is an error naming the file
  // and line.
  void load_ini(const std::string& path, const std::string& section,
                const std::set<std::string>& command_line_only = {});

  // Every flag's current value (switches as "true"/"false"), for saving a run's configuration.
  std::map<std::string, std::string> values() const;
  // Uses `saved` values for the flags not given on the command line (like load_ini).
  void apply_saved(const std::map<std::string, std::string>& saved);

  std::string str(const std::string& name) const;
  bool on(const std::string& name) const;     // a switch was given
  bool given(const std::string& name) const;  // a flag was given on the command line
  std::int64_t integer(const std::string& name, std::int64_t min, std::int64_t max) const;
  double real(const std::string& name, double min, double max) const;
  std::string help() const;

 private:
  struct Flag {
    std::string value, default_value, help;
    bool set = false;
    bool is_switch = false;
  };
  std::string program_, summary_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> order_;
};

// Runs a program's body and turns errors into the examples' exit codes: a
// diverged training run (train::Diverged: a non-finite loss, gradient or
// quantizer range) prints "error: ..." and exits 3, any other mpq::Error (bad
// input, bad flags) exits 2, any other exception exits 1.
int run_main(int (*body)(int, char**), int argc, char** argv);

}  // namespace mpq::examples
