// The OAuth wire formats of the HTTP layer: form bodies (RFC 6749 3.1, 3.2, Appendix B) and
// HTTP Basic client credentials (RFC 6749 2.3.1, RFC 7617).
#include "server/http.hpp"
#include "support/http_client.hpp"

#include "latchkey/crypto/primitives.hpp"

#include <gtest/gtest.h>

using namespace latchkey::server;

namespace {
std::string basic(const std::string& user_pass) { return latchkey::test::basic_authorization(user_pass); }
}  // namespace

TEST(Form, ParsesDecodesAndDropsEmptyValues) {
  std::string why;
  auto f = parse_form(
      "grant_type=authorization_code&code=Spl%2Fx&redirect_uri=https%3A%2F%2Fc.example%2Fcb&scope=read+write&empty=&"
      "bare",
      why);
  ASSERT_TRUE(f) << why;
  ASSERT_EQ(f->size(), 4u);
  EXPECT_EQ((*f)[0], (std::pair<std::string, std::string>{"grant_type", "authorization_code"}));
  EXPECT_EQ((*f)[1].second, "Spl/x");
  EXPECT_EQ((*f)[2].second, "https://c.example/cb");
  EXPECT_EQ((*f)[3].second, "read write");
  EXPECT_TRUE(parse_form("", why)->empty());
  EXPECT_TRUE(parse_form("&&", why)->empty());
  EXPECT_EQ(parse_form("a=1&b=", why)->size(), 1u);
}

TEST(Form, RepeatedParametersAndBadEscapesAreErrors) {
  std::string why;
  EXPECT_FALSE(parse_form("code=a&code=b", why));
  EXPECT_NE(why.find("'code'"), std::string::npos);
  EXPECT_FALSE(parse_form("code=a&co%64e=b", why)) << "the same name, encoded differently";
  EXPECT_FALSE(parse_form("code=%zz", why));
  EXPECT_FALSE(parse_form("code=%4", why));
  EXPECT_TRUE(parse_form("code=a&code=", why)) << "an empty repeat is an omitted parameter";
}

TEST(BasicAuth, DecodesFormEncodedCredentials) {
  auto c = parse_basic(basic("bench-client:bench-secret"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->id, "bench-client");
  EXPECT_EQ(c->secret, "bench-secret");
  // RFC 6749 2.3.1: each part is form-urlencoded first, so ':' and '%' travel safely.
  auto e = parse_basic(basic("my%3Aclient:s%2Bcr%25t+x"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->id, "my:client");
  EXPECT_EQ(e->secret, "s+cr%t x");  // %2B is a '+'; a bare '+' is a space (form encoding)
  EXPECT_TRUE(parse_basic("basic " + basic("a:b").substr(6))) << "scheme is case-insensitive";
  auto empty_secret = parse_basic(basic("public-client:"));
  ASSERT_TRUE(empty_secret);
  EXPECT_EQ(empty_secret->secret, "");
}

TEST(BasicAuth, RejectsOtherSchemesAndMalformedValues) {
  for (std::string bad : {std::string("Bearer abc"), std::string("Basic"), std::string("Basic !!!!"),
                          std::string("Basic ") + "bm9jb2xvbg==" /* "nocolon" */, basic(":secret"),
                          std::string("Digest x"), std::string("Basic YS1i_2M=") /* base64url alphabet */})
    EXPECT_FALSE(parse_basic(bad)) << bad;
}

// Hardening 4: a hostile form body costs one pass: the parameters are capped before any
// decoding, and duplicates are found in linear time.
TEST(Form, Hardening04ParameterCountIsCappedAndDuplicatesFoundLinearly) {
  std::string why;
  std::string many;
  for (int i = 0; i < 10'800; ++i) many += "p" + std::to_string(i) + "=x&";
  EXPECT_FALSE(parse_form(many, why));
  EXPECT_NE(why.find("too many parameters"), std::string::npos) << why;
  std::string ok;
  for (std::size_t i = 0; i < kMaxFormParams; ++i) ok += (i ? "&p" : "p") + std::to_string(i) + "=x";
  auto f = parse_form(ok, why);
  ASSERT_TRUE(f) << why;
  EXPECT_EQ(f->size(), kMaxFormParams);
  EXPECT_FALSE(parse_form(ok + "&one=more", why));
  std::string dup = "a=1&b=2&c=3&d=4&e=5&f=6&a=7";
  EXPECT_FALSE(parse_form(dup, why));
  EXPECT_NE(why.find("'a'"), std::string::npos);
}

TEST(Form, Hardening13ValuesMustBeUtf8) {
  std::string why;
  EXPECT_FALSE(parse_form("scope=%FF%FE", why));
  EXPECT_FALSE(parse_form("%C0%AF=x", why));
  EXPECT_TRUE(parse_form("scope=%C3%A9", why));
}
