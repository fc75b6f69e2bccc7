"""Accessibility basics the server can check: every input labelled, landmarks, language, focus style."""
from __future__ import annotations

from html.parser import HTMLParser

import pytest


class Inputs(HTMLParser):
    """Collects the form controls of a page and the ids that labels point at."""

    def __init__(self):
        super().__init__()
        self.controls: list[dict] = []
        self.labelled: set[str] = set()
        self.label_depth = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "label":
            self.label_depth += 1
            if attributes.get("for"):
                self.labelled.add(attributes["for"])
        if tag in ("input", "select", "textarea") and attributes.get("type") not in ("hidden", "submit"):
            self.controls.append({**attributes, "_wrapped": self.label_depth > 0})

    def handle_endtag(self, tag):
        if tag == "label":
            self.label_depth -= 1


def unlabelled(html: str) -> list[dict]:
    parser = Inputs()
    parser.feed(html)
    return [c for c in parser.controls
            if not c["_wrapped"] and c.get("id") not in parser.labelled and not c.get("aria-label")]


@pytest.mark.parametrize("url", ["/app/opportunity", "/app/opportunity/new", "/app/account/new",
                                 "/app/task/new", "/app/opportunity/kanban", "/search?q=a"])
def test_every_input_has_a_label(client, url):
    assert unlabelled(client.get(url).get_data(as_text=True)) == []


def test_pages_declare_their_language_and_main_landmark(client):
    html = client.get("/app/account").get_data(as_text=True)
    assert '<html lang="en">' in html and '<main id="main"' in html and 'href="#main"' in html


def test_focus_is_always_visible(client):
    css = client.get("/static/css/app.css").get_data(as_text=True)
    assert ":focus-visible" in css
