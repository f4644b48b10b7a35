#include "examples/args.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/error.h"
#include "train/distributed.h"
#include "train/diverged.h"

namespace mpq::examples {

void Args::add(const std::string& name, const std::string& default_value, const std::string& help) {
  flags_[name] = {default_value, default_value, help, false};
  order_.push_back(name);
}

void Args::add_switch(const std::string& name, const std::string& help) {
  flags_[name] = {"", "", help, false, true};
  order_.push_back(name);
}

void Args::load_ini(const std::string& path, const std::string& section,
                    const std::set<std::string>& command_line_only) {
  std::ifstream in(path);
  MPQ_CHECK(in.good(), program_, ": cannot open the experiment file '", path, "'");
  auto trim = [](std::string t) {
    const auto b = t.find_first_not_of(" \t\r"), e = t.find_last_not_of(" \t\r");
    return b == std::string::npos ? std::string() : t.substr(b, e - b + 1);
  };
  std::string line, current;
  std::vector<std::string> sections;
  std::map<std::string, int> section_line, key_line;  // first line of each
  bool found = false;
  for (int n = 1; std::getline(in, line); ++n) {
    line = trim(line);
    if (n == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line = trim(line.substr(3));  // UTF-8 BOM
    if (line.empty() || line.front() == '#' || line.front() == ';')
      continue;  // whole-line comments only
    if (line.front() == '[') {
      MPQ_CHECK(line.back() == ']', path, ":", n, ": malformed section header '", line, "'");
      current = trim(line.substr(1, line.size() - 2));
      MPQ_CHECK(section_line.emplace(current, n).second, path, ":", n, ": section [", current,
                "] appears twice (first on line ", section_line[current], ")");
      sections.push_back(current);
      found = found || current == section;
      continue;
    }
    const auto eq = line.find('=');
    MPQ_CHECK(eq != std::string::npos, path, ":", n, ": expected 'key = value', got '", line, "'");
    if (current != section) continue;
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    auto it = flags_.find(key);
    MPQ_CHECK(it != flags_.end() && key != "config" && key != "experiment", path, ":", n,
              ": unknown setting '", key, "' (settings are the flags of ", program_,
              " without the dashes)");
    MPQ_CHECK(!command_line_only.count(key), path, ":", n, ": '", key,
              "' cannot be set in an experiment file; give --", key, " on the command line");
    MPQ_CHECK(key_line.emplace(key, n).second, path, ":", n, ": '", key, "' is set twice in [",
              section, "] (first on line ", key_line[key], ")");
    if (it->second.set) continue;  // the command line wins
    if (it->second.is_switch) {
      MPQ_CHECK(value == "true" || value == "false", path, ":", n, ": '", key,
                "' takes true or false");
      it->second.set = value == "true";
    } else {
      it->second.value = value;
    }
  }
  std::string known;
  for (const auto& sct : sections) known += (known.empty() ? "" : ", ") + sct;
  MPQ_CHECK(found, path, ": no experiment [", section, "] (it has: ", known, ")");
}

std::map<std::string, std::string> Args::values() const {
  std::map<std::string, std::string> out;
  for (const auto& [name, f] : flags_)
    out[name] = f.is_switch ? (f.set ? "true" : "false") : f.value;
  return out;
}

void Args::apply_saved(const std::map<std::string, std::string>& saved) {
  for (const auto& [name, value] : saved) {
    auto it = flags_.find(name);
    if (it == flags_.end() || it->second.set) continue;
    if (it->second.is_switch)
      it->second.set = value == "true";
    else
      it->second.value = value;
  }
}

bool Args::on(const std::string& name) const {
  return flags_.at(name).set;
}
bool Args::given(const std::string& name) const {
  return flags_.at(name).set;
}

bool Args::parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << help();
      return false;
    }
    MPQ_CHECK(a.rfind("--", 0) == 0, program_, ": unexpected argument '", a,
              "' (flags start with --; see --help)");
    std::string name = a.substr(2), value;
    const auto eq = name.find('=');
    bool has_value = false;
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto it = flags_.find(name);
    MPQ_CHECK(it != flags_.end(), program_, ": unknown flag --", name, " (see --help)");
    MPQ_CHECK(!it->second.set, program_, ": flag --", name, " given twice");
    if (it->second.is_switch) {
      MPQ_CHECK(!has_value, program_, ": --", name, " takes no value");
      it->second.set = true;
      continue;
    }
    if (!has_value) {
      MPQ_CHECK(i + 1 < argc, program_, ": flag --", name, " needs a value");
      value = argv[++i];
    }
    it->second.value = value;
    it->second.set = true;
  }
  return true;
}

std::string Args::str(const std::string& name) const {
  return flags_.at(name).value;
}

std::int64_t Args::integer(const std::string& name, std::int64_t min, std::int64_t max) const {
  const std::string& v = flags_.at(name).value;
  std::size_t used = 0;
  long long x = 0;
  try {
    x = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  MPQ_CHECK(used == v.size() && !v.empty(), program_, ": --", name, " expects an integer, got '", v,
            "'");
  MPQ_CHECK(x >= min && x <= max, program_, ": --", name, " = ", x, " is outside [", min, ", ", max,
            "]");
  return x;
}

double Args::real(const std::string& name, double min, double max) const {
  const std::string& v = flags_.at(name).value;
  std::size_t used = 0;
  double x = 0;
  try {
    x = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  MPQ_CHECK(used == v.size() && !v.empty() && std::isfinite(x), program_, ": --", name,
            " expects a finite number, got '", v, "'");
  MPQ_CHECK(x >= min && x <= max, program_, ": --", name, " = ", x, " is outside [", min, ", ", max,
            "]");
  return x;
}

std::string Args::help() const {
  std::ostringstream os;
  os << "usage: " << program_ << " [flags]\n\n" << summary_ << "\n\nflags:\n";
  // (flags without a default are optional unless the summary says otherwise)
  for (const auto& name : order_) {
    const Flag& f = flags_.at(name);
    if (f.is_switch)
      os << "  --" << name << "\n      " << f.help << "\n";
    else
      os << "  --" << name << " (default: " << (f.default_value.empty() ? "none" : f.default_value)
         << ")\n      " << f.help << "\n";
  }
  return os.str();
}

namespace {
// One error as a process reports it. Alone: "error: ..." and the exit code.
// One of several processes (mpirun, srun): a divergence is seen by every
// process at the same step (the Trainer decides it on reduced values), so
// rank 0 reports it and all exit together; any other error may be this
// process's alone while the others wait in a collective, so it ends the
// whole job (Distributed::abort) with the rank named.
int report_error(const char* what, int code, bool collective) {
  train::Distributed* job = nullptr;
  try {
    job = &train::Distributed::get();
  } catch (const std::exception&) {  // joining the job was the error
  }
  if (!job || !job->multi()) {
    std::fprintf(stderr, "error: %s\n", what);
    if (job) job->finalize();  // (mpirun -np 1: a clean MPI exit with this code)
    return code;
  }
  train::Distributed& dist = *job;
  if (!collective) dist.abort(what, code);
  if (dist.is_root()) std::fprintf(stderr, "error: %s\n", what);
  dist.finalize();
  return code;
}
}  // namespace

int run_main(int (*body)(int, char**), int argc, char** argv) {
  int code = 0;
  try {
    // Joins the job when a launcher started this process; only rank 0 prints
    // to stdout (errors still reach stderr from every rank).
    train::Distributed& dist = train::Distributed::get();
    if (!dist.is_root() && !std::freopen("/dev/null", "w", stdout))
      std::fprintf(stderr, "warning: %s cannot silence its stdout\n", dist.describe().c_str());
    code = body(argc, argv);
  } catch (const train::Diverged& e) {  // a result, not a failure of the program
    return report_error(e.what(), train::kDivergedExitCode, true);
  } catch (const mpq::Error& e) {
    return report_error(e.what(), 2, false);
  } catch (const std::exception& e) {
    return report_error(e.what(), 1, false);
  }
  std::fflush(stdout);
  train::Distributed::get().finalize();
  return code;
}

}  // namespace mpq::examples
