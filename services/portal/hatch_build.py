"""Build hook: GOV.UK Frontend's compiled assets go into the package whenever it is built or installed.

``uv sync`` (an editable install), ``uv build`` and the Docker image's ``uv sync --no-editable`` all
build this package with hatchling, which runs :class:`GovukFrontendAssets` first. It:

1. runs ``npm ci --no-audit --no-fund`` in ``services/portal`` when ``node_modules`` is missing, or
   was installed from another ``package-lock.json`` (a stamp in ``node_modules`` holds the lock's hash);
2. copies, from ``node_modules/govuk-frontend/dist/govuk/``, the fonts, images and ``manifest.json``
   under ``assets/`` and ``govuk-frontend.min.css`` / ``govuk-frontend.min.js``, flattened into
   ``src/estate_portal/static/govuk/`` (served at ``/assets``: the stylesheet asks for
   ``/assets/fonts/...`` and ``/assets/images/...``), with a ``VERSION`` file naming the release;
3. for a wheel, lists that directory as build artifacts, so it ships although git ignores it.

The copy is replaced whole (built beside it, then renamed), so a stale file from an older release
never survives an upgrade. Node.js 18+ and npm must be on PATH when ``npm ci`` has to run; without
them the build stops with a message that says what to install, rather than produce a portal without
its styles. uv rebuilds the package when ``package.json``, ``package-lock.json``, this file or the
copied ``VERSION`` change or disappear (``[tool.uv] cache-keys`` in pyproject.toml).

Standard library only. ``python hatch_build.py`` does the same without hatchling (the Dockerfile runs
it in a layer of its own, so that a source change does not fetch the npm packages again).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

PACKAGE = "govuk-frontend"
DIST = Path("node_modules") / PACKAGE / "dist" / "govuk"
#: What the portal serves, as (path under ``DIST``, path under ``static/govuk``).
COPIED = (
    ("assets/fonts", "fonts"),
    ("assets/images", "images"),
    ("assets/manifest.json", "manifest.json"),
    ("govuk-frontend.min.css", "govuk-frontend.min.css"),
    ("govuk-frontend.min.js", "govuk-frontend.min.js"),
)
TARGET = Path("src") / "estate_portal" / "static" / "govuk"
STAMP = Path("node_modules") / ".estate-portal-lock.sha256"
MIN_NODE_MAJOR = 18
INSTALL_HINT = (
    "install Node.js 18+ and npm (Debian/Ubuntu: apt-get install nodejs npm; elsewhere "
    "https://nodejs.org/en/download), then run the install again"
)


class AssetBuildError(RuntimeError):
    """The assets cannot be built; the message says what to do."""


def build_assets(root: Path, say: Callable[[str], object] = print) -> Path:
    """Install the locked npm packages if needed and copy GOV.UK Frontend's assets; the target dir."""
    lock = root / "package-lock.json"
    if not lock.is_file():
        raise AssetBuildError(f"{lock} is missing: it pins {PACKAGE}; restore it from version control")
    lock_hash = hashlib.sha256(lock.read_bytes()).hexdigest()
    stamp = root / STAMP
    installed = (root / DIST).is_dir() and stamp.is_file() and stamp.read_text().strip() == lock_hash
    if not installed:
        say(f"estate-portal: npm ci in {root} ({PACKAGE} and the test tools, from package-lock.json)")
        _npm_ci(root)
        stamp.write_text(lock_hash + "\n")
    return _copy(root, say)


def _npm_ci(root: Path) -> None:
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        missing = [name for name, path in (("node", node), ("npm", npm)) if path is None]
        raise AssetBuildError(
            f"estate-portal needs npm to fetch {PACKAGE} (its styles, fonts and scripts), but "
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not on PATH: {INSTALL_HINT}"
        )
    # Both programs are the ones on PATH (shutil.which), with fixed arguments.
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)  # noqa: S603
    found = version.stdout.strip()
    major = re.match(r"v?(\d+)", found)
    if major is None or int(major.group(1)) < MIN_NODE_MAJOR:
        raise AssetBuildError(
            f"estate-portal: Node.js {found or '(unknown version)'} is too old: {INSTALL_HINT}"
        )
    # npm ci refuses a package.json and lock that disagree, and installs exactly what the lock says.
    env = {**os.environ, "npm_config_update_notifier": "false"}
    result = subprocess.run(  # noqa: S603
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise AssetBuildError(
            f"estate-portal: `npm ci` failed in {root} (exit {result.returncode}):\n"
            f"{result.stdout[-4000:]}{result.stderr[-4000:]}\n"
            "If package.json changed, run `npm install` in services/portal and commit package-lock.json."
        )


def _copy(root: Path, say: Callable[[str], object]) -> Path:
    source = root / DIST
    release = json.loads((root / "node_modules" / PACKAGE / "package.json").read_text())["version"]
    target = root / TARGET
    if (
        (target / "VERSION").is_file()
        and (target / "VERSION").read_text().strip() == release
        and all((target / name).exists() for _, name in COPIED)
    ):
        return target
    draft = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(draft, ignore_errors=True)
    draft.mkdir(parents=True)
    for path, name in COPIED:
        if not (source / path).exists():
            raise AssetBuildError(
                f"estate-portal: {source / path} is missing: has {PACKAGE} {release} changed its layout? "
                "Update COPIED in services/portal/hatch_build.py"
            )
        if (source / path).is_dir():
            shutil.copytree(source / path, draft / name)
        else:
            shutil.copy2(source / path, draft / name)
    (draft / "VERSION").write_text(release + "\n")
    shutil.rmtree(target, ignore_errors=True)
    draft.rename(target)
    say(f"estate-portal: {PACKAGE} {release} assets copied to {target}")
    return target


if __name__ == "__main__":  # `python hatch_build.py`: the same, with no package build around it
    build_assets(Path(__file__).resolve().parent)
else:  # hatchling imports this file to find the hook
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface  # type: ignore[import-not-found]

    class GovukFrontendAssets(BuildHookInterface):  # type: ignore[misc,type-arg]
        PLUGIN_NAME = "custom"

        def initialize(self, version: str, build_data: dict[str, Any]) -> None:
            if self.target_name != "wheel":  # the sdist ships package.json and the lock, not the output
                return
            build_assets(Path(self.root), say=self.app.display_info)
            # Artifacts are included although git ignores them; "packages" maps src/ away as for the rest.
            build_data["artifacts"].append(f"/{TARGET.as_posix()}/")
