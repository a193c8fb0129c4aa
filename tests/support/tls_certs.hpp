// Test certificates, generated with the openssl command line into a temporary directory once
// per test process: two CAs and certificates for every TLS scenario (tests/engine/redis/
// tls_test.cpp, the Sentinel and HTTPS tests).
#pragma once

#include <string>

namespace latchkey::test {

class TlsCerts {
 public:
  // Generates on first use; throws when openssl (or faketime, for the expired one) fails.
  static const TlsCerts& get();

  // PEM paths. Names:
  //   ca           CA-A (what latchkey is told to trust)
  //   other_ca     CA-B (trusted by nobody)
  //   server       from CA-A, DNS:localhost, IP:127.0.0.1
  //   wrong_name   from CA-A, DNS:wrong.invalid only
  //   expired      from CA-A, DNS:localhost, IP:127.0.0.1, expired a year ago
  //   foreign      from CA-B, DNS:localhost, IP:127.0.0.1
  //   client       from CA-A, a client certificate (CN=latchkey-client)
  //   other_client from CA-B, a client certificate nobody trusts
  std::string pem(const std::string& name) const;  // certificate
  std::string key(const std::string& name) const;  // its private key
  const std::string& dir() const { return dir_; }

 private:
  TlsCerts();
  std::string dir_;
};

}  // namespace latchkey::test
