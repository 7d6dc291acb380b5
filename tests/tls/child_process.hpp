// A helper program started by a test (openssl s_server, stunnel): its pipes,
// and on destruction SIGTERM to that one process id and a wait for it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace sigrelay::tls::testing {

// The full path of an executable found in $PATH, or empty.
std::string find_program(const std::string& name);

class ChildProcess {
 public:
  struct Stdio {
    bool pipe_stdin = false;    // stdin_fd() writes to the child
    bool pipe_stdout = false;   // stdout_fd() reads the child's stdout (and stderr)
    int socket = -1;            // >= 0: the child's stdin and stdout (inetd style)
    std::string stderr_file{};  // non-empty: the child's stderr goes there
  };

  ChildProcess(const std::vector<std::string>& argv, const Stdio& stdio);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  int stdin_fd() const { return stdin_; }
  int stdout_fd() const { return stdout_; }
  // Reads the child's stdout until `needle` appears at or after offset
  // `from`, or wait_ms pass without output; returns everything read.
  std::string read_until(const std::string& needle, int wait_ms, std::size_t from = 0);
  bool write_stdin(const std::string& text);

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  std::string seen_;
};

}  // namespace sigrelay::tls::testing
