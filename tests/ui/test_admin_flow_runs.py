"""The automation run log page: the latest runs for holders of the `flows` right, nobody else."""
from __future__ import annotations


def test_flow_runs_page_lists_a_run_of_lead_intake(client, ui_runtime, unique):
    lead = ui_runtime.records().create("lead", {"name": f"Run {unique}", "phone": "13800000000"})
    html = client.get("/admin/flow-runs").get_data(as_text=True)
    assert "lead_intake v1" in html and f"/app/lead/{lead['id']}" in html
    assert "update_record" in html and "assign" in html


def test_flow_runs_page_is_refused_without_the_flows_right(rep_client):
    assert rep_client.get("/admin/flow-runs").status_code == 403


def test_flow_runs_page_speaks_chinese(client):
    client.post("/locale", data={"locale": "zh", "next": "/admin/flow-runs"})
    try:
        assert "自动化运行记录" in client.get("/admin/flow-runs").get_data(as_text=True)
    finally:   # the language is the administrator's, kept for the other tests' sessions
        client.post("/locale", data={"locale": "en", "next": "/admin/flow-runs"})
