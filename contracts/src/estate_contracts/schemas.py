"""JSON Schema snapshots of every catalogued event, and the check that keeps them compatible.

One file per (event type, version), ``<type>.v<version>.json``, plus ``envelope.json``, under
``contracts/schemas/``. The files are the published contract: other teams (and non-Python consumers)
read them, and the committed copy is the baseline every change is compared with.

    uv run python -m estate_contracts.schemas write   # regenerate after an additive change
    uv run python -m estate_contracts.schemas check   # compare the code with the committed snapshots

``check`` exits 0 when the snapshots match the code, 1 when the code breaks a committed schema (see
``estate_contracts.compat`` for what breaks), and 2 when the code only adds to them, so the snapshots
are out of date. ``write`` refuses to overwrite a snapshot with a breaking change unless given
``--force`` (meant only for events that have never been published).

Output is deterministic: keys sorted, two-space indent, UTF-8, one trailing newline.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from estate_contracts.catalogue import EVENT_MODULES
from estate_contracts.compat import Change, breaking, diff_catalogues
from estate_contracts.envelope import Envelope, EventPayload
from estate_contracts.registry import EVENT_TYPES

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
"""contracts/schemas in a source checkout (the default for both commands)."""

ENVELOPE_FILE = "envelope.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
WRITE_COMMAND = "uv run python -m estate_contracts.schemas write"

assert EVENT_MODULES, "the catalogue must be loaded before schemas are generated"


def schema_file_name(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}.json"


def event_schema(model: type[EventPayload]) -> dict[str, Any]:
    """The schema consumers validate a payload against, with where the event travels.

    ``x-estate-topic`` and ``x-estate-key`` (the payload field that is the Kafka key) are part of the
    contract: moving an event to another topic or key is a breaking change.
    """
    schema: dict[str, Any] = {
        "$schema": DIALECT,
        "$id": f"urn:estate:event:{model.event_type}:v{model.event_version}",
        **model.model_json_schema(mode="validation"),
        "x-estate-event-type": model.event_type,
        "x-estate-event-version": model.event_version,
        "x-estate-topic": model.topic,
    }
    schema["x-estate-key"] = model.key_field
    return schema


def envelope_schema() -> dict[str, Any]:
    return {"$schema": DIALECT, "$id": "urn:estate:envelope", **Envelope.model_json_schema(mode="validation")}


def live_schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema, for the envelope and every catalogued (type, version)."""
    schemas = {ENVELOPE_FILE: envelope_schema()}
    for (event_type, version), model in sorted(EVENT_TYPES.items()):
        schemas[schema_file_name(event_type, version)] = event_schema(model)
    return schemas


def render(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def committed_texts(directory: Path) -> dict[str, str]:
    if not directory.is_dir():
        return {}
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(directory.glob("*.json"))}


@dataclass(frozen=True)
class Comparison:
    """How the committed snapshots differ from the code."""

    changes: list[Change]
    out_of_date: list[str]
    """Files whose text differs (including changes of annotations only), or that are missing or stale."""

    @property
    def breaking(self) -> list[Change]:
        return breaking(self.changes)


def compare(directory: Path = SCHEMA_DIR) -> Comparison:
    committed = committed_texts(directory)
    live = {name: render(schema) for name, schema in live_schemas().items()}
    changes = diff_catalogues(
        {name: json.loads(text) for name, text in committed.items()},
        {name: json.loads(text) for name, text in live.items()},
    )
    out_of_date = sorted(
        name for name in committed.keys() | live.keys() if committed.get(name) != live.get(name)
    )
    return Comparison(changes=changes, out_of_date=out_of_date)


def write(directory: Path = SCHEMA_DIR) -> list[str]:
    """Make the snapshots match the code; the names of the files written or removed."""
    directory.mkdir(parents=True, exist_ok=True)
    live = {name: render(schema) for name, schema in live_schemas().items()}
    touched: list[str] = []
    for name, text in live.items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            touched.append(name)
    for path in sorted(directory.glob("*.json")):
        if path.name not in live:
            path.unlink()
            touched.append(path.name)
    return touched


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m estate_contracts.schemas",
        description="Write or check the JSON Schema snapshots of Estate's message contracts.",
    )
    parser.add_argument("command", choices=("write", "check"))
    parser.add_argument(
        "--dir", type=Path, default=SCHEMA_DIR, help=f"snapshot folder (default {SCHEMA_DIR})"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="write: overwrite snapshots even with breaking changes (only for never-published events)",
    )
    args = parser.parse_args(argv)
    directory: Path = args.dir
    comparison = compare(directory)

    if args.command == "write":
        if comparison.breaking and not args.force:
            _report(comparison.breaking)
            print(
                f"refusing to write {len(comparison.breaking)} breaking change(s): publish a new version "
                "instead (contracts/README.md, 'Versioning'), or pass --force if the event was never "
                "published",
                file=sys.stderr,
            )
            return 1
        touched = write(directory)
        print(f"{len(touched)} schema file(s) written or removed in {directory}")
        for name in touched:
            print(f"  {name}")
        return 0

    if comparison.breaking:
        _report(comparison.breaking)
        print(
            f"{len(comparison.breaking)} breaking change(s) against the committed schemas: publish a new "
            "version instead (contracts/README.md, 'Versioning')",
            file=sys.stderr,
        )
        return 1
    if comparison.out_of_date:
        _report(comparison.changes)
        print(
            f"snapshot out of date ({', '.join(comparison.out_of_date)}): the changes are compatible; "
            f"run `{WRITE_COMMAND}` and commit the result",
            file=sys.stderr,
        )
        return 2
    print(f"{len(live_schemas())} schema snapshot(s) up to date in {directory}")
    return 0


def _report(changes: list[Change]) -> None:
    for change in changes:
        print(change, file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
