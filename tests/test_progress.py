"""Progress that means something (issue 32.7): the ETA follows the time of computed facts, not of
facts attempted, and a fact that runs long says what it is doing."""

from __future__ import annotations

import io
import threading

import pytest

from dknbench.activity import current, phase
from dknbench.harness.progress import Progress


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_eta_follows_computed_facts_not_the_fast_skipped_ones():
    clock, stream = FakeClock(), io.StringIO()
    shown = Progress(list(range(10)), desc="gcr", stream=stream, clock=clock, heartbeat=1e9)
    for item in shown:
        if item < 3:  # not known: skipped in 10 ms
            clock.now += 0.01
            shown.skipped()
        else:  # computed: 90 s each
            clock.now += 90.0
    lines = stream.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == [f"gcr {n}/10" for n in range(1, 11)]
    # before a computed fact there is no per-fact time to go on
    assert all("ETA ?" in line for line in lines[:3]) and "3 skipped" in lines[2]
    # after the first computed fact: 6 left x 90 s = 9 min (elapsed/attempted would say 2:15)
    assert "ETA 0:09:00" in lines[3] and "elapsed 0:01:30" in lines[3]
    assert "ETA 0:07:30" in lines[4]  # 5 left x 90 s: steady, no jump
    assert lines[-1].endswith("ETA 0:00:00, 3 skipped")
    assert shown.computed_s == pytest.approx([90.0] * 7) and shown.n_skipped == 3


def test_a_long_fact_gets_a_heartbeat_naming_it_and_its_phase():
    clock, stream = FakeClock(), io.StringIO()
    facts = {0: "capital_of:france", 1: "capital_of:peru"}
    shown = Progress([0, 1], desc="kn-localization", stream=stream, clock=clock, heartbeat=60.0,
                     name=lambda i: facts[i])
    beats = []
    for item in shown:
        if item == 1:
            with phase("amig attribution of 'The capital of Peru is [Y].'"):
                clock.now += 59.0
                beats.append(shown.beat())  # under a minute: silent
                clock.now += 2.0
                beats.append(shown.beat())
                clock.now += 30.0
                beats.append(shown.beat())  # the next line only a minute after the last
                clock.now += 31.0
                beats.append(shown.beat())
    assert beats[0] is None and beats[2] is None
    assert beats[1] == ("kn-localization: fact 2/2 (capital_of:peru) still running after 0:01:01: "
                        "amig attribution of 'The capital of Peru is [Y].'")
    assert "after 0:02:02" in beats[3]
    assert stream.getvalue().count("still running") == 2
    assert shown.beat() is None  # no fact in flight after the loop


def test_the_watcher_thread_prints_the_heartbeat_by_itself():
    stream, seen = io.StringIO(), threading.Event()

    class Watched(io.StringIO):
        def write(self, text):
            if "still running" in text:
                seen.set()
            return stream.write(text)

    for _ in Progress([0], desc="gcr", stream=Watched(), heartbeat=0.05):
        with phase("fine-tuning"):
            assert seen.wait(30), "no heartbeat line from the watcher thread"
    assert "gcr: fact 1/1 (0) still running" in stream.getvalue() and ": fine-tuning" in stream.getvalue()


def test_phases_nest_and_unwind():
    assert current() == ""
    with phase("outer"):
        with phase("inner"):
            assert current() == "inner"
        assert current() == "outer"
    assert current() == ""


def test_only_the_innermost_loop_beats():
    clock, stream = FakeClock(), io.StringIO()
    outer = Progress(["gcr"], desc="reproduce", unit="task", stream=stream, clock=clock, heartbeat=60.0)
    for _ in outer:
        inner = Progress([0], desc="gcr", stream=stream, clock=clock, heartbeat=60.0)
        for _ in inner:
            clock.now += 120.0
            assert outer.beat() is None and inner.beat() is not None
