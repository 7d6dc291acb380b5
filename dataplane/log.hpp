// sigrelay's log lines: to stderr, one write(2) per line so threads never
// interleave, with a level that log.level (and a hot reload) sets. When
// stderr is the systemd journal (JOURNAL_STREAM is set), each line starts
// with its syslog priority ("<4>"), which journald stores as the entry's
// priority (sd-daemon(3)); otherwise with the level's name.
//
// Warnings that a flood could repeat go through a RateLimit: at most a
// burst per interval, the rest counted and summarised once the interval
// is over ("... 1234 similar messages suppressed").
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace sigrelay::log {

enum class Level : std::uint8_t { error = 0, warn = 1, info = 2, debug = 3 };

void set_level(Level l);
Level level();
inline bool enabled(Level l) { return static_cast<std::uint8_t>(l) <= static_cast<std::uint8_t>(level()); }

// For tests: where lines go (default 2, stderr) and whether they carry
// journald priorities (default: JOURNAL_STREAM is set).
void set_output(int fd, bool journal);

// "sigrelay: <message>" as one line at level `l` (dropped below the level).
void write(Level l, std::string_view message);
void writef(Level l, const char* format, ...) __attribute__((format(printf, 2, 3)));

// One per message kind and thread (not thread-safe by design: owned).
class RateLimit {
 public:
  RateLimit(unsigned burst, std::chrono::milliseconds interval) : burst_(burst), interval_(interval) {}
  // Whether to write this occurrence now. When an interval with
  // suppressions ends, the next allowed line is preceded by the count.
  bool allow(std::chrono::steady_clock::time_point now);
  std::uint64_t suppressed_total() const { return suppressed_total_; }
  std::uint64_t take_suppressed();  // suppressed since the last summary, then reset

 private:
  unsigned burst_;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point window_{};
  unsigned used_ = 0;
  std::uint64_t suppressed_ = 0;
  std::uint64_t suppressed_total_ = 0;
};

// writef() through `limit`: also reports what `limit` suppressed before.
void limited(RateLimit& limit, Level l, const char* format, ...) __attribute__((format(printf, 3, 4)));

}  // namespace sigrelay::log
