"""The handler gateway over the real stack: tokens, standing, confidentiality, refusals, audit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.store import tokens
from domain.contract import HANDLING_ORDER_QUERY, STATUS_QUERY
from domain.models import Role
from starter.client import HotlineClient
from tests.support.gateway import Gateway, gateway_on, now_iso
from tests.support.workflows import new_order
from workers.gateway import create_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def gw(dev_client: Client, pool: asyncpg.Pool, task_queue: str) -> AsyncIterator[Gateway]:
    async with gateway_on(dev_client, pool, task_queue) as g:
        yield g


async def _audit(pool: asyncpg.Pool, order_no: str) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT * FROM audit_log WHERE order_no = $1 ORDER BY id", order_no)
    return [dict(r) for r in rows]


class TestUnitScope:
    async def test_a_district_acts_on_an_order_it_is_assigned_to(self, gw: Gateway) -> None:
        """district-hexi assists: it contacts and contributes; the lead submits; the order moves on."""
        no = await gw.in_handling(assisting=["district-hexi"])
        r = await gw.ok("district-hexi", no, "contact_reporter", at=now_iso(), method="phone", note="已联系")
        assert r == {"order_no": no, "action": "contact_reporter", "phase": "in_handling", "outcome": None,
                     "request_id": None}  # fmt: skip
        await gw.ok("district-hexi", no, "contribute", content="已排查线路")
        await gw.ok("dept-lighting", no, "contact_reporter", at=now_iso(), method="visit")
        r = await gw.ok("dept-lighting", no, "submit_result", result="已更换灯具", reporter_informed_at=now_iso())
        assert r["phase"] == "result_review"  # the platform reviews the result before it replies
        status = await gw.client.status(no)
        hexi = next(a for a in status.assignments if a.unit == "district-hexi")
        assert [c.content for c in hexi.contributions] == ["已排查线路"]
        assert status.timeline[-1].actor is not None
        assert status.timeline[-1].actor.person == "张工"
        r = await gw.ok("center", no, "review_result", approved=True, comment="结果属实")
        assert r["phase"] == "awaiting_callback"

    async def test_a_district_cannot_touch_an_order_it_is_not_assigned_to(self, gw: Gateway) -> None:
        """403 naming the rule, for an order of another district; the order is as it was."""
        no = await gw.in_handling(lead="dept-lighting", assisting=["district-nankai"])
        before = await gw.snapshot(no)
        for action, body in [
            ("contribute", {"content": "x"}),
            ("contact_reporter", {"at": now_iso(), "method": "phone"}),
            ("return_order", {"reason": "不属于本区", "basis": "三定方案"}),
        ]:
            r = await gw.act("district-hexi", no, action, **body)
            assert r.status_code == 403, r.text
            assert r.json()["detail"] == (
                f"{action} refused: district-hexi (handler) is not a unit assigned to this order; "
                "allowed: a handler of a unit assigned to it"
            )
        assert await gw.snapshot(no) == before

    async def test_units_never_read_the_whole_order(self, gw: Gateway) -> None:
        """`status` is 403 for a unit, even its own order's; the platform and the hotline read it."""
        no = await gw.in_handling(assisting=["district-hexi"])
        r = await gw.get("district-hexi", f"/orders/{no}")
        assert r.status_code == 403
        assert "units see their own handling order only" in r.json()["detail"]
        for holder in ("center", "dept-hotline", "hotline"):
            r = await gw.get(holder, f"/orders/{no}")
            assert r.status_code == 200, holder
            assert r.json()["units"] == ["dept-lighting", "district-hexi"]
        r = await gw.get("utilities", f"/orders/{no}")  # a general order: the other platform's
        assert r.status_code == 403
        assert "no standing on a center order" in r.json()["detail"]

    async def test_a_unit_reads_only_its_own_handling_order(self, gw: Gateway) -> None:
        """Its own view: yes; another unit's, or an order it is not on: 403."""
        no = await gw.in_handling(assisting=["district-hexi"])
        other = await gw.in_handling(assisting=["district-nankai"])
        r = await gw.get("district-hexi", f"/orders/{no}/handling-order")
        assert r.status_code == 200
        assert (r.json()["unit"], r.json()["role"]) == ("district-hexi", "assisting")
        r = await gw.get("district-hexi", f"/orders/{no}/handling-order", unit="dept-lighting")
        assert r.status_code == 403
        assert "may not read dept-lighting's handling order" in r.json()["detail"]
        r = await gw.get("district-hexi", f"/orders/{other}/handling-order")
        assert r.status_code == 403
        assert "is not a unit assigned to this order" in r.json()["detail"]
        r = await gw.get("center", f"/orders/{no}/handling-order", unit="dept-lighting")
        assert r.status_code == 200
        assert r.json()["role"] == "lead"

    async def test_a_confidential_reporter_s_phone_is_shown_to_units_never_the_name(
        self, gw: Gateway, pool: asyncpg.Pool
    ) -> None:
        """Articles 8.2 and 8.4: an assigned unit's view has the phone, marked confidential with the
        instruction, never the name; every answer that carried the phone is audited as a disclosure."""
        reporter = {"name": "保密人", "phone": "13912345678", "confidential": True}
        no = await gw.in_handling(assisting=["district-hexi"], reporter=reporter)
        r = await gw.get("district-hexi", f"/orders/{no}/handling-order")
        assert r.status_code == 200
        view = r.json()
        assert (view["reporter_name"], view["reporter_phone"], view["confidential"]) == (None, "13912345678", True)
        assert "never say who reported" in view["confidentiality_note"]
        assert "保密人" not in r.text
        r = await gw.get("center", f"/orders/{no}/handling-order", unit="dept-lighting")
        assert r.json()["reporter_phone"] == "13912345678"
        assert "保密人" not in r.text
        rows = await _audit(pool, no)
        reads = [x for x in rows if x["action"] == HANDLING_ORDER_QUERY]
        assert [(x["org"], x["disclosed"]) for x in reads] == [
            ("district-hexi", "reporter_phone"),
            ("center", "reporter_phone"),
        ]
        hexi_token = await pool.fetchval(
            "SELECT id FROM api_tokens WHERE token_sha256 = $1", tokens.token_hash(gw.keys["district-hexi"])
        )
        assert reads[0]["token_id"] == hexi_token
        assert reads[0]["result"] == (
            f"read: district-hexi's handling order; disclosed the confidential reporter's phone to district-hexi "
            f"(handler, token {hexi_token}) for order {no}"
        )
        assert all(x["disclosed"] is None for x in rows if x["action"] != HANDLING_ORDER_QUERY)
        assert "保密人" not in repr(rows)
        assert "13912345678" not in repr([{k: v for k, v in x.items() if k != "result"} for x in rows])

    async def test_a_reporter_who_is_not_confidential_is_no_disclosure(self, gw: Gateway, pool: asyncpg.Pool) -> None:
        """The view of an ordinary order carries name and phone; its audit row records no disclosure."""
        no = await gw.in_handling(assisting=["district-hexi"])
        r = await gw.get("district-hexi", f"/orders/{no}/handling-order")
        assert (r.json()["reporter_name"], r.json()["confidential"]) == ("张三", False)
        [read] = [x for x in await _audit(pool, no) if x["action"] == HANDLING_ORDER_QUERY]
        assert (read["disclosed"], read["result"]) == (None, "read: district-hexi's handling order")


class TestPlatformSteps:
    async def test_review_result_and_forward_extension_take_the_platform_s_operator_token(self, gw: Gateway) -> None:
        """The platform sends a result back and forwards an extension; a unit, the other platform and the
        supervisor are refused before the order is asked; the order's own refusals keep their status."""
        no = await gw.in_handling(assisting=["district-hexi"])
        await gw.ok("district-hexi", no, "contribute", content="已排查线路")
        await gw.ok("dept-lighting", no, "contact_reporter", at=now_iso(), method="phone")
        r = await gw.act("center", no, "review_result", approved=True)
        assert r.status_code == 409
        assert r.json()["detail"].startswith("review_result refused: no result waits for review")
        await gw.ok("dept-lighting", no, "submit_result", result="已修", reporter_informed_at=now_iso())
        before = await gw.snapshot(no)
        for holder in ("dept-lighting", "dept-hotline", "utilities"):
            r = await gw.act(holder, no, "review_result", approved=True)
            assert r.status_code == 403, holder
        r = await gw.act("center", no, "review_result", approved=False)
        assert r.status_code == 422
        assert "comment is required when approved is false" in r.json()["message"]
        assert await gw.snapshot(no) == before
        r = await gw.ok("center", no, "review_result", approved=False, comment="请附现场照片")
        assert r["phase"] == "in_handling"
        view = (await gw.get("dept-lighting", f"/orders/{no}/handling-order")).json()
        assert view["latest_result"]["review_comment"] == "请附现场照片"
        assert view["contributions"][0]["content"] == "已排查线路"

        r = await gw.act("center", no, "forward_extension", forward=True)
        assert r.status_code == 409
        assert "no extension request waits at the platform" in r.json()["detail"]
        await gw.ok(
            "dept-lighting", no, "request_extension", reason="需更换电缆", requested_due="2099-01-01T00:00:00+08:00",
            reporter_notified_at=now_iso(), written_reply="申请延期",
        )  # fmt: skip
        r = await gw.act("hotline", no, "extension_decision", approved=False)
        assert r.status_code == 409  # it waits at the platform, which has not forwarded it
        r = await gw.act("district-hexi", no, "forward_extension", forward=True)
        assert r.status_code == 403
        await gw.ok("center", no, "forward_extension", forward=True, note="情况属实")
        status = await gw.client.status(no)
        assert (status.extensions[-1].waits_at, status.extensions[-1].platform_note) == ("hotline", "情况属实")
        await gw.ok("hotline", no, "extension_decision", approved=False, note="不同意")

    async def test_a_unit_names_its_handler(self, gw: Gateway) -> None:
        """`handler` on a unit's action names the unit's handler, shown in its view and to the others."""
        no = await gw.in_handling(assisting=["district-hexi"])
        named = {"person": "刘专员", "phone": "022-2345"}
        await gw.ok("district-hexi", no, "contribute", content="已配合", handler=named)
        await gw.ok("dept-lighting", no, "contact_reporter", at=now_iso(), method="phone")
        view = (await gw.get("dept-lighting", f"/orders/{no}/handling-order")).json()
        handlers = {u["unit"]: u["handler"] for u in view["units"]}
        assert handlers == {
            "dept-lighting": {"person": "张工", "phone": None},  # the person of its first action
            "district-hexi": {"person": "刘专员", "phone": "022-2345"},
        }
        assert view["handler"] == {"person": "张工", "phone": None}
        r = await gw.act("district-hexi", no, "contribute", content="x", handler={"person": "李", "phone": "call me"})
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "handler", "phone"]


class TestRefusals:
    async def test_a_role_without_standing_is_403_before_the_order_is_asked(self, gw: Gateway) -> None:
        """A unit cannot receive; the city hotline cannot review; even on an order that does not exist."""
        no = await gw.start()
        r = await gw.act("district-hexi", no, "receive")
        assert r.status_code == 403
        assert r.json()["detail"].startswith("receive refused: district-hexi (handler) has no standing; allowed:")
        r = await gw.act("hotline", "NOSUCHORDER", "review", approved=True)
        assert r.status_code == 403
        r = await gw.act("dept-hotline", "NOSUCHORDER", "review", approved=True)
        assert r.status_code == 404
        assert "order NOSUCHORDER not found" in r.json()["detail"]

    async def test_another_platform_and_the_workflow_s_own_refusals(self, gw: Gateway) -> None:
        """utilities on a center order: 403; the lead contributing: the workflow's 403; wrong phase: 409."""
        no = await gw.in_handling(assisting=["district-hexi"])
        before = await gw.snapshot(no)
        r = await gw.act("utilities", no, "release_assisting_unit", unit="district-hexi", reason="x")
        assert r.status_code == 403
        assert "has no standing on a center order" in r.json()["detail"]
        r = await gw.act("dept-lighting", no, "contribute", content="x")
        assert r.status_code == 403
        assert r.json()["detail"] == "contribute refused: dept-lighting is the lead unit; allowed: assisting units"
        r = await gw.act("center", no, "receive")
        assert r.status_code == 409
        assert r.json()["detail"] == "receive refused: the order is in_handling; allowed only when awaiting_receipt"
        r = await gw.act("dept-lighting", no, "submit_result", result="x", reporter_informed_at=now_iso())
        assert r.status_code == 409
        assert "submit_result refused" in r.json()["detail"]
        assert await gw.snapshot(no) == before

    async def test_a_closed_order_refuses_everything(self, gw: Gateway) -> None:
        """After withdrawal: 409 saying it is closed."""
        no = await gw.start()
        await gw.ok("hotline", no, "withdraw", reason="市民撤诉")
        r = await gw.act("center", no, "receive")
        assert r.status_code == 409
        assert "the order is closed (withdrawn)" in r.json()["detail"]

    async def test_start_is_for_the_city_hotline_and_once(self, gw: Gateway) -> None:
        """Another role: 403; the same running order again: 409."""
        no = await gw.start()

        r = await gw.post("center", "/orders", new_order("GWX1", dispatched_at=now_iso()))
        assert r.status_code == 403
        r = await gw.post("hotline", "/orders", new_order(no, dispatched_at=now_iso()))
        assert r.status_code == 409
        assert f"order {no} is already running" in r.json()["detail"]


class TestAuthentication:
    @pytest.mark.parametrize(
        "headers",
        [{}, {"Authorization": "Bearer hl_nosuchtoken"}, {"Authorization": "Basic dXNlcjpwdw=="},
         {"Authorization": "Bearer "}],
    )  # fmt: skip
    async def test_no_or_unknown_token_is_401(self, gw: Gateway, headers: dict[str, str]) -> None:
        """401 with a Bearer challenge, whatever the body: the body is not even read."""
        no = await gw.start()
        r = await gw.http.post(f"/orders/{no}/actions/receive", content=b"{not json", headers=headers)
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
        r = await gw.http.get(f"/orders/{no}", headers=headers)
        assert r.status_code == 401

    async def test_a_revoked_token_is_401(self, gw: Gateway, pool: asyncpg.Pool) -> None:
        """Good until revoked, refused after."""
        no = await gw.start()
        t = await tokens.issue(pool, "hotline", Role.HOTLINE, issued_by="pytest")
        headers = {"Authorization": f"Bearer {t.token}"}
        assert (await gw.http.get(f"/orders/{no}", headers=headers)).status_code == 200
        assert await tokens.revoke(pool, t.id)
        r = await gw.http.get(f"/orders/{no}", headers=headers)
        assert r.status_code == 401
        assert r.json()["detail"].startswith("unknown or revoked token")

    async def test_the_openapi_document_needs_no_token(self, gw: Gateway) -> None:
        """The description is public; it names the bearer scheme."""
        r = await gw.http.get("/openapi.json")
        assert r.status_code == 200
        assert r.json()["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


class TestValidation:
    async def test_a_malformed_body_is_422_naming_the_field(self, gw: Gateway) -> None:
        """A wrong enum, a missing field, a naive time: each named; nothing sent to the order."""
        no = await gw.in_handling(assisting=["district-hexi"])
        before = await gw.snapshot(no)
        r = await gw.act("district-hexi", no, "contact_reporter", at=now_iso(), method="pigeon")
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "method"]
        assert r.json()["message"].startswith("body.method: ")
        r = await gw.post("district-hexi", f"/orders/{no}/actions/contribute", {"content": "x"})
        assert r.status_code == 422
        assert r.json()["message"] == "body.person: required field is missing"
        r = await gw.act("district-hexi", no, "contact_reporter", at="2026-11-27T10:00:00", method="phone")
        assert r.status_code == 422
        assert "body.at: a naive datetime is not allowed" in r.json()["message"]
        r = await gw.act("hotline", no, "extension_decision", approved=True)
        assert r.status_code == 422
        assert "approved_due is required when approved is true" in r.json()["message"]
        r = await gw.act("center", no, "propose", lead_unit="nobody", opinion="x")
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "lead_unit"]
        assert await gw.snapshot(no) == before

    async def test_a_body_past_one_mebibyte_is_413_and_reaches_no_order(self, gw: Gateway, pool: asyncpg.Pool) -> None:
        """A handler app flooding big bodies (issue 12: they would land in the order's history as
        signals) is refused before Temporal, declared length or not; the refusal is audited."""
        no = await gw.in_handling(assisting=["district-hexi"])
        before = await gw.snapshot(no)
        big = {"reason": "不属于", "basis": "无" * 400_000, "person": "张工"}  # 1.2 MB of UTF-8
        r = await gw.post("district-hexi", f"/orders/{no}/actions/return_order", big)
        assert r.status_code == 413
        assert r.json()["detail"].endswith("bytes or more; at most 1,048,576 are allowed")

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(20):
                yield b" " * 100_000

        r = await gw.http.post(f"/orders/{no}/actions/contribute", content=chunks(), headers=gw.auth("district-hexi"))
        assert r.status_code == 413
        assert await gw.snapshot(no) == before
        audit = await _audit(pool, no)
        assert [a["status_code"] for a in audit[-2:]] == [413, 413]

    async def test_an_actor_in_the_body_is_refused(self, gw: Gateway) -> None:
        """The actor comes from the token: a body naming one is 422 naming `actor`."""
        no = await gw.in_handling(assisting=["district-hexi"])
        before = await gw.snapshot(no)
        actor = {"org": "dept-lighting", "person": "冒名", "role": "handler"}
        r = await gw.act("district-hexi", no, "contribute", content="x", actor=actor)
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "actor"]
        assert "actor is not accepted: the acting org and role are the bearer token's" in r.json()["message"]
        assert await gw.snapshot(no) == before

    async def test_new_order_rules_and_bad_order_numbers(self, gw: Gateway) -> None:
        """A NewOrder dated in the future names dispatched_at; a bad order number names order_no."""

        r = await gw.post("hotline", "/orders", new_order("GWFUTURE", dispatched_at="2099-01-01T00:00:00+08:00"))
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "dispatched_at"]
        r = await gw.get("hotline", "/orders/bad%20no")
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["path", "order_no"]
        r = await gw.get("hotline", "/orders/NOSUCHORDER")
        assert r.status_code == 404


class TestAudit:
    async def test_good_and_refused_requests_are_written(self, gw: Gateway, pool: asyncpg.Pool) -> None:
        """Each request is a row: who, what, which order, the answer; refused ones too."""
        no = await gw.in_handling(assisting=["district-hexi"])
        await gw.ok("district-hexi", no, "contribute", content="已排查", request_id="req-1")
        await gw.act("district-nankai", no, "contribute", content="x")
        await gw.act("district-hexi", no, "contribute", person="", content="x")
        await gw.http.get(f"/orders/{no}", headers={"Authorization": "Bearer hl_forged"})
        await gw.get("district-hexi", f"/orders/{no}")
        rows = await _audit(pool, no)
        seen = [(r["org"], r["role"], r["method"], r["action"], r["status_code"]) for r in rows]
        assert seen == [
            ("hotline", "hotline", "POST", "start", 201),
            ("center", "operator", "POST", "receive", 200),
            ("center", "operator", "POST", "propose", 200),
            ("dept-hotline", "supervisor", "POST", "review", 200),
            ("district-hexi", "handler", "POST", "contribute", 200),
            ("district-nankai", "handler", "POST", "contribute", 403),
            ("district-hexi", "handler", "POST", "contribute", 422),
            (None, None, "GET", STATUS_QUERY, 401),
            ("district-hexi", "handler", "GET", STATUS_QUERY, 403),
        ]
        assert rows[4]["request_id"] == "req-1"
        assert rows[4]["result"] == "done: phase in_handling"
        assert rows[4]["token_id"] == await pool.fetchval(
            "SELECT id FROM api_tokens WHERE token_sha256 = $1", tokens.token_hash(gw.keys["district-hexi"])
        )
        assert "is not a unit assigned to this order" in rows[5]["result"]
        assert rows[6]["result"].startswith("body.person:")
        assert rows[7]["token_id"] is None
        assert all(r["at"] is not None for r in rows)
        assert "张三" not in repr(rows)  # the reporter never reaches the audit log


class TestTemporalDown:
    async def test_temporal_unreachable_is_503(self, pool: asyncpg.Pool) -> None:
        """A client whose Temporal does not answer: 503, and the request is audited."""
        dead = await Client.connect("127.0.0.1:1", lazy=True, data_converter=pydantic_data_converter)
        app = create_app(HotlineClient(dead, task_queue="none"), pool)
        t = await tokens.issue(pool, "hotline", Role.HOTLINE, issued_by="pytest")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
            r = await http.get("/orders/DOWN1", headers={"Authorization": f"Bearer {t.token}"})
        assert r.status_code == 503
        assert "Temporal is unreachable" in r.json()["detail"]
        status = await pool.fetchval("SELECT status_code FROM audit_log WHERE order_no = 'DOWN1' ORDER BY id DESC")
        assert status == 503
