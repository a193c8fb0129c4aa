// Reading the host's TCP listeners from /proc/net/tcp{,6}, and finding another process's
// listener on the port (src/server/listen_guard.cpp).
#include "server/listen_guard.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace latchkey::server;

namespace {
const char* kTcp =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0\n"
    "   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 17 1 0 100 0 0 10 0\n"
    "   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 99 1 0 20 4 30 10 -1\n"
    "   3: 0100007F:2328 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 55 1 0 100 0 0 10 0\n"
    "   4: garbage\n";
const char* kTcp6 =
    "  sl  local_address                         remote_address                        st tx_queue rx_queue tr "
    "tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 "
    "00:00000000 00000000     0        0 777 1 0 100 0 0 10 0\n";
}  // namespace

TEST(ListenGuard, ParsesListenRowsOnly) {
  auto v4 = parse_proc_net_tcp(kTcp, false);
  ASSERT_EQ(v4.size(), 2u) << "established, bound-only (07) and garbage rows are skipped";
  EXPECT_EQ(v4[0].address.to_string(), "127.0.0.1");
  EXPECT_EQ(v4[0].port, 8080);
  EXPECT_EQ(v4[0].inode, 4242u);
  EXPECT_EQ(v4[1].address.to_string(), "0.0.0.0");
  EXPECT_EQ(v4[1].port, 22);
  auto v6 = parse_proc_net_tcp(kTcp6, true);
  ASSERT_EQ(v6.size(), 1u);
  EXPECT_EQ(v6[0].address.to_string(), "::1");
  EXPECT_EQ(v6[0].port, 8080);
  EXPECT_TRUE(parse_proc_net_tcp("", false).empty());
}

// A real second listener on a port this test holds with SO_REUSEPORT is found; the test's
// own socket (its inode given as "own") is not; a bound socket that does not listen is not.
TEST(ListenGuard, FindsAnotherListenerOnThePort) {
  auto open_reuse = [] {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    return fd;
  };
  int a = open_reuse();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(a, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(a, reinterpret_cast<sockaddr*>(&addr), &len);
  const auto port = ntohs(addr.sin_port);
  auto inode = [](int fd) {
    struct stat st {};
    ::fstat(fd, &st);
    return static_cast<unsigned long>(st.st_ino);
  };
  const auto loopback = boost::asio::ip::make_address("127.0.0.1");
  EXPECT_FALSE(foreign_listener(loopback, port, {})) << "bound, not listening";
  ASSERT_EQ(::listen(a, 8), 0);
  EXPECT_FALSE(foreign_listener(loopback, port, {inode(a)})) << "our own";
  int b = open_reuse();
  ASSERT_EQ(::bind(b, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << "SO_REUSEPORT shares the port";
  ASSERT_EQ(::listen(b, 8), 0);
  auto other = foreign_listener(loopback, port, {inode(a)});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->inode, inode(b));
  EXPECT_FALSE(foreign_listener(loopback, port, {inode(a), inode(b)}));
  ::close(a);
  ::close(b);
}
