"""Queue items: ``BItem`` and the typed ``BPlan``/``BInst``/``BFunc``.

Same construction, validation and ``to_dict`` rules as ``bluesky_queueserver_api.item`` so items
built for one client are accepted by the other: positional arguments after the name become
``args``, keywords become ``kwargs``, and ``to_dict`` drops empty ``args``/``kwargs``/``meta``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

_OPTIONAL_KEYS = ("args", "kwargs", "meta")


def _foreign_item(obj: Any) -> Mapping[str, Any] | None:
    """The dict of an item object that is not ours but has the item interface (``to_dict()``,
    e.g. the reference client's BPlan), else None."""
    if isinstance(obj, (BItem, Mapping)):
        return None
    to_dict = getattr(obj, "to_dict", None)
    item_dict = to_dict() if callable(to_dict) else None
    return item_dict if isinstance(item_dict, Mapping) else None


class BItem:
    """A queue item: a plan, an instruction or a function."""

    _recognized_item_types: ClassVar[tuple[str, ...]] = ("plan", "instruction", "function")

    def __init__(self, *args: Any, **kwargs: Any):
        foreign = _foreign_item(args[0]) if len(args) == 1 and not kwargs else None
        if foreign is not None:
            args = (foreign,)
        if len(args) == 1 and not kwargs and isinstance(args[0], Mapping):
            self._item_dict = self._validate_item_dict(args[0])
        elif len(args) == 1 and not kwargs and isinstance(args[0], BItem):
            self._item_dict = args[0].to_dict()
        else:
            if len(args) == 0:
                raise KeyError("'item_type' and 'item_name' are missing in constructor arguments")
            if len(args) == 1:
                raise KeyError("'item_name' is missing in constructor arguments")
            self._item_dict = {}
            self.item_type = args[0]
            self.name = args[1]
            if len(args) > 2:
                self.args = list(args[2:])
            if kwargs:
                self.kwargs = kwargs
        self._add_optional_items()

    # -- validation ------------------------------------------------------------------------
    def _add_optional_items(self) -> None:
        for key, empty in (("args", []), ("kwargs", {}), ("meta", {})):
            self._item_dict.setdefault(key, empty)

    def _validate_item_dict(self, item_dict: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(item_dict, Mapping):
            raise TypeError(f"Item dictionary is not a mapping: {type(item_dict)!r}")
        item_dict = copy.deepcopy(dict(item_dict))
        for key in ("item_type", "name"):
            if key not in item_dict:
                raise KeyError(
                    f"Required {key!r} key is not found in the item dictionary {item_dict}")
        self._validate_item_type(item_dict["item_type"])
        self._validate_name(item_dict["name"])
        if "item_uid" in item_dict:
            self._validate_item_uid(item_dict["item_uid"])
        validators = {"args": self._validate_args, "kwargs": self._validate_kwargs,
                      "meta": self._validate_meta}
        for key, validate in validators.items():
            if key in item_dict:
                item_dict[key] = validate(item_dict[key])
        return item_dict

    def _validate_item_type(self, item_type: Any) -> None:
        if not isinstance(item_type, str):
            raise TypeError(f"Item type {item_type!r} is not a string: ({type(item_type)!r})")
        if item_type not in self.recognized_item_types:
            raise ValueError(
                f"Unsupported item type: {item_type!r}. "
                f"Supported types: {self.recognized_item_types}"
            )

    @staticmethod
    def _validate_name(name: Any) -> None:
        if not isinstance(name, str):
            raise TypeError(f"Item name {name!r} is not a string: ({type(name)!r})")
        if not name:
            raise ValueError("Item name is an empty string")

    @staticmethod
    def _validate_item_uid(item_uid: Any) -> None:
        if not isinstance(item_uid, str):
            raise TypeError(f"Item UID {item_uid!r} is not a string: ({type(item_uid)!r})")
        if not item_uid:
            raise ValueError("Item UID is an empty string")

    @staticmethod
    def _validate_args(item_args: Any) -> list:
        if not isinstance(item_args, Iterable) or isinstance(item_args, str):
            raise TypeError(f"Item args {item_args!r} must be iterable: ({type(item_args)!r})")
        return list(item_args)

    @staticmethod
    def _validate_kwargs(item_kwargs: Any) -> dict:
        if not isinstance(item_kwargs, Mapping):
            raise TypeError(
                f"Item kwargs {item_kwargs!r} must be a mapping: ({type(item_kwargs)!r})")
        return dict(item_kwargs)

    @staticmethod
    def _validate_meta(item_meta: Any) -> dict | list:
        if isinstance(item_meta, Mapping):
            return dict(item_meta)
        if isinstance(item_meta, Iterable) and not isinstance(item_meta, str):
            item_meta = list(item_meta)
            for md in item_meta:
                if not isinstance(md, Mapping):
                    raise TypeError(
                        f"One of the elements of item metadata list is not a mapping ({type(md)})"
                    )
            return item_meta
        raise TypeError(
            f"Item metadata {item_meta!r} must be a mapping or an iterable: ({type(item_meta)!r})"
        )

    # -- properties ------------------------------------------------------------------------
    @property
    def recognized_item_types(self) -> tuple[str, ...]:
        return tuple(self._recognized_item_types)

    @property
    def item_type(self) -> str:
        return self._item_dict["item_type"]

    @item_type.setter
    def item_type(self, item_type: str) -> None:
        self._validate_item_type(item_type)
        self._item_dict["item_type"] = item_type

    @property
    def name(self) -> str:
        return self._item_dict["name"]

    @name.setter
    def name(self, name: str) -> None:
        self._validate_name(name)
        self._item_dict["name"] = name

    @property
    def args(self) -> list:
        return self._item_dict["args"]

    @args.setter
    def args(self, item_args: Iterable) -> None:
        item_args = self._validate_args(item_args)
        self._item_dict.setdefault("args", [])
        self._item_dict["args"][:] = copy.deepcopy(item_args)

    @property
    def kwargs(self) -> dict:
        return self._item_dict["kwargs"]

    @kwargs.setter
    def kwargs(self, item_kwargs: Mapping) -> None:
        item_kwargs = self._validate_kwargs(item_kwargs)
        self._item_dict.setdefault("kwargs", {})
        self._item_dict["kwargs"].clear()
        self._item_dict["kwargs"].update(copy.deepcopy(item_kwargs))

    @property
    def item_uid(self) -> str | None:
        return self._item_dict.get("item_uid", None)

    @item_uid.setter
    def item_uid(self, item_uid: str) -> None:
        self._validate_item_uid(item_uid)
        self._item_dict["item_uid"] = item_uid

    @property
    def meta(self) -> dict | list:
        return self._item_dict["meta"]

    @meta.setter
    def meta(self, meta: Mapping | Iterable) -> None:
        self._item_dict["meta"] = copy.deepcopy(self._validate_meta(meta))

    @property
    def dict_ref(self) -> dict[str, Any]:
        """The internal dictionary (not a copy)."""
        return self._item_dict

    # -- conversion ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A deep copy, without empty ``args``/``kwargs``/``meta``."""
        item_dict = copy.deepcopy(self._item_dict)
        for key in _OPTIONAL_KEYS:
            if key in item_dict and not item_dict[key]:
                del item_dict[key]
        return item_dict

    def from_dict(self, item_dict: BItem | Mapping[str, Any]) -> None:
        """Replace the contents with ``item_dict`` (also an item object with ``to_dict()``)."""
        item_dict = _foreign_item(item_dict) or item_dict
        if isinstance(item_dict, BItem):
            new = item_dict.to_dict()
        elif isinstance(item_dict, Mapping):
            new = self._validate_item_dict(item_dict)
        else:
            raise TypeError(
                f"Unsupported type {type(item_dict)!r} of parameter ``item_dict``: "
                "BItem object or Mapping is accepted."
            )
        self._item_dict.clear()
        self._item_dict.update(new)
        self._add_optional_items()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BItem):
            return self.to_dict() == other.to_dict()
        return NotImplemented

    __hash__ = None  # mutable

    def __str__(self) -> str:
        return str(self.to_dict())

    def __repr__(self) -> str:
        return repr(self.to_dict())


class _BItemSpecialized(BItem):
    """An item whose type is fixed by the class."""

    _class_item_type: ClassVar[str] = ""

    def __init__(self, *args: Any, **kwargs: Any):
        foreign = _foreign_item(args[0]) if len(args) == 1 and not kwargs else None
        if foreign is not None:
            args = (foreign,)
        source = args[0] if len(args) == 1 and not kwargs else None
        if isinstance(source, Mapping):
            if "item_type" not in source:
                raise KeyError(
                    f"'item_type' key is not found in item parameter dictionary {source}")
            if source["item_type"] != self._class_item_type:
                raise ValueError(
                    f"Item {self._class_item_type!r} can not be initialized from a dictionary "
                    f"which represents {source['item_type']!r}"
                )
            super().__init__(*args)
        elif isinstance(source, BItem):
            if source.item_type != self._class_item_type:
                raise ValueError(
                    f"Item {self._class_item_type!r} can not be initialized from a class object "
                    f"which represents {source.item_type!r}"
                )
            super().__init__(*args)
        else:
            super().__init__(self._class_item_type, *args, **kwargs)


class BPlan(_BItemSpecialized):
    """A plan: ``BPlan("count", ["det1"], num=3)``."""

    _class_item_type = "plan"
    _recognized_item_types = ("plan",)


class BInst(_BItemSpecialized):
    """An instruction: ``BInst("queue_stop")``."""

    _class_item_type = "instruction"
    _recognized_item_types = ("instruction",)


class BFunc(_BItemSpecialized):
    """A function to run in the worker: ``BFunc("function_sleep", 2)``."""

    _class_item_type = "function"
    _recognized_item_types = ("function",)
