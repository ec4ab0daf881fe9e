"""A stand-in for pce-train in test/Tools/pce-study.mlir: it takes the same
command line (MODEL -o RUN --seed S --force|--resume ...) and writes the
summary.json keys pce-study reads, with test_top1 = 0.5 + seed / 100 (and
+ 0.1 with --better), so the table's mean and standard deviation are known.
--fail exits 1; --interrupt-once writes a checkpoint and ends by SIGTERM the
first time (the next run must then pass --resume)."""
import json
import os
import signal
import sys

args = sys.argv[1:]
run = args[args.index("-o") + 1]
seed = int(args[args.index("--seed") + 1])
os.makedirs(run, exist_ok=True)
with open(os.path.join(run, "calls.txt"), "a") as f:
    f.write(" ".join(args) + "\n")
if "--fail" in args:
    print("fake pce-train: failing as asked", file=sys.stderr)
    sys.exit(1)
if "--interrupt-once" in args and seed == 2 and not os.path.exists(os.path.join(run, "checkpoint.json")):
    open(os.path.join(run, "checkpoint.json"), "w").write("{}")
    os.kill(os.getpid(), signal.SIGTERM)
if os.path.exists(os.path.join(run, "checkpoint.json")) and "--resume" not in args:
    sys.exit("fake pce-train: a checkpoint is there but --resume was not given")
top1 = 0.5 + seed / 100 + (0.1 if "--better" in args else 0)
summary = {
    "model": "fake", "test_top1": top1, "test_top5": 0.9, "test_loss": 1.0, "test_images": 100,
    "test_layers": {"block": {"entropy": 0.1, "usage": [0.7, 0.2, 0.1 - seed / 1000, seed / 1000]}},
    "wall_seconds": 10.0 * seed, "parameters": 1234, "epochs": 2, "baseline": "none",
    "phases": [{"phase": 1, "val_top1": 0.4}, {"phase": 2, "val_top1": top1 - 0.05}],
}
json.dump(summary, open(os.path.join(run, "summary.json"), "w"))
