"""Hostile formulas in a list's formula= parameter answer quickly with 200 or a clear 4xx/503."""
from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HOSTILE_PATTERNS = ["(a+)+", "(a|a)+", "(a|aa)+$", "(.*a){20}", "((a*)*)*b", "[", "(?P<x"]


@pytest.fixture(scope="module")
def hostile_client(ui_runtime, ui_database_url, instance_path, admin_password):
    """The administrator's client on an app whose reads stop after two seconds."""
    from ui import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": ui_database_url, "SECRET_KEY": "test-secret",
                      "INSTANCE_PATH": instance_path, "WTF_CSRF_ENABLED": False, "QUERY_TIMEOUT_SECONDS": 2})
    client = app.test_client()
    assert client.post("/login", data={"username": "admin", "password": admin_password}).status_code == 302
    return client


def _numbers():
    leaves = st.sampled_from(["2", "amount", "probability", "0.5", "-1"])
    return st.recursive(leaves, lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda a: f"({a[0]})^({a[1]})"),
        st.tuples(inner, inner, inner).map(lambda a: f"IF({a[0]} > 0, {a[1]}, {a[2]})"),
        st.tuples(inner, inner).map(lambda a: f"CASE({a[0]}, 1, {a[1]}, 0)"),
        st.tuples(inner, inner).map(lambda a: f"LEN(TEXT({a[0]}) & TEXT({a[1]}))"),
    ), max_leaves=40)


def _conditions():
    regexes = st.tuples(st.integers(0, 40), st.sampled_from(HOSTILE_PATTERNS)).map(
        lambda a: f'REGEX("{"a" * a[0]}!", "{a[1]}")')
    return st.one_of(_numbers().map(lambda n: f"{n} > 0"), regexes,
                     st.tuples(_numbers(), regexes).map(lambda a: f"AND({a[0]} > 0, {a[1]})"))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_conditions())
def test_hostile_formula_filter_answers_with_a_page_or_a_clear_refusal(hostile_client, source):
    response = hostile_client.get(f"/app/opportunity?formula={quote(source)}")
    assert response.status_code in (200, 400, 422, 503), source


@pytest.mark.parametrize("source", [
    "2^2^2^2^2^2^2^2^2^2 > 0",
    'REGEX("aaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", "(a|a)+")',
    "1" * 5000,
    "(" * 500,
])
def test_probe_formulas_answer_without_a_server_error(hostile_client, source):
    response = hostile_client.get(f"/app/opportunity?formula={quote(source)}")
    assert response.status_code in (200, 400, 422, 503)
    assert "Something went wrong" not in response.get_data(as_text=True)


def test_saving_a_view_with_a_formula_over_the_limit_is_refused(hostile_client):
    response = hostile_client.post("/app/account/views", data={"name": "huge", "formula": "1" * 1_000_000},
                                   follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "the limit is 3,900" in html
    assert "View “huge” saved" not in html
