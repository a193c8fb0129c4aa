// Duplicate member names in JSON (RFC 8259 4 "SHOULD be unique"; RFC 7515 4 and RFC 7519 4
// let a JWS/JWT with duplicates be rejected). Boost.JSON keeps the last duplicate, while
// another reader may take the first: a body or token with two "user_id"s or two "sub"s means
// different things to each, so latchkey refuses them everywhere.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey::detail {

// Fed by a SAX handler: begin() at each object, name() per member name, end() when the object
// closes; false once a duplicate was seen. Each object's names are sorted at its end:
// O(k log k) for k members, whatever an attacker sends.
class DuplicateNames {
 public:
  void begin() { starts_.push_back(names_.size()); }
  void name(std::string_view n) { names_.emplace_back(n); }
  bool end() {
    if (starts_.empty()) return true;
    auto first = names_.begin() + static_cast<std::ptrdiff_t>(starts_.back());
    starts_.pop_back();
    std::sort(first, names_.end());
    bool unique = std::adjacent_find(first, names_.end()) == names_.end();
    names_.erase(first, names_.end());
    if (!unique) duplicate_ = true;
    return !duplicate_;
  }
  bool duplicate() const noexcept { return duplicate_; }

 private:
  std::vector<std::string> names_;
  std::vector<std::size_t> starts_;
  bool duplicate_ = false;
};

// True when `text` (any JSON) has an object with a repeated member name; false for unique
// names and for text that is not JSON (the caller's parser reports that).
bool json_has_duplicate_names(std::string_view text);

}  // namespace latchkey::detail
