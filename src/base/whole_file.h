// Whole-file reads and writes through close-on-exec descriptors, so that a file open while
// another thread forks and execs never leaks into the child.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace strata {

// The file's bytes. The error names the path and the reason (strataInvalidArgument when it
// cannot be opened, strataSystemError when a read fails).
Result<std::string> readWholeFile(const std::string& path);

// Replaces the file's contents with `data`, creating it with `mode` (less the umask) if absent.
Status writeWholeFile(const std::string& path, std::string_view data, unsigned mode = 0644);

}  // namespace strata
