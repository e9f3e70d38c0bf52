"""The ``dra`` configuration section (docs/dra.md).

Fixed key names (issue #19): ``dra.routes`` with its match fields, ``peers``, ``priority``, ``weight``;
``dra.pyform.directory``/``module``/``function``; ``dra.hooks``. Every model forbids unknown keys so that a
typo is reported with its dotted path, as in the rest of `sigcore.config`.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: The optional match fields of a route rule, in the order `sigcore dra routes` prints them.
MATCH_FIELDS = ("destination_realm", "destination_host", "application_id", "command_code", "origin_host",
                "origin_realm", "user_name_prefix", "user_name_regex")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RouteConfig(_Section):
    """One rule: where requests matching every given field go. No match field = the default route."""

    name: str | None = Field(None, description="label in counters and `sigcore dra routes` (default: route<N>)")
    destination_realm: str | None = None
    destination_host: str | None = None
    application_id: int | None = Field(None, ge=0, le=0xFFFFFFFF)
    command_code: int | None = Field(None, ge=0, le=0xFFFFFF)
    origin_host: str | None = None
    origin_realm: str | None = None
    user_name_prefix: str | None = Field(None, min_length=1, description="e.g. an IMSI range '00101123'")
    user_name_regex: str | None = Field(None, description="Python regex matched at the start of User-Name")
    peers: list[str] = Field(min_length=1, description="names from diameter.peers")
    priority: int = Field(1, ge=0, description="lower first: the next priority is the standby group")
    weight: int = Field(1, ge=0, description="load share among the rules of the same priority")

    @field_validator("user_name_regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as err:
                raise ValueError(f"not a valid regular expression: {err}") from None
        return value


class PyformConfig(_Section):
    """rt_pyform's three settings (DirectoryPath, ModuleName, FunctionName)."""

    directory: str = Field(".", description="directory holding the module")
    module: str = Field(description="module name, without .py")
    function: str = Field("transform", description="transform(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, "
                                                   "vendorID, value) -> str")
    reload_check: float = Field(1.0, ge=0, description="seconds between checks of the module file's mtime "
                                                       "(0: on SIGHUP only)")


class DraConfig(_Section):
    """A Diameter Routing Agent (relay or proxy, RFC 6733 §6) in front of this node's applications."""

    routes: list[RouteConfig] = Field(default_factory=list)
    mode: Literal["relay", "redirect"] = Field("relay", description="redirect: answer 3006 with Redirect-Host "
                                                                    "instead of forwarding")
    redirect_max_cache_time: int = Field(300, ge=0, description="Redirect-Max-Cache-Time in 3006 answers")
    pyform: PyformConfig | None = None
    hooks: list[str] = Field(default_factory=list, description="'package.module:function' called for every "
                                                               "relayed request and answer")
    max_attempts: int = Field(3, ge=1, description="peers tried per request: the first send and the failovers "
                                                   "(peer down, no answer in request_timeout, 3002, 3004)")
    error_log_interval: float = Field(60.0, gt=0, description="a script error is logged at most once per this "
                                                              "many seconds")

    @field_validator("hooks")
    @classmethod
    def _hooks(cls, value: list[str]) -> list[str]:
        for item in value:
            mod, sep, func = item.partition(":")
            if not sep or not mod or not func.isidentifier():
                raise ValueError(f"expected 'package.module:function', got {item!r}")
        return value

    @model_validator(mode="after")
    def _names(self) -> DraConfig:
        seen: set[str] = set()
        for i, route in enumerate(self.routes):
            route.name = route.name or f"route{i}"
            if route.name in seen:
                raise ValueError(f"routes.{i}.name: {route.name!r} is used twice")
            seen.add(route.name)
        return self


def undefined_peers(dra: DraConfig, peer_names: set[str]) -> list[str]:
    """``routes.N.peers: ...`` messages for route peers not in ``diameter.peers`` (case-insensitive)."""
    known = {p.lower() for p in peer_names}
    return [f"routes.{i}.peers: {p!r} is not in diameter.peers"
            for i, r in enumerate(dra.routes) for p in r.peers if p.lower() not in known]
