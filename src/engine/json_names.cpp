// A SAX pass that only looks at member names (see json_names.hpp).
#include "latchkey/json_names.hpp"

#include <boost/json/basic_parser_impl.hpp>

namespace latchkey::detail {
namespace {

struct NamesOnly {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
  DuplicateNames names;
  std::string part;

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) {
    names.begin();
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code& ec) {
    if (names.end()) return true;
    ec = make_error_code(boost::json::error::syntax);  // stop at the first duplicate
    return false;
  }
  bool on_array_begin(boost::system::error_code&) { return true; }
  bool on_array_end(std::size_t, boost::system::error_code&) { return true; }
  bool on_key_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    part.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    part.append(s.data(), s.size());
    names.name(part);
    part.clear();
    return true;
  }
  bool on_string_part(boost::json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_string(boost::json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_number_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_uint64(std::uint64_t, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_double(double, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_bool(bool, boost::system::error_code&) { return true; }
  bool on_null(boost::system::error_code&) { return true; }
  bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }
};

}  // namespace

bool json_has_duplicate_names(std::string_view text) {
  boost::json::parse_options opts;
  opts.max_depth = 64;
  boost::json::basic_parser<NamesOnly> p{opts};
  boost::system::error_code ec;
  p.write_some(false, text.data(), text.size(), ec);
  return p.handler().names.duplicate();
}

}  // namespace latchkey::detail
