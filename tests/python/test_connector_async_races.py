"""Asynchronous loading raced from vLLM's side: a request aborted the moment its background load
lands, aborted twice, or finished before its load was planned. get_finished must never raise (vLLM's
worker would die with it), each load is reported once, and nothing is left leased or pinned."""

import threading

from fake_vllm import Request, RequestStatus
from test_connector_async import ASKED, make, offer, on_disk, settled, until_landed  # noqa: F401 (fixture)


def test_an_abort_as_the_load_lands_is_not_an_error(make):
    """BackgroundLoads.cancel picks the running loads, then cancels their prefetches: a load landing
    in between has closed its prefetch. Both load threads are kept busy so that the load waits, and
    its prefetch is closed as the landing closes it; the abort must then pass quietly."""
    on_disk(make)
    v = make(enable_async_loading=True)
    background = v.worker.background
    hold = threading.Event()
    busy = [background._threads.submit(hold.wait) for _ in range(2)]   # the two load threads
    try:
        r = Request("landing", ASKED)
        offer(v, r)
        assert background.running == 1
        background._running["landing"].prefetch.close()   # what the landing does first, on the load thread
        r.status = RequestStatus.FINISHED_ABORTED
        assert v.scheduler.request_finished(r, r.block_ids) == (True, None)
        v.worker.get_finished({"landing"})   # raised EngineClosedError: "the prefetch is closed"
    finally:
        hold.set()
        for b in busy:
            b.result(timeout=10)
    recving, failed = until_landed(v, finished={"landing"})
    assert (recving, failed) == ({"landing"}, set())   # cancelled: reported once, nothing to recompute
    assert v.worker.get_finished(set()) == (None, None)
    assert settled(v.worker.engine)


def test_an_abort_twice_and_a_finish_before_the_plan_are_harmless(make):
    on_disk(make)
    v = make(enable_async_loading=True)
    r = Request("twice", ASKED)
    offer(v, r)
    r.status = RequestStatus.FINISHED_ABORTED
    assert v.scheduler.request_finished(r, r.block_ids) == (True, None)
    assert v.scheduler.request_finished(r, r.block_ids) == (True, None)   # its blocks still wait for the load
    assert until_landed(v, finished={"twice"}) == ({"twice"}, set())
    v.worker.get_finished({"twice"})   # aborted again after it landed: nothing to cancel, nothing reported
    assert v.worker.get_finished(set()) == (None, None)
    assert v.scheduler.request_finished(r, r.block_ids) == (False, None)   # landed: freed at once

    # Offered and allocated, then finished before a step planned its load: no load ever starts.
    assert settled(v.worker.engine)
    v.worker.shutdown()   # its records stay on disk for the next instance, whose pool is empty
    v = make(enable_async_loading=True)
    early = Request("early", ASKED)
    external, is_async = v.scheduler.get_num_new_matched_tokens(early, 0)
    assert (external, is_async) == (512, True)
    early.num_computed_tokens = external
    v._allocate(early, external)
    v.scheduler.update_state_after_alloc(early, external, (list(early.block_ids),))
    early.status = RequestStatus.FINISHED_ABORTED
    assert v.scheduler.request_finished(early, early.block_ids) == (False, None)
    from test_connector_async import NOTHING
    plan = v.scheduler.build_step_plan(NOTHING)
    assert [p.request_id for p in plan.requests if p.load is not None] == []
    v.worker.start_load(plan)
    assert v.worker.background.running == 0
    assert settled(v.worker.engine)
