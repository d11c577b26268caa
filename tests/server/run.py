#!/usr/bin/env python3
"""Runs one module of the server's integration tests.

usage: run.py VISITSYNC_BINARY MODULE [TEST ...]

Runs every `test_*` function of tests/server/test_MODULE.py (or the named
ones), each with a fresh temporary database (vstest.Env) and a time limit,
prints one line per test and a closing "N passed, N failed" line; exits 1
when any failed.
"""
import asyncio
import importlib
import inspect
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vstest  # noqa: E402

TEST_LIMIT = 60  # seconds per test


def run_one(fn):
    env = vstest.Env()
    try:
        if inspect.iscoroutinefunction(fn):
            asyncio.run(asyncio.wait_for(fn(env), TEST_LIMIT))
        else:
            fn(env)
    finally:
        env.close()


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    vstest.BIN = os.path.abspath(sys.argv[1])
    mod = importlib.import_module("test_" + sys.argv[2])
    wanted = set(sys.argv[3:])
    tests = [(n, f) for n, f in vars(mod).items()
             if n.startswith("test_") and callable(f) and (not wanted or n in wanted)]
    passed = failed = 0
    for name, fn in tests:
        t0 = time.monotonic()
        try:
            run_one(fn)
            passed += 1
            print("PASS %s (%.1fs)" % (name, time.monotonic() - t0), flush=True)
        except BaseException as e:  # noqa: B902 - report everything, keep going
            if isinstance(e, KeyboardInterrupt):
                raise
            failed += 1
            print("FAIL %s (%.1fs)" % (name, time.monotonic() - t0), flush=True)
            traceback.print_exc()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not tests else 0


if __name__ == "__main__":
    sys.exit(main())
