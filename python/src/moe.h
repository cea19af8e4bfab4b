// strata.MoeBuffer: MoE dispatch and combine (strataMoe*) on numpy arrays and CPU tensors.
#pragma once

#include <pybind11/pybind11.h>

namespace strata::python {

void bindMoe(pybind11::module_& m);

}  // namespace strata::python
