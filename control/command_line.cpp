#include "control/command_line.hpp"

#include <boost/program_options/errors.hpp>
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/parsers.hpp>
#include <boost/program_options/value_semantic.hpp>
#include <ostream>
#include <sstream>

#include "control/config_options.hpp"

namespace sigrelay::control {
namespace {

namespace po = boost::program_options;

constexpr int kStyle = po::command_line_style::unix_style & ~po::command_line_style::allow_guessing;

void add_daemon_options(po::options_description& desc) {
  const std::string config_help =
      "config file (default " + std::string(kDefaultConfigPath) + "; \"\" for none)";
  desc.add_options()("config,c", po::value<std::string>()->value_name("PATH"), config_help.c_str())(
      "check-config", "check the configuration, print the effective settings, exit 0 if valid, 1 if not")(
      "help,h", "print this help")("version,V", "print the version");
}

}  // namespace

ParsedCommandLine parse_command_line(int argc, const char* const* argv) {
  ParsedCommandLine out;
  po::options_description all;
  add_daemon_options(all);
  add_config_options(all);
  // argv[0] is the program; the rest are the words to parse.
  const std::vector<std::string> words =
      split_empty_assignments(std::vector<std::string>(argv + (argc > 0 ? 1 : 0), argv + argc));
  po::parsed_options parsed(&all);
  try {
    parsed = po::command_line_parser(words).options(all).style(kStyle).run();
  } catch (const po::error& e) {
    out.error = e.what();
    return out;
  }
  bool config_seen = false;
  for (const po::option& o : parsed.options) {
    const std::string value = o.value.empty() ? std::string{} : o.value.front();
    if (o.string_key.empty()) {
      out.error = "unexpected argument '" + value + "' (config keys are given as --key=value)";
      return out;
    }
    if (o.string_key == "config") {
      if (config_seen) {
        out.error = "--config given more than once";
        return out;
      }
      config_seen = true;
      out.config_path = value;
    } else if (o.string_key == "check-config") {
      out.check_only = true;
    } else if (o.string_key == "help") {
      out.help = true;
    } else if (o.string_key == "version") {
      out.version = true;
    } else {
      out.overrides.push_back("--" + o.string_key + "=" + value);
    }
  }
  return out;
}

std::string usage(std::string_view program) {
  po::options_description daemon("Options");
  add_daemon_options(daemon);
  po::options_description keys(
      "Configuration keys (in the file, or --key=value to override it; docs/configuration.md)");
  add_config_options(keys);
  std::ostringstream s;
  s << "usage: " << program << " [--config PATH] [--check-config] [--KEY=VALUE ...]\n\n"
    << daemon << "\n"
    << keys;
  return s.str();
}

void print_diagnostics(const LoadResult& r, const std::string& path, std::ostream& err) {
  for (const ConfigError& e : r.errors) err << format_error(e, path) << '\n';
  for (const std::string& w : r.warnings) err << "warning: " << w << '\n';
}

int run_check_config(const ParsedCommandLine& cl, std::ostream& out, std::ostream& err) {
  const LoadResult r = load_config(cl.config_path, cl.overrides);
  print_diagnostics(r, cl.config_path, err);
  if (!r.config) {
    err << r.errors.size() << " error(s): configuration NOT valid\n";
    return kExitConfig;
  }
  out << summarize(*r.config);
  err << "configuration valid" << (r.warnings.empty() ? "" : " (with warnings)") << '\n';
  return 0;
}

}  // namespace sigrelay::control
