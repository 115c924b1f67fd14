# The scripts' one way to wait: a condition polled against a deadline. kafka-python's calls may block without a bound
# (a group join it keeps retrying): ten seconds past the deadline, every thread's stack goes to stderr and the process
# exits.
import faulthandler
import time

_deadline = time.monotonic()


def arm(seconds):
    global _deadline
    _deadline = time.monotonic() + seconds
    faulthandler.dump_traceback_later(seconds + 10, exit=True)


def until(what, condition):
    while not condition():
        if time.monotonic() > _deadline:
            raise TimeoutError(what)
        time.sleep(0.02)  # the members' threads do the work; this one only looks
