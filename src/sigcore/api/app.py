"""The FastAPI application: `create_app(store, services)` wires the routers, auth, audit and error handlers."""

from __future__ import annotations

from fastapi import FastAPI

from sigcore.api.auth import authenticate_and_audit, role_table
from sigcore.api.context import ApiContext
from sigcore.api.errors import COMMON_RESPONSES, install_error_handlers
from sigcore.api.ops import mount_ops
from sigcore.api.routes import admin, apns, auth_data, eir, imports, ims, peers, stats, subscribers
from sigcore.applications import Services
from sigcore.console import mount_console
from sigcore.hss.auc import DEFAULT_IND_BITS
from sigcore.store import Store
from sigcore.store.tokens import TokenRepository

API_V1 = "/api/v1"
DESCRIPTION = """\
Provisioning for the sigcore HSS: subscribers, their authentication data, APN profiles, IMS identities and
service profiles, EIR rules; read-only serving state, EIR check history and Diameter peers.

Every `/api/` request (except this document and the docs page) needs `Authorization: Bearer <token>`
(create one with `sigcore token create --role read|provision|admin`). Roles: **read** reads,
**provision** also writes subscribers, APNs, IMS and EIR data, **admin** also manages tokens and reads
the audit log.
Ki, OPc, OP and SIP passwords are write-only: no answer ever contains them (nor HA1).
"""


def create_app(store: Store, services: Services | None = None, *, ind_bits: int = DEFAULT_IND_BITS) -> FastAPI:
    """The API over `store`. From `services`: ``notifier`` (S6a IDR/CLR), ``cx`` (RTR/PPR) and ``node`` (peer
    listing), when set."""
    services = services if services is not None else Services()
    app = FastAPI(title="sigcore provisioning API", version="1", description=DESCRIPTION,
                  openapi_url=f"{API_V1}/openapi.json", docs_url=f"{API_V1}/docs", redoc_url=None,
                  swagger_ui_oauth2_redirect_url=f"{API_V1}/docs/oauth2-redirect")
    app.state.ctx = ApiContext(store=store, tokens=TokenRepository(store), services=services, ind_bits=ind_bits)
    app.state.public_paths = frozenset({app.openapi_url, app.docs_url, app.swagger_ui_oauth2_redirect_url})
    app.middleware("http")(authenticate_and_audit)
    install_error_handlers(app)
    routers = [module.router for module in (subscribers, imports, auth_data, apns, ims, eir, peers, stats, admin)]
    for router in routers:
        app.include_router(router, prefix=API_V1, responses=COMMON_RESPONSES)
    app.state.role_table = role_table(routers, API_V1)
    mount_ops(app, services)
    mount_console(app)
    return app
