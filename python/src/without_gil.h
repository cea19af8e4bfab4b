// Library calls that may block run without the GIL, so that other Python threads (including
// ranks driven as threads of this process) go on meanwhile.
#pragma once

#include <pybind11/pybind11.h>

#include "strata/strata.h"

namespace strata::python {

template <class Call>
strataResult_t withoutGil(Call&& call) {
  pybind11::gil_scoped_release nogil;
  return call();
}

}  // namespace strata::python
