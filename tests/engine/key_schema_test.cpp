// The key schema: every per-user family lands in the user's slot, the families the code
// names are exactly the rows of docs/redis.md, handle kinds are distinct, and a request
// knows the slot of the keys it names.
#include "latchkey/identity.hpp"
#include "latchkey/key_schema.hpp"
#include "latchkey/redis/request.hpp"
#include "latchkey/redis/scripts.hpp"
#include "latchkey/sessions.hpp"

#include "support/process.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>

using namespace latchkey;
using key_schema::UserSlot;

namespace {
const std::string kPrefix = "<prefix>";

// Every key the schema can name, with a user slot of `slot`.
std::vector<std::string> every_key(std::uint16_t slot) {
  UserSlot u(kPrefix, slot);
  return {u.session("ID"),
          u.session_index("ID"),
          u.refresh_token("ID"),
          u.family("ID"),
          u.family_index("ID"),
          u.denied_jti("ID"),
          u.family_marker("ID"),
          u.revocation_epoch("ID"),
          u.code_epoch("ID"),
          u.opaque_access_token("ID"),
          u.authorization_code("ID"),
          u.oidc_login("ID"),
          u.dpop_jti("ID"),
          u.login_account("ID"),
          u.login_device("ID"),
          key_schema::oauth_client(kPrefix, "ID"),
          key_schema::login_ip(kPrefix, "ID"),
          key_schema::ratelimit_fixed_window(kPrefix, "ID"),
          key_schema::ratelimit_sliding_log(kPrefix, "ID"),
          key_schema::ratelimit_sliding_count(kPrefix, "ID"),
          key_schema::ratelimit_gcra(kPrefix, "ID"),
          u.migration_guard(),
          key_schema::events_stream(kPrefix, 0),
          key_schema::readiness_probe(kPrefix)};
}

// "rl:s:" of "<prefix>rl:s:{ID}:n", "s:" of "<prefix>s:{T}:ID": the family's head.
std::string head(std::string_view key) {
  key.remove_prefix(kPrefix.size());
  return std::string(key.substr(0, key.find_first_of("{<I")));
}
}  // namespace

TEST(KeySchema, EveryPerUserFamilyIsInTheUsersSlot) {
  for (const char* user : {"alice", "bob@example.com", "\xc3\xa9milie", "0"}) {
    std::uint16_t slot = user_slot(user);
    UserSlot u("lk:", slot);
    for (const std::string& k : every_key(slot)) {
      if (k.find(redis::slot_tag(slot)) == std::string::npos) continue;  // not a per-user key
      EXPECT_EQ(redis::key_slot(k), slot) << k;
    }
    // The *_prefix forms end where an id is appended, so derived names stay in the slot.
    for (const std::string& p :
         {u.session_prefix(), u.session_index_prefix(), u.refresh_token_prefix(), u.family_prefix(),
          u.family_marker_prefix(), u.revocation_epoch_prefix(), u.code_epoch_prefix()}) {
      EXPECT_EQ(p.back(), ':') << p;
      EXPECT_EQ(redis::key_slot(p + "anything"), slot) << p;
    }
  }
  // The two sliding-window keys share one slot of their own.
  EXPECT_EQ(redis::key_slot(key_schema::ratelimit_sliding_log("lk:", "abc")),
            redis::key_slot(key_schema::ratelimit_sliding_count("lk:", "abc")));
}

TEST(KeySchema, TheFamiliesNamedAreExactlyTheRowsOfDocsRedisMd) {
  std::string doc = test::read_file(std::string(LATCHKEY_SOURCE_DIR) + "/docs/redis.md");
  std::set<std::string> documented;
  std::regex row(R"(\n\| `<prefix>([a-z]+:(?:[a-z]:)?))");
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), row); it != std::sregex_iterator(); ++it)
    documented.insert((*it)[1]);
  std::set<std::string> named;
  for (const std::string& k : every_key(42)) named.insert(head(k));
  EXPECT_EQ(named, documented);
}

TEST(KeySchema, HandleKindsAreDistinctAndAHandleOfOneKindIsNotAnother) {
  using key_schema::Handle;
  const Handle kinds[] = {Handle::session, Handle::refresh_token, Handle::authorization_code,
                          Handle::opaque_access_token, Handle::device_token};
  std::set<std::uint8_t> bytes;
  for (Handle h : kinds) EXPECT_TRUE(bytes.insert(static_cast<std::uint8_t>(h)).second);
  for (Handle h : kinds) {
    std::string handle = key_schema::new_handle(h, 1234);
    for (Handle other : kinds) {
      auto slot = key_schema::handle_slot(handle, other);
      if (other == h) {
        ASSERT_TRUE(slot);
        EXPECT_EQ(*slot, 1234);
      } else {
        EXPECT_FALSE(slot);
      }
    }
  }
}

TEST(KeySchema, ARequestKnowsTheSlotOfItsKeys) {
  UserSlot u("lk:", 777);
  redis::Request none;
  none.begin(1).arg("TIME");
  EXPECT_FALSE(none.slot());
  EXPECT_FALSE(none.spans_slots());

  redis::Request one;
  one.begin(4).arg("MGET").key(u.denied_jti("j")).key(u.revocation_epoch("uh")).key(u.family_marker("f"));
  one.begin(1).arg("TIME");
  ASSERT_TRUE(one.slot());
  EXPECT_EQ(*one.slot(), 777);
  EXPECT_FALSE(one.spans_slots());

  redis::Request two;
  two.begin(2).arg("EXISTS").key(key_schema::oauth_client("lk:", "client-a"));
  two.begin(2).arg("GET").key(u.revocation_epoch("uh"));
  EXPECT_TRUE(two.spans_slots());
  // key() writes exactly what arg() writes.
  redis::Request a, b;
  a.begin(2).arg("GET").arg("k");
  b.begin(2).arg("GET").key("k");
  EXPECT_EQ(a.payload(), b.payload());
}

// A script that names a key it was not given in KEYS[] (a sibling read from an index, a
// prefix + id) could run, during a slot migration, on a node that holds only some of the
// slot's keys. Each such script must declare the slot's migration guard and check it first;
// docs/redis.md explains why that makes Redis Cluster hold the call until the slot settles.
TEST(KeySchema, EveryScriptThatNamesUndeclaredKeysDeclaresTheMigrationGuard) {
  // A key argument is derived when it is built with `..` in place, or is a variable some line
  // assigns from a `..` expression (`local key = ARGV[1] .. sid`). Names taken from KEYS[] as
  // they are (`local key = KEYS[2]`) are declared.
  const std::regex call(R"(redis\.p?call\(\s*'([A-Za-z]+)'\s*(?:,\s*([^,)]+))?)");
  const std::regex assigned(R"((\w+)\s*=\s*[^=\n]*\.\.)");
  const std::string check = "if not string.find(KEYS[#KEYS] or '', 'mg:{', 1, true) then";
  int deriving = 0;
  for (const auto& s : redis::embedded_scripts()) {
    std::string code;  // without comment lines
    std::stringstream in{std::string(s.source)};
    for (std::string line; std::getline(in, line);)
      if (!line.starts_with("--")) code += line + "\n";
    std::set<std::string> built;  // variables assigned a concatenation
    for (auto it = std::sregex_iterator(code.begin(), code.end(), assigned); it != std::sregex_iterator(); ++it)
      built.insert((*it)[1]);
    bool derives = false;
    for (auto it = std::sregex_iterator(code.begin(), code.end(), call); it != std::sregex_iterator(); ++it) {
      if ((*it)[1] == "TIME") continue;
      std::string first = (*it)[2];
      while (!first.empty() && first.back() == ' ') first.pop_back();
      if (first.find("..") != std::string::npos || built.count(first)) derives = true;
    }
    const bool guarded = code.find(check) != std::string::npos;
    EXPECT_EQ(derives, guarded) << s.name
                                << (derives ? " names undeclared keys but does not check the guard"
                                            : " checks a guard it does not need");
    if (guarded) {
      EXPECT_EQ(code.find(check), code.find_first_not_of("\n")) << s.name << ": the check comes first";
    }
    deriving += derives;
  }
  EXPECT_EQ(deriving, 12) << "the scripts known to derive keys (a change here is worth a look)";
  // The guard is in the user's slot, and is no other family's key.
  UserSlot u("lk:", 4242);
  EXPECT_EQ(redis::key_slot(u.migration_guard()), 4242);
  EXPECT_EQ(u.migration_guard().find(':', std::string("lk:mg:").size()), std::string::npos);
}
