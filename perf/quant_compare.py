#!/usr/bin/env python3
"""Compares the quantised AllGather with the plain one, interleaved: each round runs
all_gather_perf plainly and with each -q format back to back (rotating which goes first), under
strata-run with -np ranks, and the table gives per size the median out-of-place time of each and
its algbw over the plain gather's (the plain time over its time: algbw counts source-type bytes
in both).

  perf/quant_compare.py --bin build/bin --rounds 7 --quants int8 int4 -- -d bfloat16 -b 1M -e 64M -f 4
"""
import argparse
import statistics
import subprocess

from perf_rows import rank0_times


def run(bindir, np, args):
    cmd = [bindir + '/strata-run', '-np', str(np), bindir + '/all_gather_perf'] + args
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return rank0_times(out, cmd)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--bin', required=True, help='bin directory holding strata-run and the tool')
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--np', type=int, default=2)
    ap.add_argument('--quants', nargs='+', default=['int8', 'int4'])
    ap.add_argument('--block', default='128', help='-B of the quantised runs')
    ap.add_argument('args', nargs=argparse.REMAINDER, help='-- all_gather_perf arguments')
    args = ap.parse_args()
    common = args.args[1:] if args.args and args.args[0] == '--' else args.args
    variants = [('plain', [])] + [(q, ['-q', q, '-B', args.block]) for q in args.quants]
    samples = {name: {} for name, _ in variants}
    for r in range(args.rounds):
        order = variants[r % len(variants):] + variants[:r % len(variants)]
        for name, extra in order:
            for size, t in run(args.bin, args.np, common + extra).items():
                samples[name].setdefault(size, []).append(t)
    header = '%12s %12s' % ('size (B)', 'plain (us)')
    for q in args.quants:
        header += ' %12s %10s' % (q + ' (us)', q + '/plain')
    print(header + '    (algbw ratio = plain time / quantised time; medians of %d rounds)'
          % args.rounds)
    for size in sorted(samples['plain']):
        plain = statistics.median(samples['plain'][size])
        row = '%12d %12.1f' % (size, plain)
        for q in args.quants:
            t = statistics.median(samples[q].get(size, [float('nan')]))
            row += ' %12.1f %10.2f' % (t, plain / t if t else float('nan'))
        print(row)


if __name__ == '__main__':
    main()
