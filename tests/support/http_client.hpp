// Test harness: a deliberately simple blocking HTTP/1.1 client on raw sockets, so tests can
// send exactly the bytes they mean (malformed requests, slow clients, pipelining).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace latchkey::test {

struct HttpResult {
  int status = 0;                              // 0: no response (connection closed or timed out)
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& lower) const {
    auto it = headers.find(lower);
    return it == headers.end() ? std::string() : it->second;
  }
};

class HttpConnection {
 public:
  explicit HttpConnection(std::uint16_t port);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool send_raw(const std::string& bytes);
  // Reads one response (Content-Length framed). status 0 when the peer closed first.
  HttpResult read_response(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // True when the server closed the connection (read returns 0) within the timeout.
  bool closed_by_peer(std::chrono::milliseconds timeout);

  HttpResult request(const std::string& method, const std::string& target, const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {});

 private:
  int fd_ = -1;
  std::string buffer_;
};

// One request on a fresh connection.
// `Authorization: Basic ...` for user:pass (standard base64, RFC 7617).
std::string basic_authorization(std::string_view user_pass);

HttpResult http_request(std::uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body = "", const std::map<std::string, std::string>& headers = {});

}  // namespace latchkey::test
