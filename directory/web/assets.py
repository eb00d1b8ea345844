"""Static files through WhiteNoise, with fingerprinted names that can be cached forever.

At start-up every file in `static/` (found by `directory.config.static_dir`) is copied once under a content-hashed name
(`site.3f2a9c1b7d4e.css`) into the data folder; pages link to those names through the
`asset()` template function, and WhiteNoise serves them with a far-future, immutable cache
header. The plain names stay served too (with a short cache), because other sites embed
`/static/widget.js` by that stable address.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

from flask import Flask
from whitenoise import WhiteNoise

from directory.web.headers import static_headers

HASHED = re.compile(r"\.[0-9a-f]{12}\.[A-Za-z0-9]+$")


def _fingerprint(static: Path, build: Path) -> dict[str, str]:
    manifest = {}
    for path in sorted(static.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(static)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        hashed = rel.with_name(f"{path.stem}.{digest}{path.suffix}")
        target = build / hashed
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        manifest[rel.as_posix()] = hashed.as_posix()
    return manifest


def install(app: Flask, static: Path, data_dir: Path) -> None:
    build = data_dir / "static-build"
    manifest = _fingerprint(static, build)
    wrapped = WhiteNoise(
        app.wsgi_app,
        max_age=300,
        immutable_file_test=lambda _path, url: bool(HASHED.search(url)),
        allow_all_origins=True,  # the widget and its styles are loaded by other sites
        add_headers_function=static_headers,
    )
    wrapped.add_files(str(static), prefix="static/")
    wrapped.add_files(str(build), prefix="static/")
    app.wsgi_app = wrapped  # type: ignore[method-assign]
    app.jinja_env.globals["asset"] = lambda name: f"/static/{manifest.get(name, name)}"
