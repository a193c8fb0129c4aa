// Links the installed engine and uses it as a C++ backend would: a session token and the
// key ring, with no server involved. Exit 0 on success.
#include <latchkey/crypto/aead.hpp>
#include <latchkey/identity.hpp>
#include <latchkey/sessions.hpp>
#include <latchkey/version.hpp>

#include <cstdio>

int main() {
  auto token = latchkey::sessions::new_token(latchkey::user_slot("alice"));
  auto parsed = latchkey::sessions::parse_token(token);
  auto ring = latchkey::crypto::KeyRing::generate();
  auto back = ring.decrypt(ring.encrypt("hello", "ad"), "ad");
  bool ok = parsed && back && *back == "hello";
  std::printf("latchkey %s consumer: %s\n", LATCHKEY_VERSION, ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
