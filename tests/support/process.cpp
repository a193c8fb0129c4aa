// Process: fork/exec with redirected output.
#include "support/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace latchkey::test {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string latchkey_binary() { return LATCHKEY_BINARY; }

void ChildPid::spawn(std::vector<std::string> args) {
  kill();
  pid_ = ::fork();
  if (pid_ == 0) {
    // The servers log to files of their own. Not holding the test's stdout and stderr means
    // a test that dies (an ASan abort) without stopping them does not keep ctest waiting on
    // its output until the timeout.
    if (int null = ::open("/dev/null", O_RDWR); null >= 0) {
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
      if (null > 2) ::close(null);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
}

std::optional<int> ChildPid::exited() {
  int status = 0;
  if (pid_ <= 0 || ::waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
  pid_ = -1;
  return status;
}

void ChildPid::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGCONT);
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void ChildPid::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void ChildPid::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

Process::Process(std::vector<std::string> args, std::map<std::string, std::string> env) {
  char tmpl[] = "/tmp/latchkey-proc-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  std::vector<std::string> envs;
  if (const char* path = std::getenv("PATH")) envs.push_back(std::string("PATH=") + path);
  for (const char* keep : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"})
    if (const char* v = std::getenv(keep); v && !env.count(keep)) envs.push_back(std::string(keep) + "=" + v);
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  std::string out_path = dir_ + "/out", err_path = dir_ + "/err";
  pid_ = ::fork();
  if (pid_ == 0) {
    // Its own process group, so that signals reach what a wrapper (faketime, a shell) started.
    ::setpgid(0, 0);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(out, 1);
    ::dup2(err, 2);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  if (pid_ > 0) ::setpgid(pid_, pid_);  // also here: no signal may race the child's own call
}

Process::~Process() {
  if (pid_ > 0) {
    ::kill(-pid_, SIGKILL);  // the whole group: nothing a wrapper started outlives the test
    int st = 0;
    if (!status_) ::waitpid(pid_, &st, 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void Process::signal(int sig) {
  if (!status_) ::kill(-pid_, sig);
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
      return status_;
    }
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string Process::out() const { return read_file(dir_ + "/out"); }
std::string Process::err() const { return read_file(dir_ + "/err"); }

}  // namespace latchkey::test
