"""Cheap coercion of the plain option types, so `aicc submit` and `aicc jobs` start without pydantic.

Typer (0.29) coerces every parameter through a pydantic ``TypeAdapter``: importing pydantic and building the
adapters was ~60 ms of every command's start (issue 25 asks for <= 100 ms in all). The CLI's options are
almost all ``bool``, ``int``, ``float``, ``str`` or lists of them, optionally with ``min``/``max``: those are
coerced here, with the same error texts pydantic gives (``tests/cli/test_fast_params.py`` compares the two),
and everything else (enums, paths, files, custom parsers) still goes to Typer's own adapters.

:func:`install` swaps Typer's ``build_runtime_param`` for one that tries :func:`cheap` first. It touches one
internal name of Typer; if a Typer release renames it, ``install`` leaves Typer as it is (slower, still right).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, get_args, get_origin

_INT_TEXT = "Input should be a valid integer, unable to parse string as an integer"
_FLOAT_TEXT = "Input should be a valid number, unable to parse string as a number"
_BOOL_TEXT = "Input should be a valid boolean, unable to interpret input"
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"", "0", "off", "f", "false", "n", "no"})


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = value.strip().lower() if isinstance(value, str) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(_BOOL_TEXT)


_WHOLE = re.compile(r"([+-]?\d+(?:_\d+)*)\.0+")


def _number(kind: type, value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError(_INT_TEXT if kind is int else _FLOAT_TEXT)
    if isinstance(value, int | float) and isinstance(value, kind):
        return value
    if kind is float and isinstance(value, int):
        return float(value)
    text = str(value).strip()
    if not text.isascii():  # Python's int() and float() read other scripts' digits; pydantic does not
        raise ValueError(_INT_TEXT if kind is int else _FLOAT_TEXT)
    if kind is float and "_" in text:
        text = _float_underscores(str(value))
    if kind is int:  # pydantic takes "3.0" and "-1.00" as whole numbers (not "3.", ".0" or "1.5")
        whole = _WHOLE.fullmatch(text)
        if whole:
            text = whole.group(1)
    try:
        return kind(text)  # type: ignore[no-any-return]
    except ValueError:
        raise ValueError(_INT_TEXT if kind is int else _FLOAT_TEXT) from None


def _float_underscores(raw: str) -> str:
    """Pydantic's reading of underscores in a float, which is not Python's: it drops them wherever they stand
    (``1_.0``, ``-_1``, ``1e_5``), unless the text begins or ends with one or has two in a row, and it then no
    longer allows spaces around the number."""
    if raw.startswith("_") or raw.endswith("_") or "__" in raw:
        raise ValueError(_FLOAT_TEXT)
    cleaned = raw.replace("_", "")
    if cleaned != cleaned.strip():
        raise ValueError(_FLOAT_TEXT)
    return cleaned


def coerce_leaf(kind: type, value: Any, low: float | None = None, high: float | None = None) -> Any:
    """``value`` as ``kind`` (bool, int, float or str), within [low, high]; ValueError with pydantic's text if
    not."""
    if kind is bool:
        return _bool(value)
    if kind is str:
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return value if isinstance(value, str) else str(value)
    number = _number(kind, value)
    if high is not None and not number <= high:  # NaN too; the upper bound first, as pydantic
        raise ValueError(f"Input should be less than or equal to {high}")
    if low is not None and not number >= low:
        raise ValueError(f"Input should be greater than or equal to {low}")
    return number


def _leaf_kind(annotation: Any) -> type | None:
    return annotation if annotation in (bool, int, float, str) else None


def cheap(annotation: Any, info: Any) -> tuple[type, bool] | None:
    """(leaf type, is a list) when this module can coerce ``annotation`` as Typer would; else None."""
    if getattr(info, "parser", None) is not None or getattr(info, "clamp", False):
        return None
    if getattr(info, "formats", None) or getattr(info, "click_type", None) is not None:
        return None
    if get_origin(annotation) is list:
        args = get_args(annotation)
        kind = _leaf_kind(args[0]) if len(args) == 1 else None
        return (kind, True) if kind is not None else None
    kind = _leaf_kind(annotation)
    return (kind, False) if kind is not None else None


def install() -> None:
    """Route plain parameters past pydantic. Idempotent; a no-op if Typer's internals are not as expected."""
    try:
        import typer.core as tcore
        from typer._click.exceptions import BadParameter
        from typer._coercion import RuntimeParam
    except ImportError:  # pragma: no cover - another Typer
        return
    original = getattr(tcore, "build_runtime_param", None)
    if original is None or getattr(original, "_aicc_cheap", False):
        return

    @dataclass(frozen=True)
    class CheapParam(RuntimeParam):
        kind: type = str
        many: bool = False

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            low, high = self.parameter_info.min, self.parameter_info.max
            try:
                if self.many:
                    items = value if isinstance(value, list | tuple) else [value]
                    return [coerce_leaf(self.kind, v, low, high) for v in items]
                return coerce_leaf(self.kind, value, low, high)
            except ValueError as exc:
                raise BadParameter(str(exc), ctx=ctx, param=param) from exc

    def build(descriptor: Any) -> Any:
        found = None if descriptor.file_annotation is not None else cheap(descriptor.annotation,
                                                                              descriptor.parameter_info)
        if found is None:
            return original(descriptor)
        return CheapParam(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation,
                          kind=found[0], many=found[1])

    build._aicc_cheap = True  # type: ignore[attr-defined]
    tcore.build_runtime_param = build  # type: ignore[attr-defined]
