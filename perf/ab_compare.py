#!/usr/bin/env python3
"""Compares two builds of Strata with one perf tool, interleaved: each round runs build A and
build B back to back (alternating which goes first), under strata-run with -np ranks, and the
table gives the median out-of-place time per size of each and B/A.

  perf/ab_compare.py --a OLD/build/bin --b build/bin --rounds 5 -- all_reduce_perf -b 8 -e 64M -f 4

One build under two settings: the same bin directory twice, with --a-env / --b-env:

  perf/ab_compare.py --a build/bin --b build/bin --b-env STRATA_CHECK=1 -- all_reduce_perf -b 8 -e 8
"""
import argparse
import os
import statistics
import subprocess

from perf_rows import rank0_times


def run(bindir, np, tool_args, env_pairs, bind_to=None):
    cmd = [bindir + '/strata-run', '-np', str(np)]
    if bind_to:
        cmd += ['--bind-to', bind_to]
    cmd += [bindir + '/' + tool_args[0]] + tool_args[1:]
    env = dict(os.environ)
    for pair in env_pairs:
        key, _, value = pair.partition('=')
        env[key] = value
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    return rank0_times(out, cmd)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--a', required=True, help='bin directory of build A (the baseline)')
    ap.add_argument('--b', required=True, help='bin directory of build B')
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--np', type=int, default=2)
    ap.add_argument('--bind-to', choices=['core', 'none'],
                    help="strata-run's --bind-to for both builds (core: one core per rank; on a "
                         'loaded host unbound ranks that share a core make small calls cost a '
                         'scheduler tick)')
    ap.add_argument('--a-env', action='append', default=[], metavar='KEY=VALUE',
                    help='environment for the runs of A (repeatable)')
    ap.add_argument('--b-env', action='append', default=[], metavar='KEY=VALUE',
                    help='environment for the runs of B (repeatable)')
    ap.add_argument('tool', nargs=argparse.REMAINDER, help='-- tool and its arguments')
    args = ap.parse_args()
    tool = args.tool[1:] if args.tool and args.tool[0] == '--' else args.tool
    if not tool:
        ap.error('name the perf tool after --')
    samples = {'a': {}, 'b': {}}
    for r in range(args.rounds):
        order = ['a', 'b'] if r % 2 == 0 else ['b', 'a']
        for which in order:
            env_pairs = args.a_env if which == 'a' else args.b_env
            for size, t in run(getattr(args, which), args.np, tool, env_pairs,
                               args.bind_to).items():
                samples[which].setdefault(size, []).append(t)
    print('%12s %12s %12s %8s' % ('size (B)', 'A time (us)', 'B time (us)', 'B/A'))
    for size in sorted(samples['a']):
        a = statistics.median(samples['a'][size])
        b = statistics.median(samples['b'].get(size, [float('nan')]))
        print('%12d %12.2f %12.2f %8.2f' % (size, a, b, b / a if a else float('nan')))


if __name__ == '__main__':
    main()
