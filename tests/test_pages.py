"""The skeleton home page lists activities from the registry, and only listed ones."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from directory import rules
from directory.demo import generate_into
from directory.models import Activity


def test_home_lists_listed_demo_activities_and_nothing_else(app, client, engine):
    with app.app_context():
        from directory.app import today

        day = today()
    generate_into(engine, count=400, seed=5, today=day)
    with Session(engine) as session:
        activities = session.scalars(
            select(Activity).options(selectinload(Activity.moc), selectinload(Activity.provider))
        ).all()
        listed = [a for a in activities if rules.is_listed(a, day)]
        unlisted = [a for a in activities if not rules.is_listed(a, day)]
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    soonest = min(listed, key=lambda a: (a.start_date, a.id))
    assert soonest.title.replace("&", "&amp;").replace("'", "&#39;") in page
    shown = [a for a in unlisted if a.title.replace("&", "&amp;").replace("'", "&#39;") in page]
    # A title may repeat across activities; an unlisted one must not appear by its own right.
    assert all(any(other.title == u.title for other in listed) for u in shown)


def test_home_escapes_provider_text(app, client, engine):
    from tests import factories as f

    with app.app_context():
        from directory.app import today

        day = today()
    with Session(engine) as session:
        a = f.activity(
            title="<script>alert(1)</script> Sepsis Update", start_date=day, end_date=day
        )
        a.moc[0].claim_deadline = day
        session.add(a)
        session.commit()
    page = client.get("/").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Sepsis Update" in page
    assert "<script>alert(1)" not in page


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
