"""Two approvers deciding at the same moment: the instance row lock lets one decide and refuses the
other cleanly (proven with threads; on PostgreSQL by SELECT ... FOR UPDATE)."""
from __future__ import annotations

import threading

from approval_apps import actor, approval, deal, prepare, step

from engine.errors import FormworkError
from engine.flows import approvals
from engine.flows.approval_queries import approval_log


def _at_once(runtime, instance, deciders: list[tuple[int, object, dict]]) -> list[str]:
    barrier = threading.Barrier(len(deciders))
    outcomes: list[str] = []

    def decide(user: int, what, options: dict) -> None:
        who = actor(runtime, user)
        barrier.wait()
        try:
            what(runtime, who, instance.id, **options)
            outcomes.append("decided")
        except FormworkError as exc:
            outcomes.append(f"refused: {exc}")

    threads = [threading.Thread(target=decide, args=d) for d in deciders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(outcomes)


def test_two_approvers_approving_at_once_yield_one_decision_and_one_clean_refusal(runtime):
    org = prepare(runtime, approval([step("finance", [{"role": "finance"}])]))
    instance = approvals.submit(runtime, actor(runtime, org.rep), "deal", deal(runtime, org.rep))
    outcomes = _at_once(runtime, instance, [(org.fin, approvals.approve, {}), (org.fin2, approvals.approve, {})])
    assert outcomes == ["decided", "refused: this approval is approved; there is nothing to decide"]
    with runtime.engine.connect() as conn:
        actions = [e.action for e in approval_log(conn, instance.id)]
    assert actions.count("approve") == 1 and actions.count("approved") == 1


def test_an_approval_and_a_rejection_at_once_yield_exactly_one_outcome(runtime):
    org = prepare(runtime, approval([step("finance", [{"role": "finance"}])]))
    instance = approvals.submit(runtime, actor(runtime, org.rep), "deal", deal(runtime, org.rep))
    outcomes = _at_once(runtime, instance, [(org.fin, approvals.approve, {}),
                                            (org.fin2, approvals.reject, {"comment": "no"})])
    assert outcomes[0] == "decided" and outcomes[1].startswith("refused: this approval is ")
    with runtime.engine.connect() as conn:
        finished = [e.action for e in approval_log(conn, instance.id) if e.action in ("approved", "rejected")]
    assert len(finished) == 1


def test_two_submissions_of_one_record_at_once_start_one_approval(runtime):
    org = prepare(runtime, approval([step("finance", [{"role": "finance"}])]))
    record = deal(runtime, org.rep)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def submit() -> None:
        who = actor(runtime, org.rep)
        barrier.wait()
        try:
            approvals.submit(runtime, who, "deal", record)
            outcomes.append("submitted")
        except FormworkError as exc:
            outcomes.append(f"refused: {exc}")

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes)[1].startswith("submitted") and "already waits for approval" in sorted(outcomes)[0]
