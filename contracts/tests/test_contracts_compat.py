"""The compatibility checker flags every change that could break a producer or consumer of a version."""

from __future__ import annotations

import copy
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from estate_contracts.compat import Change, breaking, diff_catalogues, diff_schemas

BASE: dict[str, Any] = {
    "type": "object",
    "title": "Thing",
    "description": "A thing.",
    "$defs": {
        "Person": {
            "type": "object",
            "properties": {"id": {"type": "string"}, "email": {"type": "string", "maxLength": 254}},
            "required": ["id", "email"],
        }
    },
    "properties": {
        "thing_id": {"type": "string", "format": "uuid"},
        "outcome": {"type": "string", "enum": ["approved", "not_approved"]},
        "owner": {"$ref": "#/$defs/Person", "description": "Who owns it."},
        "tags": {"type": "array", "items": {"type": "string"}},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
    },
    "required": ["thing_id", "outcome", "owner"],
    "x-estate-topic": "estate.things",
    "x-estate-key": "thing_id",
}


def changed(mutate: Any) -> list[Change]:
    new = copy.deepcopy(BASE)
    mutate(new)
    return diff_schemas(BASE, new)


def only_breaking(changes: list[Change]) -> list[str]:
    return [f"{change.where}: {change.message}" for change in breaking(changes)]


def test_identical_schemas_have_no_changes() -> None:
    assert diff_schemas(BASE, copy.deepcopy(BASE)) == []


def test_changed_descriptions_and_titles_are_not_changes() -> None:
    def mutate(s: dict[str, Any]) -> None:
        s["description"] = "Another wording."
        s["properties"]["owner"]["description"] = "The owner."
        s["$defs"]["Person"]["title"] = "Somebody"

    assert changed(mutate) == []


def test_removed_property_is_breaking() -> None:
    def mutate(s: dict[str, Any]) -> None:
        del s["properties"]["tags"]

    assert only_breaking(changed(mutate)) == ["tags: property removed"]


def test_retyped_property_is_breaking() -> None:
    def mutate(s: dict[str, Any]) -> None:
        s["properties"]["tags"]["items"] = {"type": "integer"}

    assert only_breaking(changed(mutate)) == ["tags[]: changed type from string to integer"]


def test_changed_format_is_breaking() -> None:
    def mutate(s: dict[str, Any]) -> None:
        s["properties"]["thing_id"]["format"] = "date"

    assert only_breaking(changed(mutate)) == ["thing_id: format changed from 'uuid' to 'date'"]


def test_retyped_property_inside_a_referenced_definition_is_breaking() -> None:
    def mutate(s: dict[str, Any]) -> None:
        s["$defs"]["Person"]["properties"]["id"] = {"type": "integer"}

    assert only_breaking(changed(mutate)) == ["owner.id: changed type from string to integer"]


def test_tightened_constraint_is_breaking() -> None:
    def mutate(s: dict[str, Any]) -> None:
        s["$defs"]["Person"]["properties"]["email"]["maxLength"] = 100

    assert only_breaking(changed(mutate)) == ["owner.email: maxLength changed from 254 to 100"]


def test_property_that_became_required_is_breaking() -> None:
    def mutate(s: dict[str, Any]) -> None:
        s["required"].append("tags")

    assert only_breaking(changed(mutate)) == ["tags: property became required (old events may lack it)"]


def test_property_that_stopped_being_required_is_breaking() -> None:
    def mutate(s: dict[str, Any]) -> None:
        s["required"].remove("outcome")

    assert only_breaking(changed(mutate)) == [
        "outcome: property is no longer required (old consumers need it)"
    ]


def test_new_required_property_is_breaking() -> None:
    def mutate(s: dict[str, Any]) -> None:
        s["properties"]["cost"] = {"type": "string"}
        s["required"].append("cost")

    assert only_breaking(changed(mutate)) == ["cost: required property added"]


def test_removed_enum_value_is_breaking() -> None:
    def mutate(s: dict[str, Any]) -> None:
        s["properties"]["outcome"]["enum"] = ["approved"]

    assert only_breaking(changed(mutate)) == ["outcome: enumeration value 'not_approved' removed"]


def test_added_enum_value_is_breaking_because_consumers_validate_literals() -> None:
    def mutate(s: dict[str, Any]) -> None:
        s["properties"]["outcome"]["enum"].append("deferred")

    [message] = only_breaking(changed(mutate))
    assert message.startswith("outcome: enumeration value 'deferred' added")


def test_nullable_property_made_non_nullable_is_breaking() -> None:
    def mutate(s: dict[str, Any]) -> None:
        s["properties"]["note"] = {"type": "string", "default": None}

    assert only_breaking(changed(mutate)) == [
        "note: changed type from anyOf[string, null] to string",
    ]


def test_moving_an_event_to_another_topic_or_key_is_breaking() -> None:
    def mutate(s: dict[str, Any]) -> None:
        s["x-estate-topic"] = "estate.other"
        s["x-estate-key"] = "owner.id"

    assert len(only_breaking(changed(mutate))) == 2


def test_added_optional_property_is_additive() -> None:
    def mutate(s: dict[str, Any]) -> None:
        s["properties"]["cost"] = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
        s["$defs"]["Person"]["properties"]["name"] = {"type": "string", "default": ""}

    changes = changed(mutate)
    assert breaking(changes) == []
    assert sorted(str(change) for change in changes) == [
        "additive: cost: optional property added",
        "additive: owner.name: optional property added",
    ]


def test_removed_event_type_is_breaking_and_new_one_additive() -> None:
    old = {"a.v1.json": BASE, "b.v1.json": BASE}
    new = {"a.v1.json": BASE, "a.v2.json": BASE}

    changes = diff_catalogues(old, new)

    assert [str(change) for change in changes] == [
        "BREAKING: b.v1.json: schema removed (event type or version no longer exists)",
        "additive: a.v2.json: schema added",
    ]


def test_recursive_definitions_are_compared_without_looping() -> None:
    tree: dict[str, Any] = {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
            }
        },
        "$ref": "#/$defs/Node",
    }
    retyped = copy.deepcopy(tree)
    retyped["$defs"]["Node"]["properties"]["label"] = {"type": "string"}

    assert [str(change) for change in diff_schemas(tree, retyped)] == [
        "additive: label: optional property added"
    ]


def test_a_pydantic_field_retyped_in_place_is_flagged() -> None:
    class Before(BaseModel):
        amount: int
        status: Literal["open", "closed"]

    class After(BaseModel):
        amount: str
        status: Literal["open", "closed", "lost"]
        note: str | None = None

    messages = only_breaking(diff_schemas(Before.model_json_schema(), After.model_json_schema()))

    assert messages[0] == "amount: changed type from integer to string"
    assert messages[1].startswith("status: enumeration value 'lost' added")
    assert len(messages) == 2


@pytest.mark.parametrize("keyword", ["minimum", "pattern", "minItems"])
def test_any_new_validation_keyword_is_breaking(keyword: str) -> None:
    def mutate(s: dict[str, Any]) -> None:
        s["properties"]["tags"][keyword] = 1

    assert only_breaking(changed(mutate)) == [f"tags: {keyword} changed from None to 1"]
