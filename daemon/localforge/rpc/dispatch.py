"""Method registry and dispatch: validate params, call the handler, map errors.

A method is a name, a pydantic model for its params and an async handler
``handler(ctx, params)``. Method modules under ``rpc/methods/`` each expose
``methods() -> list[Method]``; the registry is built from them at start.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from localforge.errors import InvalidParams, MethodNotFound
from localforge.serving.context import Services
from localforge.serving.decisions import Origin

log = logging.getLogger(__name__)

P = TypeVar("P", bound=BaseModel)
Notify = Callable[[Any], None]


class Params(BaseModel):
    """Base for method params: unknown fields are an error, naming the field.

    Every string in a param, however deep, must be valid Unicode: JSON can carry a lone
    UTF-16 surrogate (``"\\ud800"``) that no tokenizer, database or UTF-8 encoder accepts,
    so it is refused here (-32602) rather than failing inside a service.
    """

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _valid_unicode(cls, value: Any) -> Any:
        found = lone_surrogate(value)
        if found is not None:
            where, index, char = found
            raise PydanticCustomError(
                "lone_surrogate",
                "text{where} is not valid Unicode: lone surrogate U+{code} at index {index}; "
                "send UTF-16 surrogates only in pairs (or replace them with U+FFFD)",
                {"where": where and f" at {where}", "code": f"{ord(char):04X}", "index": index},
            )
        return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(value: Any) -> tuple[str, int, str] | None:
    """Where the first lone surrogate in a JSON value is: (path inside it, index, character)."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:  # no recursion: params may be nested as deep as the JSON parser allows
        path, item = stack.pop()
        if isinstance(item, str):
            found = None if item.isascii() else _SURROGATE.search(item)
            if found is not None:
                return path, found.start(), found.group()
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                stack.append((f"{path}.{key}" if path else str(key), child))
                stack.append((path, key))  # checked first, so a path shown is clean
        elif isinstance(item, list | tuple):
            stack.extend((f"{path}[{i}]", child) for i, child in reversed(list(enumerate(item))))
    return None


class NoParams(Params):
    pass


@dataclass
class CallContext:
    """What a handler may use: the daemon's services and, for streaming methods, ``stream``."""

    services: Services
    request_id: int | str | None
    stream: Notify
    methods: MethodTable | None = None  # the table this call came through (daemon.methods)
    origin: Origin | None = None  # the connection's door and client name (daemon.hello)


Handler = Callable[[CallContext, P], Awaitable[Any]]


@dataclass(frozen=True)
class Method(Generic[P]):
    name: str
    params: type[P]
    handler: Handler[P]
    summary: str
    streams: bool = False

    def describe(self) -> dict[str, Any]:
        fields = {}
        for field_name, info in self.params.model_fields.items():
            fields[field_name] = {
                "type": _type_name(info.annotation),
                "required": info.is_required(),
                "description": info.description or "",
                **({} if info.is_required() else {"default": _jsonable(info.get_default())}),
            }
        return {
            "name": self.name,
            "summary": self.summary,
            "streams": self.streams,
            "params": fields,
        }


class MethodTable:
    def __init__(self, methods: Iterable[Method[Any]] = ()) -> None:
        self._methods: dict[str, Method[Any]] = {}
        for method in methods:
            self.add(method)

    def add(self, method: Method[Any]) -> None:
        if method.name in self._methods:
            raise ValueError(f"method {method.name!r} registered twice")
        self._methods[method.name] = method

    def get(self, name: str) -> Method[Any]:
        method = self._methods.get(name)
        if method is None:
            raise MethodNotFound(
                f"unknown method {name!r}; daemon.methods lists the {len(self._methods)} known ones"
            )
        return method

    def describe(self) -> list[dict[str, Any]]:
        return [self._methods[name].describe() for name in sorted(self._methods)]

    async def call(
        self, ctx: CallContext, name: str, raw: dict[str, Any] | list[Any] | None
    ) -> Any:
        method = self.get(name)
        params = bind_params(method, raw)
        ctx.methods = self
        return await method.handler(ctx, params)


def bind_params(method: Method[P], raw: dict[str, Any] | list[Any] | None) -> P:
    if isinstance(raw, list):
        names = list(method.params.model_fields)
        if len(raw) > len(names):
            raise InvalidParams(f"{method.name} takes at most {len(names)} positional params")
        raw = dict(zip(names, raw, strict=False))
    try:
        return method.params.model_validate(raw or {})
    except ValidationError as exc:
        raise InvalidParams(_explain(method.name, exc)) from exc


def _explain(method: str, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"]) or "params"
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown param '{field}'")
        elif err["type"] == "missing":
            problems.append(f"missing param '{field}'")
        else:
            problems.append(f"param '{field}': {err['msg']} (got {err.get('input')!r:.60})")
    return f"invalid params for {method}: " + "; ".join(problems)


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    return str(value)
