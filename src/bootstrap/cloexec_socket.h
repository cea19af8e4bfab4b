// Bootstrap sockets that a forked and exec'd child never inherits: a rank that started a child
// and then died must not keep its connections (and the root it hosts) open through the child,
// or its peers would wait for their deadline instead of seeing the connection close.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>  // before asio, whose awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>

namespace strata {

// Opens `s` (a tcp::socket or tcp::acceptor) for `protocol` with close-on-exec set atomically,
// which asio's own open() does not do.
template <typename Socket>
void openCloseOnExec(Socket& s, const boost::asio::ip::tcp& protocol,
                     boost::system::error_code& ec) {
  const int fd = ::socket(protocol.family(), SOCK_STREAM | SOCK_CLOEXEC, protocol.protocol());
  if (fd < 0) {
    ec = boost::system::error_code(errno, boost::system::system_category());
    return;
  }
  s.assign(protocol, fd, ec);
  if (ec) ::close(fd);
}

// Sets close-on-exec on an accepted socket. asio accepts with accept(2), not accept4(2), so a
// fork between the two calls could still inherit it; every later fork cannot.
void setCloseOnExec(int fd, boost::system::error_code& ec);

}  // namespace strata
