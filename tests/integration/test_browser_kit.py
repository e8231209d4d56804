"""The browser kit itself: an offline page really is offline, and what it tried to fetch is on record."""

from __future__ import annotations


def test_an_offline_page_loads_local_files_and_records_what_it_tried_to_fetch(tmp_path, offline_page):
    page, log = offline_page
    (tmp_path / "local.js").write_text("document.getElementById('local').textContent = 'ran';")
    html = tmp_path / "page.html"
    html.write_text(
        "<html><body><p id=local>not run</p><p id=cdn>not run</p>"
        "<script src='local.js'></script>"
        "<script src='https://cdn.jsdelivr.net/npm/vega@5'></script>"
        "<script>document.getElementById('cdn').textContent = typeof vega;</script>"
        "</body></html>"
    )
    page.goto(html.as_uri())
    assert page.inner_text("#local") == "ran"
    assert page.inner_text("#cdn") == "undefined"
    assert log.outside_requests == ["https://cdn.jsdelivr.net/npm/vega@5"]
