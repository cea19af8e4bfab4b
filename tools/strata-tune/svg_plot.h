// --plot FILE.svg: busbw against size (log x axis) per swept series, one panel each, one line per
// candidate and the chosen envelope (the algorithm the tune file records at each size) drawn
// thick beneath them, with labelled ticks and a legend. Plain SVG 1.1, written by hand: no
// plotting dependency. Each panel is a <g class="panel" data-series="allreduce float">, each
// candidate's line one <path class="candidate" data-algo="ring">, the envelope one
// <path class="envelope">.
#pragma once

#include <string>
#include <vector>

#include "sweep.h"

namespace strata::tune {

std::string svgPlot(const std::vector<Series>& series, int nranks, const std::string& title);

}  // namespace strata::tune
