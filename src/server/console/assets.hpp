// The console's files (console/ in the repository), embedded at build time by
// cmake/embed_lua.cmake (latchkey_embed_console): no file is read at run time.
#pragma once

#include <string_view>
#include <vector>

namespace latchkey::server::console {

struct EmbeddedFile {
  std::string_view name;  // file name, e.g. "app.js"
  std::string_view contents;
};
const std::vector<EmbeddedFile>& embedded_files();

}  // namespace latchkey::server::console
