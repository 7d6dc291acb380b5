// The configuration keys as a Boost.Program_options description, shared by
// the file/override loader and the daemon's command line.
#pragma once

#include <boost/program_options/options_description.hpp>
#include <string>
#include <vector>

namespace sigrelay::control {

// Adds every key of config_keys.hpp (and its aliases) to `desc`. Values are
// taken as text; config.cpp converts and checks them with the key's codec so
// every error can name its line.
void add_config_options(boost::program_options::options_description& desc);

// Boost refuses "--key=" (nothing after '='), yet an empty value is how an
// operator empties a list ("--listen.tcp=" turns TCP off). Rewrites each such
// word as "--key" followed by an empty word, which Boost accepts.
std::vector<std::string> split_empty_assignments(const std::vector<std::string>& words);

}  // namespace sigrelay::control
