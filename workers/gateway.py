"""The handler gateway: the contract's actions and queries over HTTP, for orgs holding a token.

The app (`create_app`) and its process (`run_gateway`); `hotline gateway` (``starter/cli/gateway.py``)
runs it.

Handler apps (the platforms' and units' desks, the city hotline's integration) that cannot or
should not talk to Temporal directly call this instead. Every request carries
``Authorization: Bearer hl_…``; the token (``activities/store/tokens.py``) says which org acts and in which
role, so a body never names its actor: it carries ``person`` (who, within the org) and the action's
own fields. Then, in this order:

1. no token, or an unknown or revoked one: 401;
2. a body that breaks the action's model (a wrong or missing field, ``actor``, an unknown field): 422
   naming the field;
3. a role the lifecycle does not give the action or view to: 403 (``domain/access.py``);
4. an unknown order: 404;
5. an org with no standing on this order (a unit not assigned to it, another platform's operator):
   403, decided on the order's `status` before anything is sent;
6. the workflow's own refusal, by its kind (`domain.errors.RefusalKind`, never by its words):
   403 ``no_standing``; 422 ``invalid_payload`` and ``invalid_instant``; 409 every other kind
   (``wrong_phase``, ``window_closed``, ``precondition``, ``duplicate_request``, ``closed``,
   ``order_refused``), with the workflow's words;
7. Temporal unreachable: 503.

Nothing is sent to the order in any refused case. Every request, refused ones included, is written
to ``audit_log`` before its answer leaves (who, what, which order, the answer), and counted
(``hotline_gateway_requests_total{action,status}`` on the metrics endpoint when
``HOTLINE_METRICS_PORT`` is set). With ``HOTLINE_OTLP_ENDPOINT`` set every request is a span (a
child of the caller's ``traceparent`` when it sends one), the parent of the action's trace through
the workflow to the record activity's SQL (`starter.telemetry`). Units never see the
whole order: `status` is for the platform's operator, its supervising department and the city
hotline; a unit reads its own handling order. When the reporter asked for confidentiality, the
handling order of a unit assigned to the order shows the phone (the unit must call, Article 8.4),
marked confidential with the instruction, and never the name (Article 8.2); the audit row of every
answer that carries the phone says so (``disclosed``), with the token and the order.

The platform's own steps (``review_result``, ``forward_extension`` and the others of
``domain/access.py``'s ``ACTION_ROLES``) are for the order's platform's operator tokens; every
action of an assigned unit may carry ``handler`` (its named handler, Article 8.4).

No ``from __future__ import annotations`` here: each action's endpoint is built in a loop with its
own request model, and FastAPI reads the models from the endpoints' annotations at run time.
"""

import contextlib
import re
import signal
import threading
from collections.abc import Awaitable, Callable, Generator
from copy import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final, TypeVar

import asyncpg
import structlog
import uvicorn
from fastapi import Body, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from opentelemetry import propagate, trace
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.common import MetricMeter
from temporalio.service import RPCError, RPCStatusCode

from activities.store import tokens
from activities.store.db import apply_migrations, open_pool
from domain import access
from domain.contract import HANDLING_ORDER_QUERY, STATUS_QUERY, order_workflow_id
from domain.directory import ORGANISATIONS
from domain.errors import InvalidOrder, RefusalKind
from domain.models import (
    ACTIONS,
    ORDER_NO_PATTERN,
    Action,
    HandlingOrder,
    NewOrder,
    OrderStatus,
    Outcome,
    Phase,
    Role,
)
from starter import telemetry
from starter.client import ActionRefused, HotlineClient, OrderAlreadyRunning, OrderNotFound
from starter.errors import busy, dropped
from starter.settings import Settings

log = structlog.get_logger(__name__)
_tracer = trace.get_tracer("hotline.gateway")

API_TITLE: Final = "Tianjin hotline handler gateway"
API_VERSION: Final = "1.0.0"
DESCRIPTION: Final = """\
The contract's actions and queries over HTTP, for handler apps holding a token.

Every request carries `Authorization: Bearer hl_…` (`hotline token issue ORG --role ROLE`): the token
names the org and the role that act. A body never names its actor: it carries `person` (who acts,
within the org) and the action's own fields; a body with `actor` is refused (422).

Answers: 401 no token, or an unknown or revoked one; 422 a body that breaks the action's model, naming
the field; 403 a role or org with no standing (a unit not assigned to the order, a unit asking for the
whole order, another platform's operator); 404 no such order; 409 the order refused it now (wrong
phase, a closed window, closed), in the workflow's words; 503 Temporal does not answer. Nothing
changes in any refused case, and every request is written to the audit log.

A refusal by the order itself has a kind, and the kind alone picks the answer: `no_standing` 403;
`invalid_payload` and `invalid_instant` 422 (the `type` of its one problem is the kind); `wrong_phase`,
`window_closed`, `precondition`, `duplicate_request`, `closed` and `order_refused` 409.

Units never see the whole order: `GET /orders/{order_no}` is for the order's platform, its supervising
department and the city hotline; a unit reads its own handling order while assigned. When the reporter
asked for confidentiality, the handling order shows the phone (the unit must call, Article 8.4), marked
confidential with the instruction, and never the name (Article 8.2); every answer that carries the
phone is in the audit log as a disclosure, with the token and the order.

The platform's steps on a unit's result and extension (`review_result`, `forward_extension`) take the
order's platform's operator token. Every action of an assigned unit may carry `handler` (`person`,
`phone`): the unit's named handler (Article 8.4); without it, the person of the unit's first action is.
"""

#: What an audit row's `disclosed` says when the answer carried a confidential reporter's phone.
DISCLOSED_PHONE: Final = "reporter_phone"

#: Paths anyone may read: the API's own description. Nothing else is served without a token.
PUBLIC_PATHS: Final = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})

#: The answer to each kind of refusal by the order; every kind not named here is 409.
_REFUSAL_STATUS: Final[dict[RefusalKind, int]] = {
    RefusalKind.NO_STANDING: 403,
    RefusalKind.INVALID_PAYLOAD: 422,
    RefusalKind.INVALID_INSTANT: 422,
}

#: gRPC statuses that mean Temporal cannot answer now (not that the request is wrong).
_UNAVAILABLE: Final = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED})

_ORDER_PATH = re.compile(r"^/orders/([^/]+)(?:/(handling-order|actions/([^/]+)))?/?$")

T = TypeVar("T")


# -- models of the HTTP surface ----------------------------------------------------------------


class Problem(BaseModel):
    """A refusal: what was wrong and what is allowed, in the workflow's words where it refused."""

    detail: str = Field(description="The reason, e.g. `contribute refused: the order is received; …`.")


class FieldProblem(BaseModel):
    """One wrong field of a request."""

    loc: list[str | int] = Field(description="Where: `body`, `query` or `path`, then the field's path.")
    msg: str = Field(description="What is wrong, and what is allowed.")
    type: str = Field(description="The kind of error, e.g. `missing`, `extra_forbidden`, `string_too_short`.")


class InvalidRequest(BaseModel):
    """A request whose body, path or query breaks the action's model: every wrong field, named."""

    detail: list[FieldProblem]
    message: str = Field(description="The same in one line: `field: problem; …`.")


class ActionAccepted(BaseModel):
    """An action the order took (or a repeat of a `request_id` it took already)."""

    model_config = ConfigDict(frozen=True)

    order_no: str
    action: str = Field(description="The contract's action name.")
    phase: Phase = Field(description="The order's phase after the action.")
    outcome: Outcome | None = Field(default=None, description="How it ended, when the action closed it.")
    request_id: str | None = None


class OrderStarted(BaseModel):
    """An order started: one `WorkOrder` run."""

    model_config = ConfigDict(frozen=True)

    order_no: str
    workflow_id: str
    run_id: str


_PERSON_FIELD: Final = Field(
    min_length=1,
    max_length=64,
    description="Who acts, within the token's org: name or staff id (the actor's `person`).",
)


def request_model(name: str, model: type[Action]) -> type[BaseModel]:
    """The HTTP body of action ``name``: its payload without `actor`, with `person`.

    The fields (types, constraints, descriptions) are the contract model's; its validators run
    when the gateway builds the action (`_action`), so a body is held to the same rules.
    """
    fields: dict[str, Any] = {"person": (str, copy(_PERSON_FIELD))}
    for field_name, info in model.model_fields.items():
        if field_name != "actor":
            fields[field_name] = (info.annotation, copy(info))
    doc = (model.__doc__ or name).strip()
    req: type[BaseModel] = create_model(
        f"{model.__name__}Request",
        __config__=ConfigDict(extra="forbid", frozen=True),
        __doc__=f"{doc} The acting org and role are the bearer token's; `person` names who acts.",
        **fields,
    )
    return req


REQUEST_MODELS: Final[dict[str, type[BaseModel]]] = {n: request_model(n, m) for n, m in ACTIONS.items()}


# -- the audit note of one request ---------------------------------------------------------------


@dataclass
class _Audit:
    """What the audit row of the request under way will say; filled as the request is answered."""

    method: str
    path: str
    token: tokens.TokenInfo | None = None
    action: str | None = None
    order_no: str | None = None
    request_id: str | None = None
    result: str = ""
    #: personal data the answer carries (`reporter_phone`), for the audit row; None: none
    disclosed: str | None = None


def _audit_of(request: Request) -> _Audit:
    note: _Audit | None = getattr(request.state, "audit", None)
    if note is None:  # a public path: not audited, and nothing here is kept
        note = _Audit(method=request.method, path=request.url.path)
    return note


def _from_path(method: str, path: str) -> tuple[str | None, str | None]:
    """(action, order_no) as far as the path says, for requests refused before an endpoint runs."""
    if path.rstrip("/") == "/orders":
        return ("start" if method == "POST" else None), None
    m = _ORDER_PATH.match(path)
    if m is None:
        return None, None
    order_no, view, action = m.group(1), m.group(2), m.group(3)
    if action is not None:
        return action, order_no
    if view == "handling-order":
        return HANDLING_ORDER_QUERY, order_no
    return (STATUS_QUERY if method == "GET" else None), order_no


class _AuditAndAuth:
    """ASGI middleware: authenticate the bearer token, and audit every request before answering.

    The token is checked here, before the body is read, so nothing about an order or a payload is
    answered to a caller without a valid token. The answer's first message is held back until the
    audit row is written: whoever got an answer can find it in the audit log.
    """

    def __init__(self, app: ASGIApp, pool: asyncpg.Pool, meter: MetricMeter) -> None:
        self.app = app
        self.pool = pool
        self.requests = meter.create_counter("hotline_gateway_requests_total", "gateway requests, by action and answer")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        action, order_no = _from_path(method, path)
        note = _Audit(method=method, path=path, action=action, order_no=order_no)
        scope.setdefault("state", {})["audit"] = note
        status_code = 500
        held: list[Message] = []
        audited = False

        async def write_audit() -> None:
            nonlocal audited
            if audited:
                return
            audited = True
            self.requests.add(1, {"action": note.action or "", "status": str(status_code)})
            await self._record(note, status_code)

        async def send_audited(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = int(message["status"])
                held.append(message)
                return
            if message["type"] == "http.response.body" and held:
                if not message.get("more_body", False):
                    await write_audit()
                await send(held.pop())
            await send(message)

        refusal = await self._authenticate(scope, note)
        if refusal is None:
            refusal, receive = await _limit_body(scope, receive, note)
        try:
            if refusal is not None:
                await refusal(scope, receive, send_audited)
            else:
                await self.app(scope, receive, send_audited)
        except Exception as err:
            status_code = 500
            note.result = note.result or f"internal error: {type(err).__name__}"
            log.exception("gateway.internal_error", path=path, action=note.action, order_no=note.order_no)
            raise
        finally:
            await write_audit()

    async def _authenticate(self, scope: Scope, note: _Audit) -> JSONResponse | None:
        """None when the token is good (recorded in ``note``), else the 401 or 503 to answer."""
        header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        scheme, _, token = (header or b"").decode("latin-1").partition(" ")
        if header is None or scheme.lower() != "bearer" or not token.strip():
            return _unauthorized(note, "missing bearer token; allowed: `Authorization: Bearer hl_…` of an issued token")
        try:
            info = await tokens.verify(self.pool, token.strip())
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
            log.error("gateway.database_unavailable", error=type(err).__name__)
            note.result = "the token database is unavailable; try again later"
            return JSONResponse({"detail": note.result}, status_code=503)
        if info is None:
            return _unauthorized(note, "unknown or revoked token; allowed: a token issued by `hotline token issue`")
        note.token = info
        return None

    async def _record(self, note: _Audit, status_code: int) -> None:
        t = note.token
        try:
            await tokens.record_audit(
                self.pool,
                method=note.method,
                path=note.path,
                status_code=status_code,
                result=note.result or str(status_code),
                token_id=t.id if t else None,
                org=t.org if t else None,
                role=t.role.value if t else None,
                action=note.action,
                order_no=note.order_no,
                request_id=note.request_id,
                disclosed=note.disclosed,
            )
        except Exception as err:  # the answer stands; a lost audit row must be seen in the logs
            log.error("gateway.audit_failed", error=type(err).__name__, path=note.path[:200], status=status_code)


#: The largest request body the gateway reads (1 MiB): every valid action is far below it (the
#: largest, a result with 20 appeal materials of 5,000 characters, is about 300 kB of UTF-8).
MAX_BODY_BYTES: Final = 1 << 20


async def _limit_body(scope: Scope, receive: Receive, note: _Audit) -> tuple[JSONResponse | None, Receive]:
    """Read the body up to `MAX_BODY_BYTES`: past it, the 413 to answer (nothing reaches Temporal);
    within it, a ``receive`` that hands the body on as it came."""
    declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return _too_large(note, int(declared)), receive
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if size > MAX_BODY_BYTES:
            return _too_large(note, size), receive
        if not message.get("more_body", False):
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return None, replay


def _too_large(note: _Audit, size: int) -> JSONResponse:
    note.result = f"the request body is {size:,} bytes or more; at most {MAX_BODY_BYTES:,} are allowed"
    return JSONResponse({"detail": note.result}, status_code=413)


class _Traced:
    """ASGI middleware: every request a span, a child of the caller's ``traceparent`` if it sent one.

    A no-op unless the process traces (`starter.telemetry`). The span is the action's trace's root
    in this process: the client's Update, the workflow's handler and the record activity follow.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        action, order_no = _from_path(method, path)
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        with _tracer.start_as_current_span(
            f"{method} {action or path}" + (f" {order_no}" if order_no else ""),
            context=propagate.extract(carrier),
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path, "hotline.action": action or ""},
        ) as span:

            async def send_traced(message: Message) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", int(message["status"]))
                await send(message)

            await self.app(scope, receive, send_traced)


def _unauthorized(note: _Audit, detail: str) -> JSONResponse:
    note.result = detail
    return JSONResponse({"detail": detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"})


# -- errors --------------------------------------------------------------------------------------


def _refuse(status_code: int, detail: str) -> HTTPException:
    return HTTPException(status_code=status_code, detail=detail)


def _validation_detail(errors: Any) -> list[dict[str, Any]]:
    """FastAPI's 422 shape (loc, msg, type) without echoing the input: it may hold personal data."""
    out: list[dict[str, Any]] = []
    for e in errors:
        loc = [p for p in e.get("loc", ()) if isinstance(p, str | int)]
        msg, typ = str(e.get("msg", "")), str(e.get("type", ""))
        if typ == "extra_forbidden" and loc[-1:] == ["actor"]:
            msg = "actor is not accepted: the acting org and role are the bearer token's; give who acts in `person`"
        elif typ == "extra_forbidden":
            msg = "unknown field"
        elif typ == "missing":
            msg = "required field is missing"
        elif typ == "timezone_aware":
            msg = "a naive datetime is not allowed; give an offset, e.g. 2026-11-27T10:15:00+08:00"
        out.append({"loc": loc, "msg": msg, "type": typ})
    return out


def _validation_message(detail: list[dict[str, Any]]) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in d['loc']) or '(body)'}: {d['msg']}" for d in detail)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = _validation_detail(exc.errors())
    message = _validation_message(detail)
    _audit_of(request).result = message
    return JSONResponse({"detail": detail, "message": message}, status_code=422)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    _audit_of(request).result = str(exc.detail)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def _invalid(loc: tuple[str | int, ...], msg: str, typ: str = "value_error") -> RequestValidationError:
    return RequestValidationError([{"loc": loc, "msg": msg, "type": typ}])


async def _temporal(call: Awaitable[T]) -> T:
    """Await a call to Temporal; Temporal not answering becomes 503 (nothing was changed)."""
    try:
        return await call
    except RPCError as err:
        if err.status in _UNAVAILABLE:
            log.error("gateway.temporal_unavailable", status=err.status.name)
            raise _refuse(503, "Temporal does not answer now; nothing was changed; try again later") from None
        if busy(err):  # e.g. more than 10 updates in flight at one order
            log.warning("gateway.temporal_busy", message=str(err)[:200])
            raise HTTPException(
                status_code=429,
                detail="too many requests at once for Temporal (at this order or in all); nothing was changed; "
                "try again in a moment",
                headers={"Retry-After": "1"},
            ) from None
        if dropped(err):
            raise _refuse(
                503, "Temporal dropped the action before the order saw it; nothing was changed; try again"
            ) from None
        raise
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise _refuse(503, "Temporal did not answer in time; the action may not have been taken") from None
    except RuntimeError as err:  # the client could not (re)connect
        if "connect" not in str(err).lower():
            raise
        log.error("gateway.temporal_unreachable")
        raise _refuse(503, "Temporal is unreachable; nothing was changed; try again later") from None


# -- the app -------------------------------------------------------------------------------------

_bearer = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="hl_…",
    description="A token from `hotline token issue ORG --role ROLE`: it names the org and role that act.",
    auto_error=False,
)


async def _caller(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> tokens.TokenInfo:
    """The token's org and role (checked by the middleware before the request got here)."""
    token = _audit_of(request).token
    if token is None:  # unreachable behind the middleware; kept so the rule holds without it
        raise _refuse(401, "missing bearer token")
    return token


Caller = Annotated[tokens.TokenInfo, Depends(_caller)]
OrderNo = Annotated[
    str, Path(pattern=ORDER_NO_PATTERN, description="The city hotline's order number.", examples=["TJ2026112700123"])
]

_REFUSALS: Final[dict[int | str, dict[str, Any]]] = {
    401: {"model": Problem, "description": "No token, or an unknown or revoked one."},
    403: {"model": Problem, "description": "The token's org or role has no standing for this (`no_standing`)."},
    404: {"model": Problem, "description": "No such order."},
    409: {
        "model": Problem,
        "description": "The order refused it now (`wrong_phase`, `window_closed`, `precondition`, "
        "`duplicate_request`, `closed`, `order_refused`): its words.",
    },
    422: {
        "model": InvalidRequest,
        "description": "A wrong, missing or unknown field (`actor` included), named; or the order found the "
        "payload or an instant in it wrong (`invalid_payload`, `invalid_instant`).",
    },
    503: {"model": Problem, "description": "Temporal (or the token database) does not answer now."},
}


def create_app(client: HotlineClient, pool: asyncpg.Pool, *, meter: MetricMeter | None = None) -> FastAPI:
    """The gateway over ``client`` (Temporal) and ``pool`` (tokens and audit log); its requests
    counted on ``meter`` (`starter.telemetry.runtime`; default: nowhere)."""
    app = FastAPI(
        title=API_TITLE,
        version=API_VERSION,
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "orders", "description": "Start an order; read it as the token's org may."},
            {"name": "actions", "description": "The contract's actions, one path each."},
        ],
    )
    app.add_middleware(_AuditAndAuth, pool=pool, meter=meter or MetricMeter.noop)
    app.add_middleware(_Traced)  # outermost: the audit's database writes are inside the request's span
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    gw = _Gateway(client)

    app.add_api_route(
        "/orders",
        gw.start,
        methods=["POST"],
        status_code=201,
        response_model=OrderStarted,
        responses=_REFUSALS,
        tags=["orders"],
        summary="start an order (the city hotline only)",
        operation_id="start_order",
    )
    app.add_api_route(
        "/orders/{order_no}",
        gw.status,
        methods=["GET"],
        response_model=OrderStatus,
        responses=_REFUSALS,
        tags=["orders"],
        summary="the whole order (`status`): its platform's operator, supervising department, the city hotline",
        operation_id=STATUS_QUERY,
    )
    app.add_api_route(
        "/orders/{order_no}/handling-order",
        gw.handling_order,
        methods=["GET"],
        response_model=HandlingOrder,
        responses=_REFUSALS,
        tags=["orders"],
        summary="what a unit sees (`handling_order`): a unit its own, while assigned",
        operation_id=HANDLING_ORDER_QUERY,
    )
    for name in ACTIONS:
        app.add_api_route(
            f"/orders/{{order_no}}/actions/{name}",
            _action_endpoint(gw, name, REQUEST_MODELS[name]),
            methods=["POST"],
            response_model=ActionAccepted,
            responses=_REFUSALS,
            tags=["actions"],
            summary=f"`{name}` ({access.ACTION_ROLES[name].value})",
            description=(ACTIONS[name].__doc__ or name).strip()
            + f"\n\nRole: `{access.ACTION_ROLES[name].value}` (docs/lifecycle.md, who may do what).",
            operation_id=name,
        )
    return app


def _action_endpoint(gw: "_Gateway", name: str, body_model: type[BaseModel]) -> Callable[..., Awaitable[Any]]:
    async def endpoint(
        request: Request,
        order_no: OrderNo,
        body: Annotated[body_model, Body()],  # type: ignore[valid-type]
        caller: Caller,
    ) -> ActionAccepted:
        return await gw.act(request, name, order_no, body, caller)

    endpoint.__name__ = f"action_{name}"
    return endpoint


class _Gateway:
    """The endpoints' work: standing first, then the order."""

    def __init__(self, client: HotlineClient) -> None:
        self.client = client

    async def _status(self, order_no: str) -> OrderStatus:
        try:
            return await _temporal(self.client.status(order_no))
        except OrderNotFound:
            raise _refuse(404, f"order {order_no} not found (no workflow {order_workflow_id(order_no)})") from None
        except ActionRefused as err:  # the workflow would not answer (still setting up)
            raise _refuse(409, str(err)) from None

    async def start(self, request: Request, order: NewOrder, caller: Caller) -> OrderStarted:
        """Start `WorkOrder` for a `NewOrder`; only the city hotline transfers orders."""
        note = _audit_of(request)
        note.order_no = order.order_no
        if caller.role is not Role.HOTLINE:
            raise _refuse(
                403,
                f"start refused: {caller.org} ({caller.role.value}) has no standing; "
                "allowed: the city hotline (org 'hotline', role 'hotline')",
            )
        try:
            order.check_arrival(datetime.now(UTC))
        except InvalidOrder as err:
            raise _invalid(("body", "dispatched_at"), str(err).removeprefix("dispatched_at: ")) from None
        try:
            run_id = await _temporal(self.client.start_order(order))
        except OrderAlreadyRunning:
            raise _refuse(409, f"order {order.order_no} is already running; nothing changed") from None
        note.result = f"started run {run_id}"
        return OrderStarted(order_no=order.order_no, workflow_id=order.workflow_id, run_id=run_id)

    async def status(self, request: Request, order_no: OrderNo, caller: Caller) -> OrderStatus:
        """The whole order, for its platform's operator, its supervising department and the city hotline."""
        refused = access.status_refusal(caller.org, caller.role)
        if refused is not None:
            raise _refuse(403, refused)
        status = await self._status(order_no)
        refused = access.status_refusal(caller.org, caller.role, status)
        if refused is not None:
            raise _refuse(403, refused)
        _audit_of(request).result = f"read: phase {status.phase.value}"
        return status

    async def handling_order(
        self,
        request: Request,
        order_no: OrderNo,
        caller: Caller,
        unit: Annotated[
            str | None,
            Query(
                description="The unit whose view to read. A unit's token reads its own (the default); "
                "the order's platform, its supervising department and the city hotline name the unit.",
                examples=["district-hexi"],
            ),
        ] = None,
    ) -> HandlingOrder:
        """What a unit sees (its handling order).

        A confidential reporter's phone is shown to the units assigned to the order (they must call,
        Art. 8.4), never the name (Art. 8.2); the audit row of every answer that carries the phone
        says so (`disclosed`), with the token and the order.
        """
        if unit is None:
            if caller.role is not Role.HANDLER:
                raise _invalid(("query", "unit"), "required field is missing: name the unit whose view to read")
            unit = caller.org
        if unit not in ORGANISATIONS:
            raise _invalid(("query", "unit"), f"unknown org {unit!r}; allowed: an org id of the directory")
        if caller.role is Role.HANDLER and unit != caller.org:
            raise _refuse(
                403,
                f"handling_order refused: {caller.org} (handler) may not read {unit}'s handling order; "
                "allowed: a unit's own handling order",
            )
        status = await self._status(order_no)
        refused = access.handling_order_refusal(caller.org, caller.role, unit, status)
        if refused is not None:
            raise _refuse(403, refused)
        try:
            view = await _temporal(self.client.handling_order(order_no, unit))
        except OrderNotFound:
            raise _refuse(404, f"order {order_no} not found") from None
        except ActionRefused as err:
            raise _refused_by_order(err) from None
        note = _audit_of(request)
        note.result = f"read: {unit}'s handling order"
        if view.confidential and view.reporter_phone:
            # Art. 8.2/8.4: the assigned unit must call; every such read is on the record
            note.disclosed = DISCLOSED_PHONE
            note.result += (
                f"; disclosed the confidential reporter's phone to {caller.org} ({caller.role.value}, "
                f"token {caller.id}) for order {order_no}"
            )
        return view

    async def act(
        self, request: Request, name: str, order_no: str, body: BaseModel, caller: tokens.TokenInfo
    ) -> ActionAccepted:
        """Check the body and standing, then send action ``name`` as an Update."""
        note = _audit_of(request)
        fields = body.model_dump(exclude_none=True)
        person: str = fields.pop("person")
        note.request_id = fields.get("request_id")
        action = _action(name, fields, person=person, caller=caller)
        refused = access.action_role_refusal(name, caller.org, caller.role)
        if refused is not None:
            raise _refuse(403, refused)
        status = await self._status(order_no)
        refused = access.action_standing_refusal(name, caller.org, caller.role, status)
        if refused is not None:
            raise _refuse(403, refused)
        if status.phase is Phase.CLOSED and action.request_id is None:
            outcome = status.outcome.value if status.outcome else "closed"
            raise _refuse(409, f"{name} refused: the order is closed ({outcome}); nothing may change it")
        try:
            after = await _temporal(self.client.act(order_no, name, action))
        except ActionRefused as err:
            raise _refused_by_order(err) from None
        except OrderNotFound:  # it existed a moment ago: its run has completed (closed)
            raise _refuse(409, f"{name} refused: the order is closed; nothing may change it") from None
        note.result = f"done: phase {after.phase.value}"
        return ActionAccepted(
            order_no=order_no, action=name, phase=after.phase, outcome=after.outcome, request_id=action.request_id
        )


def _action(name: str, fields: dict[str, Any], *, person: str, caller: tokens.TokenInfo) -> Action:
    """The contract's payload: the body's fields and the token's actor, under the model's validators."""
    raw = {**fields, "actor": {"org": caller.org, "person": person, "role": caller.role.value}}
    try:
        return ACTIONS[name].model_validate(raw)
    except ValidationError as err:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in err.errors(include_url=False, include_input=False)]
        ) from None


def _refused_by_order(err: ActionRefused) -> Exception:
    """The answer to the order's own refusal: its status from its kind alone, its words as the detail."""
    status = _REFUSAL_STATUS.get(err.kind, 409)
    if status == 422:
        return _invalid(("body",), _words(err), err.kind.value)
    return _refuse(status, _words(err))


def _words(err: ActionRefused) -> str:
    """The workflow's message, without the SDK's wrapping of a refused query."""
    return str(err).removeprefix("Workflow query failed: ").strip() or "refused"


# -- the process ---------------------------------------------------------------------------------

#: How long in-flight requests may take to finish at shutdown.
GRACEFUL_S: Final = 10


class _Server(uvicorn.Server):
    """uvicorn's server, stopping gracefully on SIGINT/SIGTERM and then returning.

    uvicorn re-raises a captured signal after its shutdown, which would end the process before the
    pool is closed; here the process closes what it opened and returns.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


async def run_gateway(settings: Settings) -> bool:
    """Serve the gateway on ``settings``' host and port until SIGINT or SIGTERM.

    Returns:
        Whether it served (False: it could not listen).

    Raises:
        DatabaseUnavailableError: the token database cannot be reached.
        TemporalUnreachable: Temporal cannot be reached (or no payload key can be used).
        TelemetryError: the metrics endpoint cannot listen, or the OTLP endpoint is no URL.
    """
    runtime = telemetry.runtime(settings)
    telemetry.enable_tracing(settings, "hotline-gateway")
    client = await HotlineClient.connect(settings, runtime=runtime)
    pool = await open_pool(settings.database_url, max_size=10, json_codecs=True)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn)  # the token and audit tables; once, under the migration lock
        config = uvicorn.Config(
            create_app(client, pool, meter=runtime.metric_meter),
            host=settings.gateway_host,
            port=settings.gateway_port,
            log_config=None,
            access_log=False,  # every request is in audit_log
            lifespan="off",
            timeout_graceful_shutdown=GRACEFUL_S,
        )
        server = _Server(config)
        log.info("gateway.starting", host=settings.gateway_host, port=settings.gateway_port)
        await server.serve()
        log.info("gateway.stopped")
        return bool(server.started)
    finally:
        await pool.close()
        telemetry.flush_traces()
