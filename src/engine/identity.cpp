// Who a request is about (identity.hpp): user ids and their hashes, account names folded to
// one spelling, client addresses parsed and grouped, and the keyed digests login protection
// and the throttles put in key names (never in clear, and not reversible by hashing every
// IPv4 address or a list of e-mail addresses).
#include "latchkey/identity.hpp"

#include "latchkey/crypto/primitives.hpp"
#include "latchkey/redis/slot.hpp"
#include "latchkey/utf8.hpp"

#include <boost/asio/ip/address.hpp>

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>

namespace latchkey {

bool valid_user_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 256) return false;
  for (unsigned char c : id)
    if (c < 0x20 || c == 0x7f) return false;
  return valid_utf8(id);
}

// 128 bits: collision-free for any realistic number of users, and 21 bytes shorter in every
// session hash and index key name than the full digest.
std::string user_hash(std::string_view user_id) {
  auto digest = crypto::sha256(user_id);
  return crypto::base64url_encode(crypto::bytes_view(digest.data(), 16));
}

std::uint16_t user_slot(std::string_view user_id) { return redis::key_slot(user_hash(user_id)); }

std::optional<std::string> canonical_address(std::string_view text, int ipv6_prefix) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  // A zone index (fe80::1%eth0) names a link of the sender, not a different client.
  std::string s(text.substr(0, text.find('%')));
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(s, ec);
  if (ec) return std::nullopt;
  if (a.is_v4()) return a.to_v4().to_string();
  auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
  auto bytes = v6.to_bytes();
  int prefix = std::clamp(ipv6_prefix, 0, 128);
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(prefix - 8 * i, 0, 8);
    bytes[static_cast<std::size_t>(i)] &= static_cast<unsigned char>(0xff00 >> keep);
  }
  return boost::asio::ip::address_v6(bytes).to_string() + "/" + std::to_string(prefix);
}

std::optional<std::string> canonical_account(std::string_view user_id) {
  // ASCII, the common case, without ICU: NFKC_Casefold maps only A-Z there, and the white
  // space to trim is HT, LF, VT, FF, CR and SP (CanonicalAccountAsciiMatchesIcu).
  if (std::all_of(user_id.begin(), user_id.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; })) {
    auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
    std::size_t b = 0, e = user_id.size();
    while (b < e && space(user_id[b])) ++b;
    while (e > b && space(user_id[e - 1])) --e;
    if (b == e) return std::nullopt;
    std::string out(user_id.substr(b, e - b));
    for (char& c : out)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
  }
  return canonical_account_unicode(user_id);
}

std::optional<std::string> canonical_account_unicode(std::string_view user_id) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* fold = icu::Normalizer2::getNFKCCasefoldInstance(status);
  if (U_FAILURE(status)) return std::nullopt;
  if (!valid_utf8(user_id)) return std::nullopt;
  icu::UnicodeString in =
      icu::UnicodeString::fromUTF8(icu::StringPiece(user_id.data(), static_cast<int32_t>(user_id.size())));
  icu::UnicodeString out = fold->normalize(in, status);
  if (U_FAILURE(status)) return std::nullopt;
  // Trim Unicode white space (after folding: NFKC maps the exotic spaces to U+0020).
  int32_t b = 0, e = out.length();
  while (b < e && u_isUWhiteSpace(out.char32At(b))) b = out.moveIndex32(b, 1);
  while (e > b && u_isUWhiteSpace(out.char32At(out.moveIndex32(e, -1)))) e = out.moveIndex32(e, -1);
  if (b == e) return std::nullopt;
  std::string utf8;
  out.tempSubStringBetween(b, e).toUTF8String(utf8);
  return utf8;
}

Identifiers::Identifiers(const std::string& key) : mac_(crypto::as_bytes(key)) {}

std::string Identifiers::of(std::string_view kind, std::string_view id) const {
  std::string data;
  data.reserve(kind.size() + 1 + id.size());
  data.append(kind).push_back('\0');
  data.append(id);
  auto mac = mac_.mac(crypto::as_bytes(data));
  return crypto::base64url_encode(crypto::bytes_view(mac.data(), 16));
}

}  // namespace latchkey
