// Classification of error replies (see errors.hpp).
#include "engine/redis/errors.hpp"

#include <algorithm>

namespace latchkey::redis {

ReplyClass classify(const Reply& r) noexcept {
  if (!r.is_error()) return ReplyClass::value;
  std::string_view code = r.error_code();
  if (code == "NOSCRIPT") return ReplyClass::missing_script;
  if (code == "READONLY" || code == "MOVED" || code == "ASK") return ReplyClass::wrong_node;
  if (code == "LOADING" || code == "BUSY" || code == "MASTERDOWN" || code == "NOREPLICAS" || code == "TRYAGAIN" ||
      code == "CLUSTERDOWN")
    return ReplyClass::not_run;
  // A script that reached a write on a replica reports "ERR ... READONLY ..." through
  // redis.call (scripts without a shebang); it did not write either.
  if (code == "ERR" && r.str.find("READONLY You can't write against a read only replica") != std::string::npos)
    return ReplyClass::wrong_node;
  return ReplyClass::value;
}

ReplyClass classify(const Replies& rs) noexcept {
  ReplyClass worst = ReplyClass::value;
  for (const auto& r : rs) worst = std::max(worst, classify(r));
  return worst;
}

}  // namespace latchkey::redis
