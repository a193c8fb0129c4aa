// JSON-lines logging to stderr (events) and stdout (access log).
#include "latchkey/log.hpp"

#include <boost/json.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace latchkey::log {
namespace {

void write_all(int fd, const std::string& s) {
  const char* p = s.data();
  std::size_t left = s.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n <= 0) return;  // nowhere to report a logging failure
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

namespace {
std::atomic<int> g_min_level{static_cast<int>(Level::info)};
}  // namespace

void set_min_level(Level level) noexcept { g_min_level.store(static_cast<int>(level), std::memory_order_relaxed); }
bool enabled(Level level) noexcept { return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed); }

std::optional<Level> level_from_name(std::string_view name) noexcept {
  for (auto l : {Level::debug, Level::info, Level::warn, Level::error})
    if (name == level_name(l)) return l;
  return std::nullopt;
}

const char* level_name(Level level) noexcept {
  static constexpr const char* names[] = {"debug", "info", "warn", "error"};
  return names[static_cast<int>(level)];
}

void event(Level level, std::string_view msg) {
  if (!enabled(level)) return;
  boost::json::object o{{"ts", timestamp()}, {"level", level_name(level)}, {"msg", msg}};
  write_all(2, boost::json::serialize(o) + "\n");
}

void write_stdout(std::string_view bytes) { write_all(1, std::string(bytes)); }

void TimestampCache::append(std::string& out) {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::int64_t sec = ms / 1000;
  if (sec != second_) {
    std::string full = timestamp();
    prefix_ = full.substr(0, full.size() - 4);  // without "mmmZ"
    second_ = sec;
  }
  out += prefix_;
  int frac = static_cast<int>(ms % 1000);
  out.push_back(static_cast<char>('0' + frac / 100));
  out.push_back(static_cast<char>('0' + frac / 10 % 10));
  out.push_back(static_cast<char>('0' + frac % 10));
  out.push_back('Z');
}

namespace {
std::mutex& registry_mu() {
  static std::mutex mu;
  return mu;
}
std::vector<const Throttle*>& registry() {
  static std::vector<const Throttle*> r;
  return r;
}
}  // namespace

Throttle::Throttle(std::string_view name, unsigned per_second) : name_(name), per_second_(per_second) {
  std::lock_guard lock(registry_mu());
  registry().push_back(this);
}

void Throttle::event(Level level, std::string_view msg) {
  std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  std::uint64_t dropped = 0;
  {
    std::lock_guard lock(mu_);
    ++total_;
    if (now != second_) {
      second_ = now;
      in_second_ = 0;
    }
    if (in_second_ >= per_second_) {
      ++suppressed_;
      ++unreported_;
      return;
    }
    ++in_second_;
    dropped = unreported_;
    unreported_ = 0;
  }
  if (dropped == 0) {
    log::event(level, msg);
    return;
  }
  std::string line(msg);
  line += " (" + std::to_string(dropped) + " similar lines suppressed)";
  log::event(level, line);
}

std::uint64_t Throttle::total() const noexcept {
  std::lock_guard lock(mu_);
  return total_;
}

std::uint64_t Throttle::suppressed() const noexcept {
  std::lock_guard lock(mu_);
  return suppressed_;
}

std::vector<const Throttle*> Throttle::all() {
  std::lock_guard lock(registry_mu());
  return registry();
}

void LogFailure::operator()(std::exception_ptr e) const {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    event(Level::error, task + " ended with an exception: " + x.what());
  } catch (...) {
    event(Level::error, task + " ended with an unknown exception");
  }
}

}  // namespace latchkey::log
