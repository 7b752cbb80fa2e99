"""The item editor: plan picker, generated parameter form, metadata, JSON view.

``ItemEditor`` is the item editor the main window uses (it replaced a simple JSON entry). The rules
(annotation parsing, validation, item building) are Qt-free in :mod:`qs_gui.core.schema`.
"""

from .editor import ItemEditor

__all__ = ["ItemEditor"]
