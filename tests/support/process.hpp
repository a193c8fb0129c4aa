// Test harness: run the real latchkey binary as a child process, with its own environment,
// stdout and stderr captured to files.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace latchkey::test {

class Process {
 public:
  Process(std::vector<std::string> args, std::map<std::string, std::string> env);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  void signal(int sig);
  // Exit code, or nullopt if still running after `timeout`. -signal when killed by a signal.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  std::string out() const;
  std::string err() const;
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
  std::optional<int> status_;
  std::string dir_;
};

// A server the test starts and disturbs (redis-server, redis-sentinel): fork + execvp of
// `argv`, SIGKILL when killed or destroyed (after SIGCONT, so a paused one dies too).
class ChildPid {
 public:
  ChildPid() = default;
  ~ChildPid() { kill(); }
  ChildPid(const ChildPid&) = delete;
  ChildPid& operator=(const ChildPid&) = delete;

  void spawn(std::vector<std::string> argv);  // exits 127 when the program is not installed
  // When it has exited (reaped, no longer running): its wait status; else nullopt.
  std::optional<int> exited();
  void kill();    // SIGKILL, waits for exit
  void pause();   // SIGSTOP
  void resume();  // SIGCONT
  bool running() const { return pid_ > 0; }
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
};

std::string read_file(const std::string& path);
std::string latchkey_binary();

}  // namespace latchkey::test
