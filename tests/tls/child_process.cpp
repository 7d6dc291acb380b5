#include "tests/tls/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>

extern char** environ;

namespace sigrelay::tls::testing {

std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const Stdio& stdio) {
  // A child that exits while we write to its stdin must give EPIPE, not
  // end the test program.
  ::signal(SIGPIPE, SIG_IGN);
  int in_pipe[2] = {-1, -1};
  int out_pipe[2] = {-1, -1};
  if (stdio.pipe_stdin && ::pipe2(in_pipe, O_CLOEXEC) != 0) return;
  if (stdio.pipe_stdout && ::pipe2(out_pipe, O_CLOEXEC) != 0) return;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdio.socket >= 0) {
    posix_spawn_file_actions_adddup2(&actions, stdio.socket, 0);
    posix_spawn_file_actions_adddup2(&actions, stdio.socket, 1);
  }
  if (stdio.pipe_stdin) posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  if (stdio.pipe_stdout) {
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 2);
  }
  if (!stdio.stderr_file.empty()) {
    posix_spawn_file_actions_addopen(&actions, 2, stdio.stderr_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ) == 0) pid_ = pid;
  posix_spawn_file_actions_destroy(&actions);
  if (stdio.pipe_stdin) {
    ::close(in_pipe[0]);
    stdin_ = in_pipe[1];
  }
  if (stdio.pipe_stdout) {
    ::close(out_pipe[1]);
    stdout_ = out_pipe[0];
  }
}

ChildProcess::~ChildProcess() {
  if (stdin_ >= 0) ::close(stdin_);
  if (stdout_ >= 0) ::close(stdout_);
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

std::string ChildProcess::read_until(const std::string& needle, int wait_ms, std::size_t from) {
  while (seen_.size() < from || seen_.find(needle, from) == std::string::npos) {
    pollfd p{stdout_, POLLIN, 0};
    if (::poll(&p, 1, wait_ms) <= 0) break;
    char buf[4096];
    const ssize_t n = ::read(stdout_, buf, sizeof buf);
    if (n <= 0) break;
    seen_.append(buf, static_cast<std::size_t>(n));
  }
  return seen_;
}

bool ChildProcess::write_stdin(const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(stdin_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace sigrelay::tls::testing
