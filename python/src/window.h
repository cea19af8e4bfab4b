// strata.SharedMemory (strataMemAlloc) and strata.Window (strataCommWindowRegister): memory peers
// on this host can map, and its registration as a communicator's window.
#pragma once

#include <pybind11/pybind11.h>

namespace strata::python {

// Adds SharedMemory, Window, mem_alloc and Comm.window_register/window_deregister.
void bindWindows(pybind11::module_& m);

}  // namespace strata::python
