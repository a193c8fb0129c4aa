// The console's embedded files by name, with their media types.
#include "server/console/assets.hpp"
#include "server/console/console.hpp"

#include <map>

namespace latchkey::server::console {
namespace {

std::string_view media_type(std::string_view name) {
  auto dot = name.rfind('.');
  std::string_view ext = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  return "application/octet-stream";
}

}  // namespace

const Asset* asset(std::string_view name) {
  static const std::map<std::string_view, Asset> by_name = [] {
    std::map<std::string_view, Asset> m;
    for (const auto& f : embedded_files()) m.emplace(f.name, Asset{f.name, media_type(f.name), f.contents});
    return m;
  }();
  auto it = by_name.find(name);
  return it == by_name.end() ? nullptr : &it->second;
}

}  // namespace latchkey::server::console
