"""Uploaded files never act as a page or a script of the app: typed by content, refused when the
content and the name disagree, served with nosniff, as downloads unless inert, under a sandbox."""
from __future__ import annotations

import io
import re
import uuid
from pathlib import Path

import pytest
from upload_samples import SCRIPT, SVG, html_loading, png_bytes

TICKET = {"type": "question", "priority": "medium", "status": "new"}
HTML_LOADING = html_loading("/app/ticket/87/files/attachment?inline=1")


def ticket(make, unique: str) -> dict:
    return make("ticket", subject=f"Upload {unique}", **TICKET)


def upload(client, record: dict, data: bytes, name: str, posted_type: str, field: str = "attachment"):
    """Posts the ticket's edit form with one file, sent under the browser type `posted_type`."""
    return client.post(f"/app/ticket/{record['id']}/edit", data={
        "subject": record["subject"], **TICKET, "version": str(record["version"]),
        field: (io.BytesIO(data), name, posted_type)}, content_type="multipart/form-data")


def files_on_disk(instance_path: str) -> set[Path]:
    root = Path(instance_path) / "files"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def stored_file(instance_path: str, data: bytes) -> str:
    """Puts bytes straight into the store, as a file saved before types were determined; returns its key."""
    root = Path(instance_path) / "files"
    root.mkdir(parents=True, exist_ok=True)
    key = uuid.uuid4().hex
    (root / key).write_bytes(data)
    return key


# -- what is stored ---------------------------------------------------------------------------------
def test_text_posted_as_javascript_is_stored_as_plain_text(client, make, unique, ui_runtime):
    record = ticket(make, unique)
    assert upload(client, record, SCRIPT, "notes.txt", "text/javascript").status_code == 302
    assert ui_runtime.query().get("ticket", record["id"])["attachment"]["content_type"] == "text/plain"


def test_html_named_pdf_is_refused_beside_the_field(client, make, unique, ui_runtime):
    record = ticket(make, unique)
    response = upload(client, record, HTML_LOADING, "invoice.pdf", "application/pdf")
    assert response.status_code == 422
    assert 'id="attachment-error">invoice.pdf: the content is HTML, not a PDF<' in response.get_data(as_text=True)
    assert ui_runtime.query().get("ticket", record["id"])["attachment"] is None


def test_svg_named_png_is_refused_beside_the_field(client, make, unique):
    response = upload(client, ticket(make, unique), SVG, "logo.png", "image/png")
    assert response.status_code == 422
    assert "logo.png: the content is SVG, not a PNG image" in response.get_data(as_text=True)


def test_real_png_is_accepted_and_stored_as_png(client, make, unique, ui_runtime):
    record = ticket(make, unique)
    assert upload(client, record, png_bytes(), "screen.png", "application/octet-stream").status_code == 302
    assert ui_runtime.query().get("ticket", record["id"])["attachment"]["content_type"] == "image/png"


# -- what stays on disk -----------------------------------------------------------------------------
def test_upload_refused_for_its_content_leaves_nothing_on_disk(client, make, unique, instance_path):
    record = ticket(make, unique)
    before = files_on_disk(instance_path)
    assert upload(client, record, HTML_LOADING, "invoice.pdf", "application/pdf").status_code == 422
    assert files_on_disk(instance_path) == before


def test_upload_the_save_refuses_as_too_large_leaves_nothing_on_disk(client, make, unique, instance_path):
    record = ticket(make, unique)
    before = files_on_disk(instance_path)
    too_large = b"%PDF-1.4\n" + bytes(10 * 1024 * 1024)
    response = upload(client, record, too_large, "scan.pdf", "application/pdf")
    assert response.status_code == 422 and "is too large" in response.get_data(as_text=True)
    assert files_on_disk(instance_path) == before


def test_upload_is_not_in_the_store_until_its_save_is_accepted(client, make, unique, instance_path):
    record = ticket(make, unique)
    response = client.post(f"/app/ticket/{record['id']}/edit", data={
        "subject": "", **TICKET, "version": "1", "attachment": (io.BytesIO(b"log line\n"), "app.log")},
        content_type="multipart/form-data")
    assert response.status_code == 422
    stored = {p for p in files_on_disk(instance_path) if p.parent == Path(instance_path) / "files"}
    token = re.search(r'name="attachment__kept" value="([^"]+)"', response.get_data(as_text=True)).group(1)
    saved = client.post(f"/app/ticket/{record['id']}/edit", data={
        "subject": record["subject"], **TICKET, "version": "1", "attachment__kept": token})
    assert saved.status_code == 302
    now_stored = {p for p in files_on_disk(instance_path) if p.parent == Path(instance_path) / "files"}
    assert len(now_stored - stored) == 1


# -- how it is served -------------------------------------------------------------------------------
def test_text_file_is_served_as_a_plain_text_download_even_when_inline_is_asked(client, make, unique):
    record = ticket(make, unique)
    upload(client, record, SCRIPT, "notes.txt", "text/javascript")
    response = client.get(f"/app/ticket/{record['id']}/files/attachment?inline=1")
    assert response.mimetype == "text/plain"
    assert response.headers["Content-Disposition"].startswith("attachment")


def test_every_file_is_served_with_nosniff_and_a_sandbox(client, make, unique):
    record = ticket(make, unique)
    upload(client, record, SCRIPT, "notes.txt", "text/javascript")
    response = client.get(f"/app/ticket/{record['id']}/files/attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_png_the_browser_did_not_type_is_shown_inline_under_a_sandbox(client, make, unique):
    record = ticket(make, unique)
    upload(client, record, png_bytes(), "screen.png", "application/octet-stream")
    response = client.get(f"/app/ticket/{record['id']}/files/attachment?inline=1")
    assert response.mimetype == "image/png" and response.headers["Content-Disposition"].startswith("inline")
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_pdf_the_browser_did_not_type_opens_inline_under_a_sandbox(client, make, unique):
    record = ticket(make, unique)
    upload(client, record, b"%PDF-1.4\n%%EOF\n", "invoice.pdf", "application/octet-stream")
    response = client.get(f"/app/ticket/{record['id']}/files/attachment?inline=1")
    assert response.mimetype == "application/pdf" and response.headers["Content-Disposition"].startswith("inline")
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


@pytest.mark.parametrize("name", ["notes.txt", "app.log"])
def test_a_file_outside_the_inert_types_is_never_inline(client, make, unique, name):
    record = ticket(make, unique)
    upload(client, record, b"plain words\n", name, "image/png")
    response = client.get(f"/app/ticket/{record['id']}/files/attachment?inline=1")
    assert response.headers["Content-Disposition"].startswith("attachment")


def test_file_saved_under_the_browsers_type_is_served_as_a_binary_download(client, make, unique, ui_runtime,
                                                                         instance_path):
    key = stored_file(instance_path, HTML_LOADING)
    record = make("ticket", subject=f"Old {unique}", **TICKET, attachment={
        "key": key, "name": "invoice.pdf", "size": len(HTML_LOADING), "content_type": "text/html"})
    response = client.get(f"/app/ticket/{record['id']}/files/attachment?inline=1")
    assert response.mimetype == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment")


# -- the reproduced attack, in a real browser -------------------------------------------------------
def _upload_in_browser(page, record: dict, name: str, data: bytes, posted_type: str) -> None:
    page.goto(f"{page.base}/app/ticket/{record['id']}/edit")
    page.set_input_files("#attachment", files=[{"name": name, "mimeType": posted_type, "buffer": data}])
    page.click("button:has-text('Save')")
    page.wait_for_load_state()


@pytest.mark.browser
def test_uploaded_script_does_not_run_when_a_same_origin_page_includes_it(page, make, unique, ui_runtime):
    first = ticket(make, unique)
    _upload_in_browser(page, first, "notes.txt", SCRIPT, "text/javascript")
    page.wait_for_url(re.compile(rf"/app/ticket/{first['id']}$"))
    # The second half of the attack: an HTML document of the app's origin that loads the upload as
    # a script. Served here by the test (however it got there), so only the upload's headers decide.
    probe = f"{page.base}/probe-{unique}"
    script_url = f"/app/ticket/{first['id']}/files/attachment?inline=1"
    page.route(probe, lambda route: route.fulfill(
        content_type="text/html", body=f'<html><head><script src="{script_url}"></script></head><body>probe</body></html>'))
    with page.expect_response(re.compile(re.escape(script_url))):
        page.goto(probe)
    page.wait_for_load_state("load")
    assert page.title() == "" and page.evaluate("document.documentElement.dataset.ran") is None


@pytest.mark.browser
def test_html_named_pdf_is_refused_by_the_form_in_the_browser(page, make, unique, ui_runtime):
    second = ticket(make, unique)
    _upload_in_browser(page, second, "invoice.pdf", HTML_LOADING, "text/html")
    assert page.locator("#attachment-error").inner_text() == "invoice.pdf: the content is HTML, not a PDF"
    assert ui_runtime.query().get("ticket", second["id"])["attachment"] is None


@pytest.mark.browser
def test_html_file_saved_before_typing_downloads_for_an_administrator_instead_of_running(
        page, make, unique, ui_runtime, instance_path):
    script = make("ticket", subject=f"Old script {unique}", **TICKET, attachment={
        "key": stored_file(instance_path, SCRIPT), "name": "notes.txt", "size": len(SCRIPT),
        "content_type": "text/javascript"})
    html = html_loading(f"/app/ticket/{script['id']}/files/attachment?inline=1")
    record = make("ticket", subject=f"Old html {unique}", **TICKET, attachment={
        "key": stored_file(instance_path, html), "name": "invoice.pdf", "size": len(html),
        "content_type": "text/html"})
    page.goto(f"{page.base}/app/ticket/{record['id']}")
    title = page.title()
    with page.expect_download() as download:
        page.evaluate("url => { window.location.href = url }",
                      f"/app/ticket/{record['id']}/files/attachment?inline=1")
    assert download.value.suggested_filename == "invoice.pdf"
    assert page.title() == title and page.evaluate("document.documentElement.dataset.ran") is None


@pytest.mark.browser
def test_png_the_browser_did_not_type_displays_inline_under_its_sandbox(page, make, unique):
    record = ticket(make, unique)
    _upload_in_browser(page, record, "screen.png", png_bytes(), "application/octet-stream")
    response = page.goto(f"{page.base}/app/ticket/{record['id']}/files/attachment?inline=1")
    assert response.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert page.evaluate("document.querySelector('img').naturalWidth") == 1
