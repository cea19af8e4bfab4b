#!/usr/bin/env python3
"""Checks src/ against the layers src/CMakeLists.txt declares (build/layers/graph.txt): every
include between folders must follow a declared dependency (directly or through other layers),
and the declared graph itself must be acyclic. Usage: check_layers.py SRC_DIR GRAPH_FILE"""
import os
import re
import sys

src, graph_file = sys.argv[1], sys.argv[2]
deps = {}
for line in open(graph_file):
    line = line.strip()
    if not line:
        continue
    name, _, rest = line.partition(':')
    deps[name] = [d for d in rest.split(';') if d]

problems = []

# The declared graph must be acyclic (depth-first search with colours).
state = {}
def visit(node, path):
    state[node] = 'open'
    for d in deps.get(node, []):
        if d not in deps:
            problems.append('layer %s declares unknown layer %s' % (node, d))
        elif state.get(d) == 'open':
            problems.append('declared cycle: ' + ' -> '.join(path + [node, d]))
        elif d not in state:
            visit(d, path + [node])
    state[node] = 'done'
for n in deps:
    if n not in state:
        visit(n, [])

def reach(node):
    seen, todo = set(), [node]
    while todo:
        for d in deps.get(todo.pop(), []):
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return seen

folders = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))
for f in folders:
    if f not in deps:
        problems.append('folder src/%s is not a declared layer' % f)
include = re.compile(r'^\s*#\s*include\s*"([^"/]+)/')
edges = {}
for f in folders:
    allowed = reach(f) | {f}
    for root, _, files in os.walk(os.path.join(src, f)):
        for name in sorted(files):
            path = os.path.join(root, name)
            for lineno, line in enumerate(open(path, errors='replace'), 1):
                m = include.match(line)
                if not m or m.group(1) not in deps:
                    continue
                top = m.group(1)
                if top != f:
                    edges.setdefault(f, set()).add(top)
                if top not in allowed:
                    problems.append('%s:%d includes %s, but layer %s does not depend on %s' %
                                    (os.path.relpath(path, src), lineno, line.strip(), f, top))

# Cycles in the actual include graph (also caught above, but named as cycles here).
state.clear()
def visit_edges(node, path):
    state[node] = 'open'
    for d in sorted(edges.get(node, ())):
        if state.get(d) == 'open':
            problems.append('include cycle: ' + ' -> '.join(path + [node, d]))
        elif d not in state:
            visit_edges(d, path + [node])
    state[node] = 'done'
for n in sorted(edges):
    if n not in state:
        visit_edges(n, [])

for p in problems:
    print(p)
print('layers: %d folders, %d problems' % (len(folders), len(problems)))
sys.exit(1 if problems else 0)
