"""Outcome helpers shared by the Python end-to-end tests: ctest reads exit 77
as "skipped", any Fail as a failure with the transcript that shows why."""
import sys


class Fail(Exception):
    pass


def skip(why):
    print("skipped: " + why)
    sys.exit(77)


def check(cond, what, transcript=None):
    if not cond:
        if transcript is not None:
            print("---- transcript ----\n" + transcript + "\n--------------------")
        raise Fail(what)
    print("ok: " + what)
