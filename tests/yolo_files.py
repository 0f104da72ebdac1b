"""Hand-written pickles for the hostile-file tests: the classic ``__reduce__`` gadgets (each creates
a marker file when an unrestricted unpickler runs it), placed inside an otherwise plausible
ultralytics checkpoint. The well-formed checkpoints come from :mod:`spp_viz.devtools.detector_files`.
"""

from __future__ import annotations

import io

from spp_viz.devtools.detector_files import TASKS


def op_global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def op_str(text: str) -> bytes:
    data = text.encode()
    return b"X" + len(data).to_bytes(4, "little") + data


def op_call(func: bytes, *args: bytes) -> bytes:
    """``func(*args)``: MARK, the arguments, TUPLE, REDUCE."""
    return func + b"(" + b"".join(args) + b"tR"


def detector_pickle(gadget: bytes) -> bytes:
    """``{"model": DetectionModel(), "train_args": <gadget>}`` as protocol-2 pickle instructions."""
    model = op_global(TASKS, "DetectionModel") + b")\x81"  # EMPTY_TUPLE, NEWOBJ
    return b"\x80\x02}" + op_str("model") + model + b"s" + op_str("train_args") + gadget + b"s."


def raw_checkpoint(pickle_bytes: bytes, folder: str = "archive") -> bytes:
    """A zip laid out as ``torch.save`` lays it out, holding ``pickle_bytes`` and no storage."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{folder}/data.pkl", pickle_bytes)
        zf.writestr(f"{folder}/byteorder", "little")
        zf.writestr(f"{folder}/version", "3\n")
    return buf.getvalue()


def gadgets(marker: str) -> dict[str, tuple[bytes, str]]:
    """Each gadget's pickle instructions (run by ``pickle.loads``, they create ``marker``) and the
    global a safe reader must refuse, by name."""
    touch = f"open({marker!r}, 'w').close()"
    return {
        "os.system": (op_call(op_global("os", "system"), op_str(f"touch {marker}")), "os.system"),
        "subprocess.Popen": (op_call(op_global("subprocess", "Popen"), b"](" + op_str("touch") + op_str(marker) + b"e"),
                             "subprocess.Popen"),
        "builtins.eval": (op_call(op_global("builtins", "eval"), op_str(touch)), "builtins.eval"),
        "getattr chain": (op_call(op_call(op_global("builtins", "getattr"), op_call(op_global("builtins", "__import__"), op_str("os")),
                                          op_str("system")), op_str(f"touch {marker}")), "builtins.getattr"),
        "fake _rebuild_tensor": (op_call(op_global("__main__", "_rebuild_tensor_v2"), op_str(touch)), "__main__._rebuild_tensor_v2"),
        "real _rebuild_tensor on a system call": (
            op_call(op_global("torch._utils", "_rebuild_tensor_v2"), op_call(op_global("os", "system"), op_str(f"touch {marker}")),
                    b"K\x00", b"K\x01\x85", b"K\x01\x85"), "os.system"),
    }
