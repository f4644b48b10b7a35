#!/usr/bin/env python3
"""The paper's experiments (Uhlich et al., ICLR 2020) with mpq, on Fashion-MNIST.

One command per table; every row is one run of build/examples/resnet_cifar
(or quant_toy) with a fixed seed, in its own folder under --out:

  scripts/experiments.py toy                 # the toy experiment: table + plot
  scripts/experiments.py table1 [--seeds 1,2]
  scripts/experiments.py table3 [--seeds 1,2]
  scripts/experiments.py long  [--seeds 1,2,3]  # the headline comparison, 10 + 10 epochs
  scripts/experiments.py status              # which rows are done, partial, missing
  scripts/experiments.py report              # regenerate the tables in docs/results.md
  scripts/experiments.py row ID --seed S [--force]  # (re)run one row, e.g. to check reproducibility
  scripts/experiments.py all --data CIFAR_DIR --paper-schedule --out runs/cifar10  # the real thing

A finished row (summary.json present) is skipped; an interrupted one resumes
from its last checkpoint (resnet_cifar --resume), so a table can be completed
across several sittings: run the same command again. A row whose training
diverges (resnet_cifar exits 3: a non-finite loss, gradient or quantizer
range) is a result too: its folder gets diverged.json with the reason, the
tables say "diverges", and the runner goes on with the next row. Each row's folder holds
run.json with the exact command, the mpq commit and the machine.

The schedule is the same for every row so that rows compare (see SCHEDULE);
"from float" rows start from one shared float pre-training run per seed.
Needs only Python 3's standard library; build mpq first (scripts/setup.sh
--with-data installs Fashion-MNIST too).
"""
import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# One schedule for every row: it fits a 2-core machine (about 4 minutes a row).
SCHEDULE = {
    "epochs": 2,          # float pre-training, quantized training, and float from scratch
    "float_lr": 0.1,      # float training and every row trained from random init
    "finetune_lr": 0.02,  # quantized training from the float network (the paper: 0.01-0.03)
    "schedule": "cosine",
    "batch": 128,
}
# The paper's CIFAR-10 schedule (docs/method.md section 6), for --paper-schedule with --data.
PAPER_SCHEDULE = {
    "epochs": 160,
    "float_lr": 0.1,
    "finetune_lr": 0.01,
    "schedule": "multistep:80,120",
    "batch": 128,
}
# The headline comparison (uniform, weights and activations quantized) on a
# longer schedule: rows long-*, each from its own 10-epoch float network per seed.
LONG_SCHEDULE = dict(SCHEDULE, epochs=10)
LONG_SEEDS = [1, 2, 3]
LONG_ROWS = ["fixed-w2-a4", "learn-qmax-w2-a4", "learned-w70-amax8"]
PARAMS = ["U1", "U2", "U3", "P1", "P2", "P3"]
DEFAULT_SEEDS = [1, 2]

DIVERGED_EXIT_CODE = 3  # train::kDivergedExitCode

# The paper's CIFAR-10 test errors (docs/method.md section 7).
PAPER_T1 = {  # (weights, weights + activations) x (random init, from float)
    "U1": ((17.8, 8.18), (28.9, 9.03)), "U2": ((8.80, 7.44), (9.43, 7.74)),
    "U3": ((8.50, 7.32), (9.23, 7.40)), "P1": ((11.70, 7.90), (22.91, 11.68)),
    "P2": ((53.07, 23.01), (None, 35.68)), "P3": ((10.61, 7.56), (15.10, 9.86)),
}
PAPER_T1_FLOAT = (8.50, 7.29)
# The experiments themselves (each row's resnet_cifar settings) are the
# sections of the preset file, read from it (preset_ids); here only what a
# table shows beside them: the label, the paper's uniform and power-of-two
# errors and the paper's sizes, per section. A section without an entry here,
# or an entry without a section, is an error.
PRESETS = os.path.join(ROOT, "examples", "presets", "paper.ini")
T3_PAPER = {  # id: label, paper uniform, paper pow-2, sizes in the paper
    "float": ("float", 7.29, 7.29, "1048 / 64 / 736"),
    "fixed-w2": ("fixed 2-bit W", 10.81, 8.99, "65.5 / 64 / 736"),
    "learn-qmax-w2": ("learn q_max only, 2-bit W", 9.47, 8.79, "65.5 / 64 / 736"),
    "learned-w70": ("learned, W <= 70 kB", 8.59, 8.53, "70 / 64 / 736"),
    "fixed-w2-a4": ("fixed 2/4", 11.30, 11.62, "65.5 / 8 / 92"),
    "learn-qmax-w2-a4": ("learn q_max only, 2/4", 9.62, 11.29, "65.5 / 8 / 92"),
    "learned-w70-asum92": ("learned, W <= 70 kB, sum act <= 92 kB", 9.38, 11.29, "70 / - / 92"),
    "learned-w70-amax8": ("learned, W <= 70 kB, max act <= 8 kB", 8.58, 11.23, "70 / 8 / -"),
}


def preset_ids(path=PRESETS):
    """The section names of the preset file, in order."""
    ids = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("[") and line.endswith("]"):
                ids.append(line[1:-1].strip())
    return ids


def t3_rows():
    """(id, label, paper uniform, paper pow-2, paper sizes) per preset section."""
    ids = preset_ids()
    missing = [i for i in ids if i not in T3_PAPER]
    unknown = [i for i in T3_PAPER if i not in ids]
    if missing or unknown:
        sys.exit(f"experiments: {PRESETS} and T3_PAPER disagree: sections without table entries "
                 f"{missing}, table entries without sections {unknown}")
    return [(i,) + T3_PAPER[i] for i in ids]


T3_ROWS = t3_rows()
bad_long = [r for r in LONG_ROWS if r not in T3_PAPER]
if bad_long:
    sys.exit(f"experiments: LONG_ROWS names {bad_long}, not sections of {PRESETS}")


class Row:
    """One run: an id, the resnet_cifar flags, its schedule, and the float
    run it starts from (None for a row trained from random init)."""

    def __init__(self, table, rid, flags, start_from=None, schedule=None):
        self.table, self.id, self.flags, self.start_from = table, rid, flags, start_from
        self.schedule = schedule if schedule is not None else SCHEDULE

    def folder(self, out, seed):
        return os.path.join(out, f"{self.id}-s{seed}")


def float_row(table="float", rid="float", s=None):
    s = s if s is not None else SCHEDULE
    return Row(table, rid, ["--mode", "float", "--float-epochs", str(s["epochs"]),
                            "--float-lr", str(s["float_lr"]),
                            "--float-schedule", s["schedule"],
                            "--weight-target", "none", "--act-max-target", "none"], schedule=s)


def table1_rows():
    s = SCHEDULE
    rows = []
    for p in PARAMS:
        for what in ("weights", "all"):
            common = ["--mode", "learned", "--param", p, "--quantize", what, "--epochs",
                      str(s["epochs"]), "--schedule", s["schedule"], "--weight-target", "none",
                      "--act-max-target", "none"]
            rows.append(Row("table1", f"t1-{p}-{what}-scratch",
                            common + ["--float-epochs", "0", "--lr", str(s["float_lr"])]))
            rows.append(Row("table1", f"t1-{p}-{what}-float",
                            common + ["--lr", str(s["finetune_lr"])], start_from=float_row()))
    return rows


def table3_rows():
    s = SCHEDULE
    rows = []
    for family, param in (("uniform", "U3"), ("pow2", "P3")):
        for rid, *_ in T3_ROWS[1:]:
            rows.append(Row("table3", f"t3-{family}-{rid}",
                            ["--config", PRESETS,
                             "--experiment", rid, "--param", param, "--epochs", str(s["epochs"]),
                             "--lr", str(s["finetune_lr"]), "--schedule", s["schedule"]],
                            start_from=float_row()))
    return rows


def long_rows():
    """The long-schedule headline rows (U3 family, weights + activations) and their float run."""
    s = LONG_SCHEDULE
    fl = float_row("long", "long-float", s)
    rows = [fl]
    for rid in LONG_ROWS:
        rows.append(Row("long", f"long-{rid}",
                        ["--config", PRESETS,
                         "--experiment", rid, "--param", "U3", "--epochs", str(s["epochs"]),
                         "--lr", str(s["finetune_lr"]), "--schedule", s["schedule"]],
                        start_from=fl, schedule=s))
    return rows


def all_rows():
    return {r.id: r for r in [float_row()] + table1_rows() + table3_rows() + long_rows()}


def seeds_for(row, seeds, long_seeds=None):
    """Table 1 runs its U3/P3 rows with every seed, the others with the first;
    the long rows run with their own seeds (LONG_SEEDS unless given)."""
    if row.table == "long":
        return long_seeds or LONG_SEEDS
    if row.table == "table1" and not any(f"-{p}-" in row.id for p in ("U3", "P3")):
        return seeds[:1]
    return seeds


def git_commit():
    try:
        c = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                           text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return c + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def row_state(folder):
    """done (summary.json), diverged (diverged.json), partial (a checkpoint to
    resume from) or missing."""
    if os.path.exists(os.path.join(folder, "summary.json")):
        return "done"
    if os.path.exists(os.path.join(folder, "diverged.json")):
        return "diverged"
    if os.path.exists(os.path.join(folder, "last.safetensors")):
        return "partial"
    return "missing"


def run_row(row, seed, a, force=False):
    folder = row.folder(a.out, seed)
    if force and os.path.isdir(folder) and not a.dry_run:
        # Keep the earlier result next to the new one (for a reproducibility check).
        old = f"{folder}.before-{time.strftime('%Y%m%d-%H%M%S')}"
        os.rename(folder, old)
        print(f"moved    {folder} -> {old}")
    state = row_state(folder)
    if state == "done":
        print(f"done     {row.id} seed {seed}")
        if not os.path.exists(os.path.join(folder, "run.json")):
            write_run_json(folder, None, None, row.schedule)  # finished while no runner watched it
        return
    if state == "diverged":
        print(f"diverged {row.id} seed {seed} (recorded; --force runs it again)")
        return
    prog = os.path.join(a.build_dir, "examples", "resnet_cifar")
    if not os.access(prog, os.X_OK):
        sys.exit(f"experiments: {prog} not found: build first (scripts/setup.sh --with-data)")
    flags = list(row.flags)
    if row.start_from is not None:
        fl = row.start_from
        run_row(fl, seed, a)
        flags += ["--float-init", os.path.join(fl.folder(a.out, seed), "float.safetensors")]
    cmd = [prog] + flags + ["--seed", str(seed), "--batch-size", str(row.schedule["batch"]),
                            "--run-dir", folder]
    if a.threads:
        cmd += ["--threads", str(a.threads)]
    if a.data:
        cmd += ["--data", a.data]
    cmd = with_extra_flags(cmd, shlex.split(a.extra))
    if state == "partial":
        cmd.append("--resume")
        print(f"resume   {row.id} seed {seed}")
    else:
        if os.path.isdir(folder):
            shutil.rmtree(folder)  # started but never checkpointed: nothing to keep
        print(f"run      {row.id} seed {seed}")
    print("  " + " ".join(cmd), flush=True)
    if a.dry_run:
        return
    os.makedirs(a.out, exist_ok=True)
    log_path = folder + ".log"
    t0 = time.time()
    # run.json is written next to the run's own files as soon as the folder
    # exists and completed at the end, so a row that finishes while no runner
    # watches it still carries its command and commit.
    with open(log_path, "a") as log:
        child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        while child.poll() is None:
            if os.path.isdir(folder) and not os.path.exists(os.path.join(folder, "run.json")):
                write_run_json(folder, cmd, None, row.schedule)
            time.sleep(2)
    rc = child.returncode
    if rc == DIVERGED_EXIT_CODE and os.path.isdir(folder):
        write_run_json(folder, cmd, time.time() - t0, row.schedule)
        reason = last_error(log_path)
        with open(os.path.join(folder, "diverged.json.tmp"), "w") as f:
            json.dump({"message": reason, "exit_code": rc}, f, indent=1)
        os.replace(os.path.join(folder, "diverged.json.tmp"), os.path.join(folder, "diverged.json"))
        print(f"diverged {row.id} seed {seed}: {reason}", flush=True)
        return
    if rc != 0:
        sys.exit(f"experiments: {row.id} seed {seed} failed (exit {rc}); see {log_path}")
    write_run_json(folder, cmd, time.time() - t0, row.schedule)


def last_error(log_path):
    """The program's last 'error: ...' line in a row's log (why it diverged)."""
    reason = "diverged (no message in the log)"
    with open(log_path, errors="replace") as f:
        for line in f:
            if line.startswith("error: "):
                reason = line[len("error: "):].strip()
    return reason


def with_extra_flags(cmd, extra):
    """cmd with --extra's flags: a flag the row already has gets the extra
    value (resnet_cifar refuses a flag given twice), the others are added."""
    cmd = list(cmd)
    i = 0
    while i < len(extra):
        flag = extra[i]
        has_value = i + 1 < len(extra) and not extra[i + 1].startswith("--")
        if flag in cmd and has_value and cmd.index(flag) + 1 < len(cmd):
            cmd[cmd.index(flag) + 1] = extra[i + 1]
        else:
            cmd += extra[i:i + 1 + has_value]
        i += 1 + has_value
    return cmd


def write_run_json(folder, cmd, wall_time_s, schedule):
    """The run's record: command, commit, machine; wall time once finished
    (accumulated over sittings when the row was resumed)."""
    path = os.path.join(folder, "run.json")
    info = {}
    if os.path.exists(path):
        with open(path) as f:
            info = json.load(f)
    if cmd is not None:
        info["command"] = cmd
        info.setdefault("commit", git_commit())
    info.setdefault("command", None)
    info.setdefault("commit", "unknown")
    info.update({"machine": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                 "schedule": schedule})
    if wall_time_s is not None:
        info["wall_time_s"] = info.get("sittings_s", 0.0) + wall_time_s
        info["sittings_s"] = info["wall_time_s"]
    with open(path + ".tmp", "w") as f:
        json.dump(info, f, indent=1)
    os.replace(path + ".tmp", path)


class Lock:
    """One runner at a time per output folder: a second one would delete the
    first one's unfinished run folders."""

    def __init__(self, out):
        self.path = os.path.join(out, ".runner.lock")

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            with open(self.path) as f:
                pid = f.read().strip()
            if pid.isdigit() and os.path.exists(f"/proc/{pid}"):
                sys.exit(f"experiments: another runner (pid {pid}) is using {os.path.dirname(self.path)}")
            os.remove(self.path)  # left by a runner that died
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return self

    def __exit__(self, *exc):
        os.remove(self.path)


RECORDS = None  # docs/results/runs when reading the default --out (set in main)


def load(folder):
    """A finished row's summary.json (or {"diverged": reason} for a diverged
    row) with its run.json as "run"; None for a row not finished. Without a
    finished run folder, the row's committed record (docs/results/runs/
    <row>-s<seed>.json, written by 'report' from the folder it ran in) stands
    in for it, so tables survive the machine that ran them."""
    s = load_folder(folder)
    if s is None and RECORDS:
        try:
            with open(os.path.join(RECORDS, os.path.basename(folder) + ".json")) as f:
                rec = json.load(f)
            s = dict(rec["summary"], run=rec["run"], log=rec.get("log", []))
        except (OSError, ValueError, KeyError):
            return None
    return s


# The per-epoch fields a record keeps (log.jsonl without timings).
LOG_FIELDS = ["phase", "epoch", "train_ce", "train_penalty", "train_accuracy", "test_accuracy",
              "weight_kb", "mean_weight_bits", "activation_kb_max", "activation_kb_sum",
              "constraints_met", "lr"]


def epoch_log(folder):
    """The run's per-epoch lines (LOG_FIELDS), or [] without log.jsonl."""
    out = []
    try:
        with open(os.path.join(folder, "log.jsonl")) as f:
            for line in f:
                d = json.loads(line)
                out.append({k: d[k] for k in LOG_FIELDS if k in d})
    except (OSError, ValueError):
        return []
    return out


def load_folder(folder):
    try:
        state = row_state(folder)
        if state == "diverged":
            with open(os.path.join(folder, "diverged.json")) as f:
                s = {"diverged": json.load(f)["message"]}
        elif state == "done":
            with open(os.path.join(folder, "summary.json")) as f:
                s = json.load(f)
            s["log"] = epoch_log(folder)
        else:
            return None
        with open(os.path.join(folder, "run.json")) as f:
            s["run"] = json.load(f)
        return s
    except OSError:
        return None


def met_text(s):
    """'yes', or 'no' with each missed target and its excess (summaries since
    the 'targets_missed' field; older ones say only 'no')."""
    if s["constraints_met"]:
        return "yes"
    short = {"weights": "W", "largest activation": "max act", "sum of activations": "sum act"}
    missed = [f"{short.get(m['target'], m['target'])} +{m['over_kb']:.1f} kB"
              for m in s.get("targets_missed", [])]
    return "no" + (f" ({', '.join(missed)})" if missed else "")


def cell(rows, seeds, a, key=lambda s: 100 * (1 - s["test_accuracy"])):
    """'mean (min-max)' of a row's test error over its finished seeds; a
    diverged seed is counted apart ("diverges" when every seed did)."""
    runs = [s for s in (load(rows.folder(a.out, k)) for k in seeds) if s]
    vals = [key(s) for s in runs if "diverged" not in s]
    diverged = len(runs) - len(vals)
    if not runs:
        return "-", []
    if not vals:
        return "diverges", vals
    text = (f"{vals[0]:.2f}" if len(vals) == 1 else
            f"{statistics.mean(vals):.2f} ({min(vals):.2f}-{max(vals):.2f})")
    if diverged:
        text += f"; {diverged} of {len(runs)} seeds diverge"
    return text, vals


def bitwidth_svgs(report_html):
    """The two bar charts under 'Learned bitwidths' in a run's report.html."""
    try:
        with open(report_html) as f:
            html = f.read()
    except OSError:
        return []
    at = html.find("Learned bitwidths")
    svgs = []
    while at >= 0 and len(svgs) < 2:
        b = html.find("<svg", at)
        e = html.find("</svg>", b)
        if b < 0 or e < 0:
            break
        svgs.append(html[b:e + len("</svg>")] + "\n")
        at = e
    return svgs


def toy_table(a, write):
    """The toy experiment's table from toy.csv (initial, final, best MSE, bits,
    and how many steps made the MSE worse), and its plot copied into
    docs/results when `write`."""
    csv_path = os.path.join(a.out, "toy", "toy.csv")
    if not os.path.exists(csv_path):
        return []
    import csv
    runs = {}
    with open(csv_path) as f:
        for r in csv.DictReader(f):
            runs.setdefault(r["param"], []).append((float(r["mse"]), r["bits"]))
    out = ["### Toy experiment (the paper's: 10^4 samples of N(0, 1), 1000 steps of gradient descent, lr 1 for all)\n",
           "| | initial MSE | final MSE | best MSE | final bits | steps that increased the MSE |",
           "|---|---|---|---|---|---|"]
    for p in PARAMS:
        m = runs.get(p)
        if not m:
            continue
        ups = sum(1 for x, y in zip(m, m[1:]) if y[0] > x[0])
        out.append(f"| {p} | {m[0][0]:.4g} | {m[-1][0]:.4g} | {min(x for x, _ in m):.4g} | "
                   f"{m[-1][1]} | {ups} |")
    if write:
        os.makedirs(os.path.join(ROOT, "docs", "results"), exist_ok=True)
        shutil.copyfile(os.path.join(a.out, "toy", "toy.svg"),
                        os.path.join(ROOT, "docs", "results", "toy.svg"))
    out += ["", "![toy experiment](results/toy.svg)", "",
            "Command: `scripts/experiments.py toy` (= `build/examples/quant_toy --samples 10000 "
            "--steps 1000 --lr 1 --seed 1`).", ""]
    return out


def report(a):
    """The tables, into docs/results.md between its markers together with the
    evidence files in docs/results/ (each row's summary and run record, the
    bitwidth plots); with --print, to stdout only, writing nothing."""
    rows = all_rows()
    seeds = a.seeds
    write = not a.print
    out = toy_table(a, write)
    fl = rows["float"]
    fcell, _ = cell(fl, seeds, a)
    out.append("### Table 1 analog (test error %, mean (min-max) over seeds)\n")
    out.append(f"Float network ({SCHEDULE['epochs']} epochs from random init): {fcell}; "
               f"the paper's float: {PAPER_T1_FLOAT[0]} / {PAPER_T1_FLOAT[1]}.\n")
    out.append("| | quantized | random init | from float | paper (random / from float) |")
    out.append("|---|---|---|---|---|")
    for p in PARAMS:
        for i, what in enumerate(("weights", "all")):
            r1, r2 = rows[f"t1-{p}-{what}-scratch"], rows[f"t1-{p}-{what}-float"]
            c1, _ = cell(r1, seeds_for(r1, seeds, a.long_seeds), a)
            c2, _ = cell(r2, seeds_for(r2, seeds, a.long_seeds), a)
            pp = PAPER_T1[p][i]
            paper = " / ".join("diverges" if v is None else f"{v}" for v in pp)
            out.append(f"| {p} | {'weights' if what == 'weights' else 'weights + activations'} "
                       f"| {c1} | {c2} | {paper} |")
    out.append("")
    out.append("### Table 3 analog (test error %, mean (min-max) over seeds; sizes in kB, weights / max act / sum act)\n")
    out.append("| setting | mpq sizes (uniform) | uniform (U3 family) | mpq sizes (pow-2) | pow-2 (P3 family) | paper sizes | paper uniform / pow-2 |")
    out.append("|---|---|---|---|---|---|---|")

    def sizes(r, seeds=seeds):
        s = [load(r.folder(a.out, k)) for k in seeds]
        s = [x for x in s if x and "diverged" not in x]
        if not s:
            return "-"
        return (f"{statistics.mean(x['weight_kb'] for x in s):.1f} / "
                f"{statistics.mean(x['activation_kb_max'] for x in s):.1f} / "
                f"{statistics.mean(x['activation_kb_sum'] for x in s):.1f}")

    for rid, label, pu, pp, psz in T3_ROWS:
        if rid == "float":
            out.append(f"| {label} | {sizes(fl)} | {fcell} | {sizes(fl)} | {fcell} | {psz} | {pu} / {pp} |")
            continue
        ru, rp = rows[f"t3-uniform-{rid}"], rows[f"t3-pow2-{rid}"]
        out.append(f"| {label} | {sizes(ru)} | {cell(ru, seeds, a)[0]} | {sizes(rp)} | "
                   f"{cell(rp, seeds, a)[0]} | {psz} | {pu} / {pp} |")
    out.append("")
    # The headline comparison at 10 + 10 epochs, 3 seeds (issue: learned vs fixed at equal memory).
    long_seeds = a.long_seeds
    if any(load(r.folder(a.out, k)) for r in rows.values() if r.table == "long" for k in long_seeds):
        out.append(f"### Long schedule: {LONG_SCHEDULE['epochs']} float + {LONG_SCHEDULE['epochs']} "
                   f"quantized epochs, uniform, weights + activations (test error %, mean (min-max) "
                   f"over seeds {','.join(map(str, long_seeds))})\n")
        out.append("| setting | seeds done | test error | mpq sizes (W / max act / sum act kB) | "
                   "targets met | paper uniform | paper sizes |")
        out.append("|---|---|---|---|---|---|---|")
        for rid in ["float"] + LONG_ROWS:
            r = rows[f"long-{rid}"]
            done = [x for x in (load(r.folder(a.out, k)) for k in long_seeds) if x]
            met = [x for x in done if "diverged" not in x and x.get("constraints_met")]
            label, paper_uniform, _, paper_sizes = T3_PAPER[rid]
            out.append(f"| {label} | {len(done)} of {len(long_seeds)} | {cell(r, long_seeds, a)[0]} | "
                       f"{sizes(r, long_seeds)} | {len(met)} of {len(done)} | {paper_uniform} | "
                       f"{paper_sizes} |")
        out.append("")
        # The quantized epochs of each row, side by side, for each seed that
        # has them: how the learned row gets to its sizes against the baselines.
        for k in long_seeds:
            logs = {rid: (load(rows[f"long-{rid}"].folder(a.out, k)) or {}).get("log", [])
                    for rid in LONG_ROWS}
            logs = {rid: [x for x in v if x.get("phase") == "quant"] for rid, v in logs.items()}
            if not any(logs.values()):
                continue
            out.append(f"Per quantized epoch, seed {k} (test error % / weights kB / mean weight bits "
                       f"/ max act kB / training penalty):\n")
            out.append("| epoch | " + " | ".join(T3_PAPER[rid][0] for rid in LONG_ROWS) + " |")
            out.append("|---|" + "---|" * len(LONG_ROWS))
            for e in range(1, max(len(v) for v in logs.values()) + 1):
                cells = []
                for rid in LONG_ROWS:
                    x = next((y for y in logs[rid] if y.get("epoch") == e), None)
                    cells.append("-" if x is None else
                                 f"{100 * (1 - x['test_accuracy']):.2f} / {x['weight_kb']:.1f} / "
                                 f"{x['mean_weight_bits']:.2f} / {x['activation_kb_max']:.1f} / "
                                 f"{x['train_penalty']:.3g}")
                out.append(f"| {e} | " + " | ".join(cells) + " |")
            out.append("")
    out.append("### Runs\n")
    out.append("| row | seed | test error % | weights kB | mean weight bits | max act kB | sum act kB | targets met | commit | wall time |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows.values():
        for k in seeds_for(r, seeds, a.long_seeds):
            s = load(r.folder(a.out, k))
            if not s:
                continue
            if "diverged" in s:
                out.append(f"| {r.id} | {k} | diverges: {s['diverged'].replace('|', '/')} | | | | | | "
                           f"{s['run']['commit']} | {s['run'].get('wall_time_s', 0) / 60:.1f} min |")
                continue
            out.append(f"| {r.id} | {k} | {100 * (1 - s['test_accuracy']):.2f} | {s['weight_kb']:.1f} | "
                       f"{s['mean_weight_bits']:.2f} | {s['activation_kb_max']:.1f} | "
                       f"{s['activation_kb_sum']:.1f} | {met_text(s)} | "
                       f"{s['run']['commit']} | {s['run'].get('wall_time_s', 0) / 60:.1f} min |")
    # Evidence kept in the repository: each finished row's summary and run
    # record, and the per-layer bitwidth plots of the constrained runs.
    res_dir = os.path.join(ROOT, "docs", "results")
    if write:
        os.makedirs(os.path.join(res_dir, "runs"), exist_ok=True)
    plots = []
    for r in rows.values():
        for k in seeds_for(r, seeds, a.long_seeds):
            s = load(r.folder(a.out, k))
            if not s:
                continue
            if write:
                with open(os.path.join(res_dir, "runs", f"{r.id}-s{k}.json"), "w") as f:
                    rec = {"summary": {x: y for x, y in s.items() if x not in ("run", "log")},
                           "run": s["run"]}
                    if s.get("log"):
                        rec["log"] = s["log"]
                    json.dump(rec, f, indent=1)
            if "-learned-" in r.id and k == seeds[0] and "diverged" not in s:
                svgs = bitwidth_svgs(os.path.join(r.folder(a.out, k), "report.html"))
                for kind, svg in zip(("weights", "activations"), svgs):
                    name = f"{r.id}-s{k}-{kind}.svg"
                    if write:
                        with open(os.path.join(res_dir, name), "w") as f:
                            f.write(svg)
                    plots.append((r.id, k, kind, name))
                if not svgs:  # the run folder is gone: the plots committed from it stay
                    for kind in ("weights", "activations"):
                        name = f"{r.id}-s{k}-{kind}.svg"
                        if os.path.exists(os.path.join(res_dir, name)):
                            plots.append((r.id, k, kind, name))
    if plots:
        out.append("")
        out.append("### Learned bitwidths per layer (constrained runs, first seed)\n")
        for rid, k, kind, name in plots:
            out.append(f"{rid} (seed {k}), {kind}:\n\n![{rid} {kind}](results/{name})\n")
    text = "\n".join(out) + "\n"
    doc = os.path.join(ROOT, "docs", "results.md")
    begin, end = "<!-- tables:begin (scripts/experiments.py report) -->", "<!-- tables:end -->"
    if a.print or not os.path.exists(doc):
        print(text)
        return
    with open(doc) as f:
        d = f.read()
    if begin not in d or end not in d:
        sys.exit(f"experiments: {doc} lacks the markers {begin} ... {end}")
    d = d[:d.index(begin) + len(begin)] + "\n" + text + d[d.index(end):]
    with open(doc + ".tmp", "w") as f:
        f.write(d)
    os.replace(doc + ".tmp", doc)
    print(f"updated {doc}")


def status(a):
    for r in all_rows().values():
        for k in seeds_for(r, a.seeds, a.long_seeds):
            print(f"{row_state(r.folder(a.out, k)):8s} {r.id} seed {k}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["toy", "table1", "table3", "long", "all", "status", "report", "row"])
    ap.add_argument("id", nargs="?", help="the row id for 'row' (see 'status')")
    ap.add_argument("--seeds", default=None,
                    help=f"comma-separated (default {','.join(map(str, DEFAULT_SEEDS))}; "
                         f"for 'long' and its rows {','.join(map(str, LONG_SEEDS))})")
    ap.add_argument("--seed", type=int, help="the seed for 'row'")
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "experiments"))
    ap.add_argument("--records", default="auto",
                    help="where finished rows' committed records are read when their run folder is "
                         "gone: a folder, 'none', or 'auto' (docs/results/runs when --out is the "
                         "default)")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--data", default="",
                    help="CIFAR-10 binary folder passed to every run (default: Fashion-MNIST); "
                         "use its own --out")
    ap.add_argument("--paper-schedule", action="store_true",
                    help="the paper's 160 + 160 epochs (lr /10 after 80 and 120) instead of SCHEDULE")
    ap.add_argument("--dry-run", action="store_true", help="print the commands only")
    ap.add_argument("--force", action="store_true",
                    help="row: run again even if finished (the earlier folder is kept as <folder>.before-<time>)")
    ap.add_argument("--print", action="store_true",
                    help="report: print the tables instead of updating docs/results.md (writes nothing)")
    ap.add_argument("--extra", default="",
                    help="more resnet_cifar flags for every run (replacing a row's own value of "
                         "the same flag), e.g. '--train-limit 256 --test-limit 200' to check the "
                         "runner quickly (not for results: rows would no longer compare with the "
                         "tables)")
    a = ap.parse_args()
    given = a.seeds is not None
    try:
        a.seeds = [int(x) for x in a.seeds.split(",") if x] if given else list(DEFAULT_SEEDS)
    except ValueError:
        sys.exit(f"experiments: --seeds must be comma-separated integers, got '{a.seeds}'")
    if not a.seeds:
        sys.exit("experiments: --seeds is empty")
    # --seeds given with 'long' sets the long rows' seeds; otherwise they keep LONG_SEEDS.
    a.long_seeds = a.seeds if given and a.what == "long" else list(LONG_SEEDS)
    global RECORDS
    default_out = os.path.join(ROOT, "runs", "experiments")
    if a.records == "auto":
        RECORDS = (os.path.join(ROOT, "docs", "results", "runs")
                   if os.path.abspath(a.out) == os.path.abspath(default_out) else None)
    elif a.records != "none":
        RECORDS = a.records
    if a.data and not os.path.isdir(a.data):
        sys.exit(f"experiments: --data {a.data} is not a folder")
    if a.paper_schedule:
        SCHEDULE.update(PAPER_SCHEDULE)
    rows = all_rows()
    if a.what == "toy":
        prog = os.path.join(a.build_dir, "examples", "quant_toy")
        out = os.path.join(a.out, "toy")
        cmd = [prog, "--samples", "10000", "--steps", "1000", "--lr", "1", "--seed", "1", "--out", out]
        print("  " + " ".join(cmd), flush=True)
        if not a.dry_run:
            subprocess.run(cmd, check=True)
    elif a.what == "long":
        # Seed by seed, so that a partial run already compares every row on one seed.
        with Lock(a.out):
            for k in a.long_seeds:
                for r in rows.values():
                    if r.table == "long":
                        run_row(r, k, a)
    elif a.what in ("table1", "table3", "all"):
        with Lock(a.out):
            for r in rows.values():
                # 'all' is the paper's tables; the long rows have their own schedule.
                if (a.what == "all" and r.table != "long") or r.table == a.what:
                    for k in seeds_for(r, a.seeds, a.long_seeds):
                        run_row(r, k, a)
    elif a.what == "row":
        if a.id not in rows or a.seed is None:
            sys.exit(f"experiments: 'row' needs a known id and --seed (ids: {', '.join(rows)})")
        with Lock(a.out):
            run_row(rows[a.id], a.seed, a, force=a.force)
    elif a.what == "status":
        status(a)
    else:
        report(a)


if __name__ == "__main__":
    main()
