"""Reading a perf tool's output under strata-run: rank 0's result rows."""
import sys


def rank0_times(out, cmd):
    """Per size in bytes, rank 0's out-of-place time in us from the tool's output `out`; exits
    naming the command `cmd` (a list) and the output when there is no result row."""
    times = {}
    for line in out.splitlines():
        fields = line.split()
        # Rows of rank 0: "[0] size count type redop root time algbw busbw #wrong ..."
        if len(fields) < 8 or fields[0] != '[0]' or not fields[1].isdigit():
            continue
        times[int(fields[1])] = float(fields[6])
    if not times:
        sys.exit('no result rows from: ' + ' '.join(cmd) + '\n' + out)
    return times
