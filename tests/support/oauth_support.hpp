// Shared by the OAuth integration tests.
#pragma once

#include <string>

namespace latchkey::test {

// RFC 7636 Appendix B: a code verifier and its S256 challenge.
inline const std::string kVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
inline const std::string kChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

}  // namespace latchkey::test
