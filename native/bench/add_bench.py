"""The Python baseline of the bridge benchmark: the same loop as add_bench.cpp, on Debian's python3-torch
(the same libtorch 1.13.1 build). Usage: python3 add_bench.py [iterations] [rounds]"""
import sys
import time

import torch

iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
a = torch.ones(1)
b = torch.ones(1)
add = torch.add
for _ in range(iterations // 4):
    add(a, b)
best = float("inf")
for r in range(rounds):
    start = time.perf_counter_ns()
    for _ in range(iterations):
        c = add(a, b)
    ns = (time.perf_counter_ns() - start) / iterations
    print(f"round {r}: {ns:.1f} ns/op")
    best = min(best, ns)
print(f"python_add_ns_per_op {best:.1f}")
