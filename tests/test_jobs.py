"""Large uploads as jobs: 202 at once, the report at the job's URL, all or nothing."""

from __future__ import annotations

import copy
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.provider_data import published
from directory.registry import api_keys
from directory.registry.models import Activity, BatchJob, utcnow
from directory.web import jobs
from tests import factories as f


@pytest.fixture
def keys(engine):
    with Session(engine) as session:
        a = f.provider(id=1, name="Provider A")
        b = f.provider(id=2, name="Provider B")
        session.add_all([a, b])
        issued = {
            "A": api_keys.issue(session, a, "t").key,
            "B": api_keys.issue(session, b, "t").key,
        }
        session.commit()
    return issued


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def example_csv() -> bytes:
    return published.example("csv")[2]


def store_job(engine, token, *, status="queued", dry_run=False, started_at=None):
    """A batch job row as a worker would find it, holding the example CSV."""
    with Session(engine) as session:
        session.add(
            BatchJob(
                token=token,
                provider_id=1,
                filename="activities.csv",
                dry_run=dry_run,
                status=status,
                started_at=started_at,
                data=example_csv(),
                size=len(example_csv()),
            )
        )
        session.commit()


def upload(client, key, data, query="job=1"):
    return client.post(
        f"/api/v1/provider/batch?filename=activities.csv&{query}", data=data, headers=auth(key)
    )


def wait_for(client, key, url):
    for _ in range(300):
        job = client.get(url, headers=auth(key)).get_json()["job"]
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job still {job['status']}")


def activities(engine, provider_id=1):
    with Session(engine) as session:
        return session.scalar(
            select(func.count()).select_from(Activity).where(Activity.provider_id == provider_id)
        )


def test_an_upload_as_a_job_answers_202_and_reports_when_done(client, engine, keys):
    response = upload(client, keys["A"], example_csv())
    assert response.status_code == 202
    url = response.headers["Location"]
    assert response.get_json()["links"]["job"] == url
    assert response.get_json()["job"]["status"] in ("queued", "running", "done")
    job = wait_for(client, keys["A"], url)
    assert job["status"] == "done"
    assert job["report"]["written"] is True
    assert job["report"]["created"] == len(published.example_payloads())
    assert activities(engine) == len(published.example_payloads())


def test_a_large_upload_becomes_a_job_by_itself(client, keys, monkeypatch):
    monkeypatch.setattr(jobs, "INLINE_MAX_BYTES", 100)
    response = upload(client, keys["A"], example_csv(), query="dry_run=1")
    assert response.status_code == 202
    job = wait_for(client, keys["A"], response.headers["Location"])
    assert job["dry_run"] is True and job["report"]["written"] is False


def test_a_job_with_errors_saves_nothing(client, engine, keys):
    bad = example_csv().replace(b"Course", b"Not a format", 1)
    job = wait_for(client, keys["A"], upload(client, keys["A"], bad).headers["Location"])
    assert job["status"] == "done"
    assert job["report"]["written"] is False
    assert job["report"]["errors"]
    assert activities(engine) == 0


def test_a_jobs_report_names_the_row_of_each_tag_and_place_warning(client, engine, keys):
    """A tag that is no tag and a city that cannot be located are saved, and the job's report
    says which row each is on, as an upload answered at once would."""
    from directory.provider_data.formats import csv_format
    from directory.provider_data.formats.rows import flat_row

    payloads = published.example_payloads()
    tagged = copy.deepcopy(payloads[1])
    tagged["topics"] = [*tagged["topics"], "Basket weaving"]
    tagged["occurrences"][1].update(city="Qwxzyville", state=None, country="GB")
    data = csv_format.write([flat_row(payloads[0]), flat_row(tagged)])
    job = wait_for(client, keys["A"], upload(client, keys["A"], data).headers["Location"])
    assert job["status"] == "done" and job["report"]["written"] is True
    warnings = {(w["location"], w["field"]) for w in job["report"]["warnings"]}
    assert warnings == {("row 3", "topics"), ("row 3", "occurrence 2")}
    assert job["report"]["warning_count"] == 2
    assert activities(engine) == 2


def test_a_rejected_file_fails_with_its_reason(client, keys):
    job = wait_for(
        client,
        keys["A"],
        client.post(
            "/api/v1/provider/batch?filename=activities.pdf&job=1",
            data=b"%PDF-1.7",
            headers=auth(keys["A"]),
        ).headers["Location"],
    )
    assert job["status"] == "failed"
    assert job["failure"] and "pdf" in job["failure"].lower()


def test_another_providers_job_is_not_found(client, keys):
    url = upload(client, keys["A"], example_csv()).headers["Location"]
    wait_for(client, keys["A"], url)
    assert client.get(url, headers=auth(keys["B"])).status_code == 404
    assert client.get(url).status_code == 401


def test_a_job_left_running_by_a_dead_worker_runs_again(app, engine, keys):
    store_job(
        engine,
        "left-behind",
        status="running",
        started_at=utcnow() - jobs.STALE_AFTER - timedelta(minutes=1),
    )
    assert jobs.run_pending(app) == 1
    with Session(engine) as session:
        job = session.scalar(select(BatchJob).where(BatchJob.token == "left-behind"))
        assert job.status == "done" and job.data is None
    assert activities(engine) == len(published.example_payloads())
    assert jobs.run_pending(app) == 0  # done jobs are not run twice


def test_the_command_line_runs_the_queue(app, engine, keys):
    store_job(engine, "queued-1", dry_run=True)
    from directory.cli import cli

    result = app.test_cli_runner().invoke(cli, ["jobs", "run"])
    assert result.exit_code == 0, result.output
    assert "ran 1 batch job" in result.output


def test_the_provider_page_shows_its_uploads_and_how_they_ended(client, keys):
    from tests.test_web_security import sign_in

    job = wait_for(client, keys["A"], upload(client, keys["A"], example_csv()).headers["Location"])
    assert job["status"] == "done"
    assert sign_in(client, keys["A"]).status_code == 303
    page = client.get("/providers/1").get_data(as_text=True)
    assert "Your recent uploads" in page
    assert job["id"] in page
    assert f"{job['report']['created']} created" in page
    # Another provider's page, even signed in as A, shows none of A's uploads.
    assert job["id"] not in client.get("/providers/2").get_data(as_text=True)


def test_a_raw_body_is_read_whatever_type_the_client_says(client, engine, keys):
    # curl --data-binary @activities.csv sends application/x-www-form-urlencoded.
    response = client.post(
        "/api/v1/provider/batch?filename=activities.csv",
        data=example_csv(),
        headers={**auth(keys["A"]), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["created"] == len(published.example_payloads())


def test_a_job_that_finds_the_registry_busy_waits_and_tries_again(app, engine, keys, monkeypatch):
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from directory.provider_data import batch

    real = batch.import_records
    calls = []

    def busy_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
        return real(*args, **kwargs)

    monkeypatch.setattr(batch, "import_records", busy_once)
    monkeypatch.setattr(jobs, "BUSY_RETRIES", (0.01,))
    store_job(engine, "busy-1")
    assert jobs.run_pending(app) == 1
    with Session(engine) as session:
        assert session.scalar(select(BatchJob.status).where(BatchJob.token == "busy-1")) == "done"
    assert len(calls) == 2
    assert activities(engine) == len(published.example_payloads())


def test_a_write_leaves_a_large_backlog_to_the_scheduled_sync(
    app, client, engine, keys, monkeypatch
):
    from directory.web import search_service
    from tests.conftest import index_app

    index_app(app)  # the first sync has run
    with Session(engine) as session:
        from directory.registry.models import Provider

        provider = session.get(Provider, 1)
        for n in range(3):
            session.add(f.activity(id=None, provider=provider, provider_activity_id=f"WAIT-{n}"))
        session.commit()
    body = {
        "provider_activity_id": "NOW-1",
        "title": "Heart failure update",
        "format": "Course",
        "start_date": "2030-03-01",
        "end_date": "2030-03-01",
        "delivery": "online",
        "url": "https://example.org/now",
        "cme_credits": 1,
    }
    monkeypatch.setattr(search_service, "AFTER_WRITE_MAX_CHANGES", 2)
    answer = client.put("/api/v1/provider/activities/NOW-1", json=body, headers=auth(keys["A"]))
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.get_json()["search"]["appears"] == "after the next sync"
    monkeypatch.setattr(search_service, "AFTER_WRITE_MAX_CHANGES", 500)
    answer = client.put("/api/v1/provider/activities/NOW-1", json=body, headers=auth(keys["A"]))
    assert answer.get_json()["search"]["appears"] == "now"
