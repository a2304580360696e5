"""Makes the notifications tests' helper modules importable by name (``notifications_fakes``...)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
for folder in (HERE, HERE / "integration", HERE / "api"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
