"""Published provider-data files: templates and examples in every format."""

from __future__ import annotations


def test_templates_and_examples_download_in_every_format(client):
    from directory.provider_data.files import read_records

    for fmt in ("csv", "xlsx", "xml", "json"):
        for kind in ("template", "example"):
            response = client.get(f"/provider-data/{kind}.{fmt}")
            assert response.status_code == 200
            assert "attachment" in response.headers["Content-Disposition"]
        example = client.get(f"/provider-data/example.{fmt}")
        records = list(read_records(f"example.{fmt}", example.data))
        assert len(records) == 3 and not any(r.problems for r in records)
    assert client.get("/provider-data/example.exe").status_code == 404
    assert "Your activity id" in client.get("/provider-data").get_data(as_text=True)
