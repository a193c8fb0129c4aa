// Lua scripts: sources are files in lua/ (embedded into the binary at build time); each is
// identified by its SHA-1 and called with EVALSHA, reloaded on NOSCRIPT.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace latchkey::redis {

struct ScriptSource {
  std::string_view name;  // file name without .lua
  std::string_view source;
};

struct Script {
  std::string name;
  std::string source;
  std::string sha1;  // lowercase hex, as Redis computes it
  std::string op;    // "script:<name>", its label in metrics
};

// Every script in lua/, in file-name order.
const std::vector<ScriptSource>& embedded_scripts();

class ScriptSet {
 public:
  static ScriptSet embedded();
  explicit ScriptSet(const std::vector<ScriptSource>& sources);
  // nullptr when no script has that name.
  const Script* find(std::string_view name) const noexcept;
  const std::vector<Script>& all() const noexcept { return scripts_; }

 private:
  std::vector<Script> scripts_;
};

}  // namespace latchkey::redis
