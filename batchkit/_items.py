"""Views into a batch: a declared component's accessor, an item view, a detached item.

``batch.<component>`` goes through `_Component`; ``batch[value]`` and ``batch.items`` give
`Item` views, which read and write the batch's own elements; an `Item` pickles to an
`ItemRecord`, a copy of its elements alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .batch import Batch

__all__ = ["Item", "ItemRecord"]


class _Component:
    """Class-level accessor of one declared component (faster than ``__getattr__``)."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __get__(self, batch, owner=None):
        if batch is None:
            return self
        return batch._data.get(self.name)

    def __set__(self, batch, value):
        batch._data[self.name] = value

    def __repr__(self) -> str:
        return f"<component {self.name!r}>"


class Item:
    """A view of one item of a batch: ``item.<component>`` is that component's element.

    Writing ``item.images = x`` writes into the batch's component. An item pickles as a
    detached copy of its own elements only, never the whole batch.
    """

    __slots__ = ("_batch", "_position")

    def __init__(self, batch: Batch, position: int):
        object.__setattr__(self, "_batch", batch)
        object.__setattr__(self, "_position", position)

    @property
    def _components(self) -> tuple[str, ...]:
        return self._batch.components or ()

    def __getattr__(self, name):
        if name in self._components:
            values = getattr(self._batch, name)
            return None if values is None else values[self._position]
        raise AttributeError(f"{type(self._batch).__name__} item has no component {name!r}")

    def __setattr__(self, name, value):
        if name not in self._components:
            raise AttributeError(f"{type(self._batch).__name__} item has no component {name!r}")
        getattr(self._batch, name)[self._position] = value

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.__getattr__(key)
        return self.__getattr__(self._components[key])

    def __iter__(self):
        return (self.__getattr__(name) for name in self._components)

    def __len__(self) -> int:
        return len(self._components)

    def __repr__(self) -> str:
        return f"<{type(self._batch).__name__} item at position {self._position}>"

    def __reduce__(self):
        values = {name: self.__getattr__(name) for name in self._components}
        return ItemRecord, (values,)


class ItemRecord:
    """A detached item: the elements of one item, by component name (what an Item pickles to)."""

    __slots__ = ("_values",)

    def __init__(self, values: dict):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"item has no component {name!r}") from None

    def __setattr__(self, name, value):
        if name not in self._values:
            raise AttributeError(f"item has no component {name!r}")
        self._values[name] = value

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.__getattr__(key)
        return list(self._values.values())[key]

    def __iter__(self):
        return iter(self._values.values())

    def __len__(self) -> int:
        return len(self._values)

    def __reduce__(self):
        return ItemRecord, (self._values,)

    def __repr__(self) -> str:
        return f"ItemRecord({', '.join(self._values)})"


class ItemAccess:
    """A batch's items by index value: ``batch[value]``, ``batch.items``, iteration, ``get``.

    A part of `Batch` (it needs ``get_pos``, ``components`` and the batch's data).
    """

    def __getitem__(self, value):
        position = self.get_pos(value)
        if self.components is None:
            return self._data[position]
        return Item(self, position)

    @property
    def items(self) -> list:
        """One item view per index value, in order (the raw elements when there are no components)."""
        if self.components is None:
            return list(self._data) if self._data is not None else []
        return [Item(self, i) for i in range(len(self))]

    def __iter__(self):
        return iter(self.items)

    def get(self, item=None, component=None):
        """batchflow's accessor: an item, a component, or one item's element of a component.

        ``get(value, "images")`` is that item's image, ``get(value)`` the item (``batch[value]``),
        ``get(None, "images")`` the whole component and ``get()`` the batch's data. An index
        value not in the batch raises ``KeyError``; an unknown component ``AttributeError``.

        Examples
        --------
        >>> import numpy as np
        >>> from batchkit import Batch
        >>> class Pairs(Batch):
        ...     components = ("x", "y")
        >>> batch = Pairs.from_data(data=(np.arange(3) * 10, np.arange(3)))
        >>> batch.get(2, "x"), batch.get(None, "y").tolist(), batch.get(1).x
        (np.int64(20), [0, 1, 2], np.int64(10))
        """
        if item is None:
            return self.data if component is None else getattr(self, component)
        if component is None:
            return self[item]
        return getattr(self, component)[self.get_pos(item)]
