"""Uploaded files: the type read from the content, its agreement with the name, staging and the store."""
from __future__ import annotations

import io
import os
import time

import pytest
from upload_samples import SCRIPT, SVG, html_loading, png_bytes

from engine.data.files import STAGING_LIFETIME, FileStore, content_mismatch, determine_content, servable_type

HTML = html_loading("/app/ticket/87/files/attachment?inline=1")


@pytest.fixture
def store(tmp_path) -> FileStore:
    return FileStore(tmp_path / "files")


def test_script_text_is_determined_as_plain_text():
    assert determine_content(SCRIPT).content_type == "text/plain"


def test_script_text_named_txt_agrees_with_its_name():
    assert content_mismatch("notes.txt", determine_content(SCRIPT)) is None


def test_html_named_pdf_is_refused_saying_what_it_is():
    assert content_mismatch("invoice.pdf", determine_content(HTML)) == "invoice.pdf: the content is HTML, not a PDF"


def test_svg_named_png_is_refused_saying_what_it_is():
    assert content_mismatch("logo.png", determine_content(SVG)) == "logo.png: the content is SVG, not a PNG image"


def test_real_png_is_determined_as_png_and_agrees_with_its_name():
    content = determine_content(png_bytes())
    assert content.content_type == "image/png"
    assert content_mismatch("logo.png", content) is None


def test_png_named_jpg_is_refused():
    assert content_mismatch("photo.jpg", determine_content(png_bytes())) == \
        "photo.jpg: the content is a PNG image, not a JPEG image"


def test_png_named_txt_is_refused():
    assert content_mismatch("notes.txt", determine_content(png_bytes())) == \
        "notes.txt: the content is a PNG image, not text"


def test_binary_data_named_txt_is_refused():
    assert content_mismatch("notes.txt", determine_content(bytes(range(256)))) == \
        "notes.txt: the content is binary data, not text"


def test_binary_data_of_an_unknown_format_is_stored_as_octet_stream():
    content = determine_content(bytes(range(256)))
    assert content.content_type == "application/octet-stream"
    assert content_mismatch("export.dat", content) is None


def test_chinese_text_in_gb18030_is_plain_text():
    assert determine_content("客户投诉记录\n".encode("gb18030")).content_type == "text/plain"


def test_jpeg_agrees_with_either_of_its_extensions():
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)
    assert [content_mismatch(name, determine_content(jpeg)) for name in ("a.jpg", "a.jpeg")] == [None, None]


def test_a_type_no_content_could_have_is_served_as_octet_stream():
    assert servable_type("text/javascript") == "application/octet-stream"


def test_a_determined_type_is_served_as_it_is():
    assert [servable_type(t) for t in ("image/png", "text/plain")] == ["image/png", "text/plain"]


def test_stage_ignores_the_posted_type_and_stores_the_determined_one(store):
    staged = store.stage(io.BytesIO(SCRIPT), "notes.txt")
    assert staged.value["content_type"] == "text/plain" and staged.value["size"] == len(SCRIPT)


def test_staged_upload_is_not_in_the_store_until_committed(store):
    key = store.stage(io.BytesIO(b"hello"), "hello.txt").value["key"]
    assert store.path(key) is None
    store.commit(key)
    assert store.path(key).read_bytes() == b"hello"


def test_discarded_upload_leaves_nothing_on_disk(store):
    key = store.stage(io.BytesIO(HTML), "invoice.pdf").value["key"]
    store.discard(key)
    assert not store.is_available(key) and list(store.staging.iterdir()) == []


def test_stale_staged_uploads_are_swept_when_another_arrives(store):
    old = store.stage(io.BytesIO(b"old"), "old.txt").value["key"]
    stale = time.time() - STAGING_LIFETIME - 60
    os.utime(store.staging / old, (stale, stale))
    store.stage(io.BytesIO(b"new"), "new.txt")
    assert not store.is_available(old)


def test_upload_name_keeps_only_the_final_part_of_a_windows_path(store):
    assert store.stage(io.BytesIO(b"x"), "C:\\Users\\li\\notes.txt").value["name"] == "notes.txt"
