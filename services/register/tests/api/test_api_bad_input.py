"""Bad input is refused with a problem that names what to fix, and a refused write writes nothing: no
record, no audit row, no outbox event, and the record it aimed at unchanged."""

from __future__ import annotations

import re
import uuid

import pytest
from register_api_support import Register, on_both_databases, problem

from estate_register.domain.values import Hosting, LifecycleStage


async def a_contract_body(register: Register, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "reference": "CCC-ICT-0200",
        "title": "Power BI premium capacity",
        "supplier_id": await register.supplier_id("Microsoft"),
        "system_ids": [await register.system_id("Power BI")],
        "contract_type": "saas_subscription",
        "start_date": "2025-04-01",
        "initial_term_end": "2026-03-31",
        "annual_value": "12000.00",
        "notice_period_days": 30,
    }
    body.update(overrides)
    return body


# --- bodies that are not what the API accepts --------------------------------------------------------------


async def test_a_body_that_is_not_json_is_refused(register: Register):
    async with register.nothing_written():
        response = await register.client.post(
            "/api/v1/systems",
            content=b'{"name": "Half a body",',
            headers={**register.admin, "Content-Type": "application/json"},
        )

    body = problem(response, 422)
    assert "not valid JSON" in body["detail"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("holds_personal_data", "perhaps"),
        ("service_area_ids", "Housing"),
        ("capabilities", "repairs"),
        ("resident_facing", {"yes": True}),
        ("supplier_id", 42),
    ],
)
async def test_a_value_of_the_wrong_type_is_refused_naming_the_field(register: Register, field, value):
    async with register.nothing_written():
        response = await register.client.post(
            "/api/v1/systems", json={"name": "Typed wrong", field: value}, headers=register.admin
        )

    problem(response, 422, field=field)


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("lifecycle_stage", "zombie", {s.value for s in LifecycleStage}),
        ("hosting", "mainframe", {h.value for h in Hosting}),
    ],
)
async def test_an_unknown_choice_is_refused_listing_only_the_real_choices(
    register: Register, field, value, allowed
):
    async with register.nothing_written():
        response = await register.client.post(
            "/api/v1/systems", json={"name": "Odd choice", field: value}, headers=register.admin
        )

    body = problem(response, 422, field=field)
    (error,) = [e for e in body["errors"] if e["pointer"].endswith(field)]
    offered = set(re.findall(r"'([a-z_0-9]+)'", error["detail"]))
    assert offered == allowed
    assert value not in error["detail"]


async def test_a_misspelt_field_is_refused_by_its_name(register: Register):
    async with register.nothing_written():
        response = await register.client.post(
            "/api/v1/systems", json={"name": "Spelling", "descripton": "typo"}, headers=register.admin
        )

    body = problem(response, 422, field="descripton")
    assert "unknown field 'descripton'" in body["detail"]


async def test_a_misspelt_field_in_a_change_is_refused_and_nothing_changes(register: Register):
    path = f"/api/v1/systems/{await register.system_id('Orchard')}"
    _, etag = await register.read(path)

    async with register.nothing_written(path):
        response = await register.client.patch(
            path, json={"descripton": "typo"}, headers={**register.admin, "If-Match": etag}
        )

    problem(response, 422, field="descripton")


@pytest.mark.parametrize("field", ["name", "lifecycle_stage", "description", "lead_council", "capabilities"])
async def test_null_for_a_field_that_cannot_be_empty_is_refused(register: Register, field):
    path = f"/api/v1/systems/{await register.system_id('Orchard')}"
    _, etag = await register.read(path)

    async with register.nothing_written(path):
        response = await register.client.patch(
            path, json={field: None}, headers={**register.admin, "If-Match": etag}
        )

    problem(response, 422, field=field)


@pytest.mark.parametrize("field", ["current_term_end", "supplier_id", "start_date", "contract_type"])
async def test_null_for_a_contract_field_that_cannot_be_empty_is_refused(register: Register, field):
    path = f"/api/v1/contracts/{await register.contract_id('CCC-ICT-0003')}"
    _, etag = await register.read(path)

    async with register.nothing_written(path):
        response = await register.client.patch(
            path, json={field: None}, headers={**register.admin, "If-Match": etag}
        )

    problem(response, 422, field=field)


async def test_null_clears_a_field_that_may_be_empty(register: Register):
    path = f"/api/v1/systems/{await register.system_id('Orchard')}"
    _, etag = await register.read(path)

    response = await register.client.patch(
        path, json={"risk_rag": None}, headers={**register.admin, "If-Match": etag}
    )

    assert response.status_code == 200, response.text
    assert response.json()["risk_rag"] is None


# --- values that break a rule ------------------------------------------------------------------------------


@on_both_databases
async def test_a_contract_ending_before_it_starts_is_refused(register: Register):
    body = await a_contract_body(register, start_date="2025-04-01", initial_term_end="2025-03-31")

    async with register.nothing_written():
        response = await register.client.post("/api/v1/contracts", json=body, headers=register.admin)

    problem(response, 422, field="initial_term_end")


@pytest.mark.parametrize("value", ["-1.00", "-0.01", -5])
async def test_negative_money_is_refused(register: Register, value):
    body = await a_contract_body(register, annual_value=value)

    async with register.nothing_written():
        response = await register.client.post("/api/v1/contracts", json=body, headers=register.admin)

    problem(response, 422, field="annual_value")


@pytest.mark.parametrize("value", ["100.001", "0.125", 99.999])
async def test_money_beyond_whole_pence_is_refused(register: Register, value):
    body = await a_contract_body(register, total_value=value)

    async with register.nothing_written():
        response = await register.client.post("/api/v1/contracts", json=body, headers=register.admin)

    problem(response, 422, field="total_value")


async def test_a_negative_notice_period_is_refused(register: Register):
    body = await a_contract_body(register, notice_period_days=-30)

    async with register.nothing_written():
        response = await register.client.post("/api/v1/contracts", json=body, headers=register.admin)

    problem(response, 422, field="notice_period_days")


async def test_a_tacit_renewal_without_a_period_is_refused(register: Register):
    body = await a_contract_body(register, renewal_type="tacit")

    async with register.nothing_written():
        response = await register.client.post("/api/v1/contracts", json=body, headers=register.admin)

    problem(response, 422, field="renewal_period_months")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("supplier_id", "uuid"),
        ("service_area_ids", ["uuid"]),
        ("system_owner_id", "uuid"),
        ("data_owner_id", "uuid"),
        ("lead_council", "XYZ"),
        ("councils", ["SCDC", "XYZ"]),
    ],
)
async def test_a_system_referring_to_something_unknown_is_refused_naming_the_field(
    register: Register, field, value
):
    if value == "uuid":
        value = str(uuid.uuid4())
    elif value == ["uuid"]:
        value = [str(uuid.uuid4())]

    async with register.nothing_written():
        response = await register.client.post(
            "/api/v1/systems", json={"name": "Dangling", field: value}, headers=register.admin
        )

    problem(response, 422, field=field)


@pytest.mark.parametrize(
    "field", ["supplier_id", "owner_id", "budget_holder_id", "signatory_id", "system_ids"]
)
async def test_a_contract_referring_to_something_unknown_is_refused_naming_the_field(
    register: Register, field
):
    unknown = str(uuid.uuid4())
    body = await a_contract_body(register, **{field: [unknown] if field == "system_ids" else unknown})

    async with register.nothing_written():
        response = await register.client.post("/api/v1/contracts", json=body, headers=register.admin)

    problem(response, 422, field=field)


async def test_a_change_to_an_unknown_owner_is_refused_and_the_owner_stays(register: Register):
    path = f"/api/v1/systems/{await register.system_id('Storm')}"
    _, etag = await register.read(path)

    async with register.nothing_written(path):
        response = await register.client.patch(
            path, json={"system_owner_id": str(uuid.uuid4())}, headers={**register.admin, "If-Match": etag}
        )

    problem(response, 422, field="system_owner_id")


async def test_a_duplicate_contract_reference_is_refused(register: Register):
    body = await a_contract_body(register, reference="CCC-ICT-0001")

    async with register.nothing_written():
        response = await register.client.post("/api/v1/contracts", json=body, headers=register.admin)

    problem(response, 409, field="reference")


async def test_a_duplicate_system_reference_is_refused(register: Register):
    async with register.nothing_written():
        response = await register.client.post(
            "/api/v1/systems", json={"name": "Another", "reference": "SYS-00001"}, headers=register.admin
        )

    problem(response, 409, field="reference")


@on_both_databases
async def test_a_second_system_of_the_same_name_in_a_council_is_refused(register: Register):
    async with register.nothing_written():
        response = await register.client.post(
            "/api/v1/systems", json={"name": " orchard "}, headers=register.admin
        )

    problem(response, 409, field="name")


async def test_a_duplicate_supplier_name_is_refused(register: Register):
    async with register.nothing_written():
        response = await register.client.post(
            "/api/v1/suppliers", json={"name": "MRI software"}, headers=register.admin
        )

    problem(response, 409, field="name")


# --- state the rules do not allow --------------------------------------------------------------------------


async def test_a_retired_system_cannot_come_back_to_life_through_a_change(register: Register):
    path = f"/api/v1/systems/{await register.system_id('govmetric')}"
    _, etag = await register.read(path)

    async with register.nothing_written(path):
        response = await register.client.patch(
            path,
            json={"lifecycle_stage": "live", "description": "back"},
            headers={**register.admin, "If-Match": etag},
        )

    body = problem(response, 409, field="lifecycle_stage")
    assert "retired is final" in body["detail"]


async def test_a_lifecycle_change_off_the_allowed_edges_is_refused(register: Register):
    path = f"/api/v1/systems/{await register.system_id('Storm')}"
    _, etag = await register.read(path)

    async with register.nothing_written(path):
        response = await register.client.post(
            f"{path}/lifecycle", json={"to": "planned"}, headers={**register.admin, "If-Match": etag}
        )

    problem(response, 409, field="lifecycle_stage")


async def test_a_retired_system_cannot_be_put_under_a_new_active_contract(register: Register):
    body = await a_contract_body(register, system_ids=[await register.system_id("govmetric")])

    async with register.nothing_written():
        response = await register.client.post("/api/v1/contracts", json=body, headers=register.admin)

    body = problem(response, 409, field="system_ids")
    assert "govmetric" in body["detail"]


async def test_a_retired_system_cannot_be_added_to_an_active_contract(register: Register):
    path = f"/api/v1/contracts/{await register.contract_id('CCC-ICT-0002')}"
    record, etag = await register.read(path)
    systems = [*record["system_ids"], await register.system_id("govmetric")]

    async with register.nothing_written(path):
        response = await register.client.patch(
            path, json={"system_ids": systems}, headers={**register.admin, "If-Match": etag}
        )

    problem(response, 409, field="system_ids")


async def test_a_terminated_contract_cannot_be_reactivated(register: Register):
    path = f"/api/v1/contracts/{await register.contract_id('CCC-ICT-0007')}"
    _, etag = await register.read(path)
    ended = await register.client.patch(
        path, json={"status": "terminated"}, headers={**register.admin, "If-Match": etag}
    )
    _, etag = await register.read(path)

    async with register.nothing_written(path):
        response = await register.client.patch(
            path, json={"status": "active"}, headers={**register.admin, "If-Match": etag}
        )

    assert ended.status_code == 200
    problem(response, 409, field="status")


async def test_extending_a_contract_with_no_option_left_is_refused(register: Register):
    path = f"/api/v1/contracts/{await register.contract_id('CCC-ICT-0005')}"
    _, etag = await register.read(path)

    async with register.nothing_written(path):
        response = await register.client.post(
            f"{path}/renewal-decisions",
            json={"outcome": "extend", "rationale": "One more year", "new_term_end": "2027-04-07"},
            headers={**register.admin, "If-Match": etag},
        )

    problem(response, 409, field="extension_options_left")


async def test_a_renewal_decision_without_a_rationale_is_refused(register: Register):
    path = f"/api/v1/contracts/{await register.contract_id('CCC-ICT-0004')}"
    _, etag = await register.read(path)

    async with register.nothing_written(path):
        response = await register.client.post(
            f"{path}/renewal-decisions",
            json={"outcome": "terminate", "rationale": "   "},
            headers={**register.admin, "If-Match": etag},
        )

    problem(response, 422, field="rationale")


# --- versions: no lost updates --------------------------------------------------------------------------


async def test_a_change_without_if_match_is_refused_as_precondition_required(register: Register):
    path = f"/api/v1/systems/{await register.system_id('Orchard')}"

    async with register.nothing_written(path):
        response = await register.client.patch(
            path, json={"description": "blind write"}, headers=register.admin
        )

    body = problem(response, 428)
    assert "If-Match" in body["detail"]


@pytest.mark.parametrize("stale", ['"{id}:0"', '"{other}:1"', "*", "garbage"])
async def test_a_change_with_an_if_match_that_is_not_the_current_etag_is_refused(register: Register, stale):
    system_id = await register.system_id("Orchard")
    path = f"/api/v1/systems/{system_id}"
    if_match = stale.format(id=system_id, other=uuid.uuid4())

    async with register.nothing_written(path):
        response = await register.client.patch(
            path, json={"description": "old news"}, headers={**register.admin, "If-Match": if_match}
        )

    problem(response, 412)


@on_both_databases
async def test_two_people_changing_the_same_version_cannot_lose_the_first_change(register: Register):
    path = f"/api/v1/systems/{await register.system_id('Storm')}"
    nadia = register.mint("owner", email="nadia.begum@cambridge.gov.uk")
    _, etag_first = await register.read(path)
    _, etag_second = await register.read(path)
    assert etag_first == etag_second

    first = await register.client.patch(
        path, json={"description": "Nadia's description"}, headers={**nadia, "If-Match": etag_first}
    )
    async with register.nothing_written(path):
        second = await register.client.patch(
            path,
            json={"description": "Admin's description"},
            headers={**register.admin, "If-Match": etag_second},
        )

    assert first.status_code == 200, first.text
    problem(second, 412)
    record, etag = await register.read(path)
    assert record["description"] == "Nadia's description"
    assert record["version"] == 2
    assert etag == first.headers["ETag"]


async def test_an_unknown_record_is_not_found(register: Register):
    response = await register.client.get(f"/api/v1/systems/{uuid.uuid4()}", headers=register.admin)

    problem(response, 404)
