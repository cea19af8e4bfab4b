// -np N: strata-tune starts N processes of itself on this host through strata-run (found beside
// this executable, else on PATH), each bound to a core (--bind-to core), with the same arguments
// less -np, and exits with its status.
#pragma once

namespace strata::tune {

// Replaces this process by strata-run; returns only on failure (with the exit status to use,
// after printing why).
int launchSelf(int np, int argc, char** argv);

// True when a launcher (strata-run, mpirun, Slurm, torchrun) started this process.
bool underLauncher();

}  // namespace strata::tune
