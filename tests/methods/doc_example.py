"""The example method of docs/adding-a-method.md, loaded once per test session (it registers itself as ``mygan``)."""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
import tempfile
from pathlib import Path
from types import ModuleType

DOC = Path(__file__).resolve().parents[2] / "docs" / "adding-a-method.md"
NAME = "mygan"


@functools.cache
def load_doc_example() -> ModuleType:
    """Write the doc's first Python block to a file and import it, as a user following the doc would."""
    example = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    path = Path(tempfile.mkdtemp(prefix="mygan-doc-")) / "mygan_from_doc.py"
    path.write_text(example)
    spec = importlib.util.spec_from_file_location("mygan_from_doc", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["mygan_from_doc"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
