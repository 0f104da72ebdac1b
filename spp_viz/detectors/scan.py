"""What a checkpoint's pickle names and which tensor storages it asks for, read without building anything.

torch's restricted unpickler reads a storage's size from the pickle and allocates it when it
meets the storage; before torch 2.10 it compared that size with the file only afterwards. So
spp-viz first walks the pickle's instructions here, with the same instruction set and the same
stack effects as ``torch._weights_only_unpickler`` but with nothing built: a value is a string,
a number, a tuple, a :class:`Global` name or :data:`OPAQUE`. No name is resolved, nothing is
called. The walk gives

* every global the pickle names, in order (what :mod:`.standins` may answer for), and
* every tensor storage it declares (key, storage type, element count), so that
  :mod:`.reading` can refuse a file that asks for more bytes than it holds, or than the limit,
  before torch allocates any.

An instruction torch's unpickler does not know is refused here too, with the same outcome.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["OPAQUE", "Global", "PickleScan", "ScanError", "StorageDeclaration", "scan_pickle"]


class ScanError(ValueError):
    """The pickle is malformed, or declares a storage in a form ``torch.save`` never writes."""


@dataclass(frozen=True)
class Global:
    """A ``GLOBAL module name`` instruction's target, as a dotted name."""

    name: str


@dataclass(frozen=True)
class StorageDeclaration:
    """One ``BINPERSID ('storage', StorageType, key, location, numel)`` of the pickle."""

    key: str
    storage_type: str  # e.g. "torch.HalfStorage"
    numel: int


@dataclass(frozen=True)
class PickleScan:
    """The globals the pickle names (first appearance order) and its storages (by key, first declaration)."""

    globals: tuple[str, ...]
    storages: dict[str, StorageDeclaration]


class _Opaque:
    """Any value the scan does not model (a dict, a list, a built object)."""

    def __repr__(self) -> str:
        return "OPAQUE"


OPAQUE = _Opaque()

# torch 2.x's restricted unpickler reads these renamed Python 2 names (pickle's compat tables)
_PY2_NAMES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


def scan_pickle(data: bytes) -> PickleScan:
    """Walk ``data`` (a ``data.pkl``) to its STOP; :class:`ScanError` when it is malformed."""
    try:
        return _Walk(data).run()
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise ScanError(f"the pickle is truncated or malformed ({type(exc).__name__})") from None


class _Walk:
    """One pass over the instructions, keeping torch's stack discipline with inert values."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.stack: list[object] = []
        self.metastack: list[list[object]] = []
        self.memo: dict[int, object] = {}
        self.globals: dict[str, None] = {}
        self.storages: dict[str, StorageDeclaration] = {}

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos:self.pos + n]
        if len(chunk) != n:
            raise IndexError("past the end")
        self.pos += n
        return chunk

    def line(self) -> str:
        end = self.data.find(b"\n", self.pos)
        if end < 0:
            raise IndexError("a name without its end of line")
        text = self.data[self.pos:end].decode("utf-8")
        self.pos = end + 1
        return text

    def pop_mark(self) -> list[object]:
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def run(self) -> PickleScan:
        """The walk. The most frequent instructions of a module pickle (memo reads and writes,
        calls, empty tuples, small ints: nine in ten) are handled inline; the rest by
        :data:`_HANDLERS`, after which the stack is read again (MARK and TUPLE replace it)."""
        data, memo, stack = self.data, self.memo, self.stack
        while True:
            op = data[self.pos]
            self.pos += 1
            if op == 0x68:  # BINGET
                stack.append(memo[data[self.pos]] if data[self.pos] in memo else self.missing(data[self.pos]))
                self.pos += 1
            elif op == 0x72:  # LONG_BINPUT
                memo[int.from_bytes(self.take(4), "little")] = stack[-1]
            elif op in (0x52, 0x81):  # REDUCE, NEWOBJ: callable, arguments -> result
                if len(stack) < 2:
                    raise IndexError("stack underflow")
                stack[-2:] = [OPAQUE]
            elif op == 0x29:  # EMPTY_TUPLE
                stack.append(())
            elif op == 0x4B:  # BININT1
                stack.append(data[self.pos])
                self.pos += 1
            elif op == 0x2E:  # STOP
                stack.pop()
                return PickleScan(tuple(self.globals), self.storages)
            else:
                handler = _HANDLERS.get(op)
                if handler is None:
                    raise ScanError(f"the pickle uses instruction {bytes([op])!r}, which a safe load does not run")
                handler(self)
                stack = self.stack

    def missing(self, index: int) -> object:
        raise ScanError(f"the pickle reads memo entry {index} before writing it")

    def global_(self) -> None:
        module, name = self.line(), self.line()
        module = _PY2_NAMES.get(module, module)
        full = f"{module}.{name}"
        self.globals.setdefault(full)
        self.stack.append(Global(full))

    def persid(self) -> None:
        pid = self.stack.pop()
        if not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != "storage":
            raise ScanError("the pickle loads something other than a tensor storage")
        _, storage_type, key, _location, numel = pid
        if not (isinstance(storage_type, Global) and isinstance(key, str) and isinstance(numel, int) and numel >= 0):
            raise ScanError("the pickle declares a tensor storage in a form torch.save never writes")
        self.storages.setdefault(key, StorageDeclaration(key, storage_type.name, numel))
        self.stack.append(OPAQUE)

    def put(self, index: int) -> None:
        self.memo[index] = self.stack[-1]

    def get(self, index: int) -> None:
        self.stack.append(self.memo[index] if index in self.memo else self.missing(index))


def _replace_top(walk: _Walk, count: int) -> None:
    """Pop ``count`` values, push one opaque result (NEWOBJ, REDUCE)."""
    del walk.stack[len(walk.stack) - count:]
    walk.stack.append(OPAQUE)


def _tuple_of(walk: _Walk, count: int) -> None:
    items = walk.stack[len(walk.stack) - count:] if count else []
    del walk.stack[len(walk.stack) - count:]
    walk.stack.append(tuple(items))


def _push(value: object):
    return lambda walk: walk.stack.append(value)


def _check_depth(walk: _Walk, count: int) -> None:
    if len(walk.stack) < count:
        raise IndexError("stack underflow")


def _pop(count: int):
    def handler(walk: _Walk) -> None:
        _check_depth(walk, count)
        del walk.stack[len(walk.stack) - count:]
    return handler


def _reduce(walk: _Walk) -> None:
    _check_depth(walk, 2)
    _replace_top(walk, 2)


def _tuple_n(count: int):
    def handler(walk: _Walk) -> None:
        _check_depth(walk, count)
        _tuple_of(walk, count)
    return handler


def _tuple(walk: _Walk) -> None:
    items = tuple(walk.pop_mark())  # before reading walk.stack: pop_mark replaces it
    walk.stack.append(items)


def _mark(walk: _Walk) -> None:
    walk.metastack.append(walk.stack)
    walk.stack = []


def _unicode(walk: _Walk) -> None:
    (length,) = struct.unpack("<I", walk.take(4))
    walk.stack.append(walk.take(length).decode("utf-8", "surrogatepass"))


def _short_binstring(walk: _Walk) -> None:
    walk.stack.append(walk.take(walk.take(1)[0]).decode("latin-1"))


def _long1(walk: _Walk) -> None:
    walk.stack.append(int.from_bytes(walk.take(walk.take(1)[0]), "little", signed=True))


def _struct(fmt: str, size: int):
    return lambda walk: walk.stack.append(struct.unpack(fmt, walk.take(size))[0])


# The instructions of torch._weights_only_unpickler.Unpickler.load, with their stack effects.
_HANDLERS = {
    0x63: _Walk.global_,  # GLOBAL
    0x81: _reduce,  # NEWOBJ: cls, args -> obj
    0x52: _reduce,  # REDUCE: func, args -> result
    0x62: _pop(1),  # BUILD: pops the state; the object stays
    0x61: _pop(1),  # APPEND
    0x65: lambda walk: walk.pop_mark(),  # APPENDS
    0x73: _pop(2),  # SETITEM
    0x75: lambda walk: walk.pop_mark(),  # SETITEMS
    0x28: _mark,  # MARK
    0x74: _tuple,  # TUPLE
    0x85: _tuple_n(1),  # TUPLE1
    0x86: _tuple_n(2),  # TUPLE2
    0x87: _tuple_n(3),  # TUPLE3
    0x4E: _push(None),  # NONE
    0x89: _push(False),  # NEWFALSE
    0x88: _push(True),  # NEWTRUE
    0x29: _push(()),  # EMPTY_TUPLE
    0x5D: _push(OPAQUE),  # EMPTY_LIST
    0x7D: _push(OPAQUE),  # EMPTY_DICT
    0x8F: _push(OPAQUE),  # EMPTY_SET
    0x4A: _struct("<i", 4),  # BININT
    0x4B: lambda walk: walk.stack.append(walk.take(1)[0]),  # BININT1
    0x4D: _struct("<H", 2),  # BININT2
    0x47: _struct(">d", 8),  # BINFLOAT
    0x58: _unicode,  # BINUNICODE
    0x55: _short_binstring,  # SHORT_BINSTRING
    0x51: _Walk.persid,  # BINPERSID
    0x68: lambda walk: walk.get(walk.take(1)[0]),  # BINGET
    0x6A: lambda walk: walk.get(struct.unpack("<I", walk.take(4))[0]),  # LONG_BINGET
    0x71: lambda walk: walk.put(walk.take(1)[0]),  # BINPUT
    0x72: lambda walk: walk.put(struct.unpack("<I", walk.take(4))[0]),  # LONG_BINPUT
    0x8A: _long1,  # LONG1
    0x80: lambda walk: walk.take(1),  # PROTO
}
