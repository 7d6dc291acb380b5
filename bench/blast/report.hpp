// The end-of-run report: one JSON object for scripts (stdout) and the same
// numbers as a table for people (stderr). docs/blast.md defines each field.
#pragma once

#include <string>

#include "bench/blast/blast.hpp"

namespace sigrelay::blast {

// Calls sent per second of schedule: sent / max(schedule length, time of
// the last send). Equals the target rate when the generator kept up.
double achieved_send_rate(const RunResult& r);

// True when not every call was sent or the achieved rate is below 99 % of
// the target.
bool fell_behind(const RunResult& r);

std::string to_json(const RunResult& r);
std::string to_table(const RunResult& r);

}  // namespace sigrelay::blast
