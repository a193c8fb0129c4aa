// Decoder of oauth_code_redeem's reply (contract: the header of lua/oauth_code_redeem.lua).
#include "engine/oauth/replies.hpp"

namespace latchkey::oauth::replies {

result<Redeemed> code_redeem(redis::Reply r) {
  using redis::unexpected_reply;
  if (r.is_error()) return make_error_code(errc::redis_error);
  if (!r.is_array() || r.elements.empty()) return unexpected_reply("oauth_code_redeem");
  auto& x = r.elements;
  const std::string& status = x[0].str;
  Redeemed out;
  using O = Redeemed::outcome;
  if (status == "ok" && x.size() == 5) {
    out.result = O::ok;
    out.scope = std::move(x[1].str);
    out.sealed_user = std::move(x[2].str);
    out.user_hash = std::move(x[3].str);
    out.sealed_login = std::move(x[4].str);
  } else if (status == "mismatch" && x.size() == 2) {
    if (x[1].str == "client")
      out.result = O::mismatch_client;
    else if (x[1].str == "redirect_uri")
      out.result = O::mismatch_redirect_uri;
    else if (x[1].str == "pkce")
      out.result = O::mismatch_pkce;
    else
      return unexpected_reply("oauth_code_redeem");
  } else if (status == "replay" && x.size() == 3) {
    out.result = O::replay;
    out.family_id = std::move(x[1].str);
    out.user_hash = std::move(x[2].str);
  } else if (status == "invalid" && x.size() == 1) {
    out.result = O::invalid;
  } else {
    return unexpected_reply("oauth_code_redeem");
  }
  return out;
}

}  // namespace latchkey::oauth::replies
