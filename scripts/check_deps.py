#!/usr/bin/env python3
"""Proves that scripts/packages.txt is complete for what a CMake configure found.

  scripts/check_deps.py --build-dir build --groups build,data [--drop PKG ...]

Every absolute path that configure resolved -- the values in CMakeCache.txt
(*_LIBRARY, *_INCLUDE_DIR, *_DIR, compilers, programs) and every CMake file it
read (build.ninja's re-run dependencies: the found packages' config scripts and
the modules they pulled in) -- must belong to a Debian package that the given
groups install, or that one of those depends on (Depends / Pre-Depends, never
Recommends: setup.sh installs with --no-install-recommends), or to an essential
package. A fresh machine then has every one of them after scripts/setup.sh.

Paths inside the source or build tree are ours; the CUDA toolkit under
/usr/local/cuda is not from Debian and optional (MPQ_CUDA=AUTO builds without
it), so its paths are listed apart and not counted. Any other path that no
package owns fails too: it was installed by hand.

--drop removes packages from the groups first: the check must then fail for a
package configure needs (the test suite shows it does for ocl-icd-opencl-dev).
Exit 0 when complete, 1 with the offending paths and their packages otherwise,
2 for bad usage.
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTSIDE_DEBIAN = ("/usr/local/cuda",)  # optional toolkits not packaged by Debian


def groups_file(path):
    groups = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            name, _, pkgs = line.partition(":")
            groups[name.strip()] = pkgs.split()
    return groups


def installed_packages():
    """name -> (essential, provides, [dependency groups]) of every installed package;
    a dependency group is the list of alternatives of one Depends entry."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package}\t${db:Status-Status}\t${Essential}\t${Provides}\t"
         "${Pre-Depends}\t${Depends}\n"], capture_output=True, text=True, check=True).stdout
    pkgs = {}
    for line in out.splitlines():
        name, status, essential, provides, pre, dep = (line.split("\t") + [""] * 6)[:6]
        if status != "installed":
            continue
        groups = []
        for field in (pre, dep):
            for entry in filter(None, (e.strip() for e in field.split(","))):
                groups.append([bare(a) for a in entry.split("|")])
        prov = [bare(p) for p in provides.split(",") if p.strip()]
        old = pkgs.get(name)  # a Multi-Arch package may be listed once per architecture
        if old:
            groups += old[2]
            prov += old[1]
        pkgs[name] = (essential == "yes" or bool(old and old[0]), prov, groups)
    return pkgs


def bare(dep):
    """'libc6:any (>= 2.34)' -> 'libc6'."""
    return re.split(r"[\s:(]", dep.strip(), maxsplit=1)[0]


def closure(roots, pkgs):
    """The installed packages that `roots` pull in through Depends/Pre-Depends
    (each alternative or virtual package resolved to what is installed)."""
    providers = {}
    for name, (_, prov, _) in pkgs.items():
        for p in prov:
            providers.setdefault(p, []).append(name)
    seen, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        for group in pkgs[p][2]:
            for alt in group:
                todo += [x for x in ([alt] if alt in pkgs else []) + providers.get(alt, [])
                         if x not in seen]
    return seen


def configure_paths(build_dir):
    """Absolute paths named by CMakeCache.txt's values and read by configure."""
    paths = set()
    with open(os.path.join(build_dir, "CMakeCache.txt"), errors="replace") as f:
        for line in f:
            m = re.match(r"^([^#/][^:=]*):[A-Z_]+=(.*)$", line.rstrip("\n"))
            # Where mpq would be installed is an output, not something found.
            if not m or "CMAKE_INSTALL_" in m.group(1):
                continue
            for v in m.group(2).split(";"):
                v = v.strip()
                if v.startswith("/") and os.path.exists(v):
                    paths.add(os.path.normpath(v))
    ninja = os.path.join(build_dir, "build.ninja")
    if os.path.exists(ninja):
        with open(ninja, errors="replace") as f:
            for line in f:
                if line.startswith("build build.ninja: RERUN_CMAKE |"):
                    for v in line.split("|", 1)[1].split():
                        if v.startswith("/") and os.path.exists(v):
                            paths.add(os.path.normpath(v))
    return paths


def usr_merged_twins(path):
    """The same file under the other spelling of Debian's merged /usr."""
    for a, b in (("/usr/lib/", "/lib/"), ("/usr/bin/", "/bin/"), ("/usr/sbin/", "/sbin/")):
        if path.startswith(a):
            yield b + path[len(a):]
        elif path.startswith(b):
            yield a + path[len(b):]


def owners(paths):
    """path -> set of owning packages (empty: none). The path as configure named
    it counts (e.g. the dev symlink libOpenCL.so, not the runtime library it
    points to), under either spelling of Debian's merged /usr; only a path no
    package owns (an /etc/alternatives link such as /usr/bin/c++) is resolved to
    the file it points to."""
    named = {p: {p} | set(usr_merged_twins(p)) for p in paths}
    real = {p: {r} | set(usr_merged_twins(r)) for p in paths for r in [os.path.realpath(p)]}
    every = sorted(set().union(*named.values(), *real.values())) if paths else []
    owned = {}
    for i in range(0, len(every), 200):
        out = subprocess.run(["dpkg-query", "-S"] + every[i:i + 200], capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            if line.startswith("diversion "):
                continue
            pk, _, path = line.partition(": ")
            owned.setdefault(path, set()).update(bare(x) for x in pk.split(",") if x.strip())

    def of(cands):
        return set().union(*(owned.get(c, set()) for c in cands))
    return {p: of(named[p]) or of(real[p]) for p in paths}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--groups", default="build", help="comma-separated groups of packages.txt")
    ap.add_argument("--packages-file", default=os.path.join(ROOT, "scripts", "packages.txt"))
    ap.add_argument("--drop", action="append", default=[],
                    help="check as if this package were not in the groups")
    a = ap.parse_args()
    build_dir = os.path.abspath(a.build_dir)
    if not os.path.exists(os.path.join(build_dir, "CMakeCache.txt")):
        print(f"check_deps: {build_dir} has no CMakeCache.txt (configure first)", file=sys.stderr)
        return 2
    groups = groups_file(a.packages_file)
    wanted = []
    for g in filter(None, a.groups.split(",")):
        if g not in groups:
            print(f"check_deps: no group '{g}' in {a.packages_file}", file=sys.stderr)
            return 2
        wanted += groups[g]
    for d in a.drop:
        if d not in wanted:
            print(f"check_deps: --drop {d}: not in groups {a.groups}", file=sys.stderr)
            return 2
    wanted = [p for p in wanted if p not in a.drop]
    pkgs = installed_packages()
    absent = [p for p in wanted if p not in pkgs]
    if absent:
        print(f"check_deps: not installed: {' '.join(absent)} (run scripts/setup.sh first)",
              file=sys.stderr)
        return 2
    essential = [n for n, (e, _, _) in pkgs.items() if e]
    covered = closure(wanted + essential, pkgs)

    ours = (os.path.realpath(ROOT) + "/", build_dir + "/")
    paths = {p for p in configure_paths(build_dir)
             if not (os.path.realpath(p) + "/").startswith(ours) and not (p + "/").startswith(ours)}
    outside = sorted(p for p in paths
                     if any(p.startswith(o) or os.path.realpath(p).startswith(o)
                            for o in OUTSIDE_DEBIAN))
    paths -= set(outside)
    own = owners(paths)
    bad = []
    for p in sorted(paths):
        o = own[p]
        if not o:
            bad.append(f"  {p}: no Debian package owns it (installed by hand?)")
        elif not o & covered:
            bad.append(f"  {p}: from {', '.join(sorted(o))}, which groups '{a.groups}' of "
                       f"scripts/packages.txt neither list nor depend on")
    print(f"check_deps: {len(paths)} paths that configure of {build_dir} resolved, "
          f"{len(wanted)} listed packages ({len(covered)} with their dependencies and the "
          f"essential set); {len(outside)} paths outside Debian (optional CUDA toolkit) not counted")
    if bad:
        print("check_deps: INCOMPLETE: a fresh machine would lack these after scripts/setup.sh:\n"
              + "\n".join(bad), file=sys.stderr)
        return 1
    print("check_deps: complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
