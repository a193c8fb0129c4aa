// TlsCerts: one openssl run per certificate, in a fresh temporary directory.
#include "support/tls_certs.hpp"

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include <unistd.h>

namespace latchkey::test {
namespace {

void run(const std::string& cmd) {
  std::string quiet = cmd + " >/dev/null 2>&1";
  if (std::system(quiet.c_str()) != 0) throw std::runtime_error("certificate generation failed: " + cmd);
}

}  // namespace

const TlsCerts& TlsCerts::get() {
  static const TlsCerts certs;
  return certs;
}

std::string TlsCerts::pem(const std::string& name) const { return dir_ + "/" + name + ".crt"; }
std::string TlsCerts::key(const std::string& name) const { return dir_ + "/" + name + ".key"; }

TlsCerts::TlsCerts() {
  char tmpl[] = "/tmp/latchkey-certs-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  const std::string d = dir_ + "/";
  auto ca = [&](const std::string& name, const std::string& cn) {
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj '/CN=" + cn +
        "' -keyout " + d + name + ".key -out " + d + name + ".crt");
  };
  // A leaf signed by `issuer`, with the given SANs and extended key usage; `prefix` runs the
  // signing under faketime for the expired one.
  auto leaf = [&](const std::string& name, const std::string& issuer, const std::string& san, const std::string& usage,
                  const std::string& prefix = "") {
    std::ofstream ext(d + name + ".ext");
    ext << "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=" << usage << "\n";
    if (!san.empty()) ext << "subjectAltName=" << san << "\n";
    ext.close();
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=" + name + "' -keyout " + d + name +
        ".key -out " + d + name + ".csr");
    run(prefix + "openssl x509 -req -in " + d + name + ".csr -CA " + d + issuer + ".crt -CAkey " + d + issuer +
        ".key -CAcreateserial -days 30 -extfile " + d + name + ".ext -out " + d + name + ".crt");
  };
  ca("ca", "latchkey test CA-A");
  ca("other_ca", "latchkey test CA-B");
  const std::string local = "DNS:localhost,IP:127.0.0.1";
  leaf("server", "ca", local, "serverAuth");
  leaf("wrong_name", "ca", "DNS:wrong.invalid", "serverAuth");
  leaf("expired", "ca", local, "serverAuth", "faketime -f -400d ");
  leaf("foreign", "other_ca", local, "serverAuth");
  leaf("client", "ca", "", "clientAuth");
  leaf("other_client", "other_ca", "", "clientAuth");
}

}  // namespace latchkey::test
