// Loads the official test vectors of tests/vectors/ (LATCHKEY_VECTORS_DIR overrides).
#pragma once

#include <boost/json.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace latchkey::test {

inline boost::json::value load_vector(const std::string& name) {
  const char* env = std::getenv("LATCHKEY_VECTORS_DIR");
  std::string dir = env ? env : LATCHKEY_DEFAULT_VECTORS_DIR;
  std::ifstream f(dir + "/" + name);
  if (!f) throw std::runtime_error("cannot open vector file " + dir + "/" + name);
  std::stringstream ss;
  ss << f.rdbuf();
  return boost::json::parse(ss.str());
}

}  // namespace latchkey::test
