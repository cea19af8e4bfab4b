#include "bootstrap/cloexec_socket.h"

#include <fcntl.h>

namespace strata {

void setCloseOnExec(int fd, boost::system::error_code& ec) {
  const int flags = ::fcntl(fd, F_GETFD);
  if (flags < 0 || ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
    ec = boost::system::error_code(errno, boost::system::system_category());
}

}  // namespace strata
