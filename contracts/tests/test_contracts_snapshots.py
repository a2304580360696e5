"""The committed JSON Schema snapshots are the published contract and must match the code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from estate_contracts.schemas import (
    ENVELOPE_FILE,
    SCHEMA_DIR,
    WRITE_COMMAND,
    compare,
    live_schemas,
    main,
    render,
)


def test_committed_snapshots_match_the_event_code() -> None:
    comparison = compare(SCHEMA_DIR)

    assert not comparison.breaking, (
        "events changed incompatibly against contracts/schemas:\n"
        + "\n".join(str(change) for change in comparison.breaking)
        + "\npublish a new event version instead (contracts/README.md, 'Versioning')"
    )
    assert not comparison.out_of_date, (
        f"schema snapshots out of date: {comparison.out_of_date}\n"
        f"run `{WRITE_COMMAND}` and commit contracts/schemas"
    )


def test_every_catalogued_event_and_the_envelope_have_a_snapshot_file() -> None:
    names = set(live_schemas())

    assert ENVELOPE_FILE in names
    assert "estate.procurement.request.submitted.v1.json" in names
    assert "estate.notifications.renewal.overdue.v1.json" in names


def test_rendering_is_deterministic_sorted_and_ends_with_one_newline() -> None:
    first = {name: render(schema) for name, schema in live_schemas().items()}
    second = {name: render(schema) for name, schema in live_schemas().items()}

    assert first == second
    for text in first.values():
        assert text.endswith("}\n")
        assert not text.endswith("\n\n")
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.fixture
def snapshot_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "schemas"
    assert main(["write", "--dir", str(directory)]) == 0
    return directory


def test_check_passes_right_after_write(snapshot_dir: Path) -> None:
    assert main(["check", "--dir", str(snapshot_dir)]) == 0


def test_check_fails_when_the_code_removed_a_committed_property(snapshot_dir: Path) -> None:
    # The committed snapshot has a property the code no longer has: as if a field had been deleted.
    path = snapshot_dir / "estate.procurement.request.withdrawn.v1.json"
    schema = json.loads(path.read_text())
    schema["properties"]["withdrawal_channel"] = {"type": "string"}
    path.write_text(render(schema))

    assert main(["check", "--dir", str(snapshot_dir)]) == 1


def test_check_reports_an_additive_change_as_out_of_date(
    snapshot_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (snapshot_dir / "estate.notifications.alert.sent.v1.json").unlink()

    assert main(["check", "--dir", str(snapshot_dir)]) == 2
    assert WRITE_COMMAND in capsys.readouterr().err


def test_check_fails_when_a_committed_event_version_disappeared(snapshot_dir: Path) -> None:
    shutil.copy(
        snapshot_dir / "estate.procurement.request.decided.v1.json",
        snapshot_dir / "estate.procurement.request.decided.v7.json",
    )

    assert main(["check", "--dir", str(snapshot_dir)]) == 1


def test_write_refuses_a_breaking_change_unless_forced(snapshot_dir: Path) -> None:
    path = snapshot_dir / "estate.procurement.request.withdrawn.v1.json"
    schema = json.loads(path.read_text())
    schema["required"].remove("reason")
    path.write_text(render(schema))

    assert main(["write", "--dir", str(snapshot_dir)]) == 1
    assert main(["write", "--dir", str(snapshot_dir), "--force"]) == 0
    assert main(["check", "--dir", str(snapshot_dir)]) == 0
