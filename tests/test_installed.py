"""The directory works as an installed wheel, not only from a checkout.

Builds the wheel from a copy of the checkout, installs it into a fresh virtualenv outside
the checkout, and fetches `/` and a static file from the installed app. The fresh venv
borrows the test venv's third-party packages through a path entry (not a site directory, so
the checkout's editable install is not seen) instead of downloading them again.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from directory.config import PROJECT_ROOT

SKIP = {".git", ".venv", ".opensearch", "var", "build", "docs", "bench", "tests", "node_modules"}

PROBE = """
import json, sys
from pathlib import Path
import directory
from directory.web import create_app
app = create_app()
client = app.test_client()
home = client.get("/")
css = client.get("/static/site.css")
print(json.dumps({
    "package": str(Path(directory.__file__).resolve()),
    "templates": str(app.config["DIRECTORY"].templates_dir),
    "home": home.status_code,
    "home_has_form": b'<form' in home.data,
    "css": css.status_code,
    "css_bytes": len(css.data),
}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(
        PROJECT_ROOT,
        source,
        ignore=lambda _d, names: [
            n for n in names if n in SKIP or n.endswith(".egg-info") or n == "__pycache__"
        ],
    )
    wheels = work / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(source),
        ],
        check=True,
    )
    (wheel,) = wheels.glob("cme_directory-*.whl")
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    target = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # Install with this venv's pip into the fresh one (which has none of its own).
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
    )
    Path(target, "borrowed-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


def test_installed_wheel_serves_pages_and_static_files(installed: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    env = {"PATH": "/usr/bin:/bin", "DIRECTORY_DATA_DIR": str(run / "var"), "HOME": str(run)}
    subprocess.run(
        [str(installed.parent / "directory"), "init-db"],
        cwd=run,
        env=env,
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [str(installed), "-c", PROBE], cwd=run, env=env, check=True, capture_output=True, text=True
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert not seen["package"].startswith(str(PROJECT_ROOT)), seen
    assert not seen["templates"].startswith(str(PROJECT_ROOT)), seen
    assert seen["home"] == 200 and seen["home_has_form"], seen
    assert (
        seen["css"] == 200
        and seen["css_bytes"] == (PROJECT_ROOT / "static" / "site.css").stat().st_size
    )
