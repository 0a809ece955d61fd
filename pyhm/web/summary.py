"""The dashboard's summary (``/`` and ``/api/meters``) once per new data, not once per request.

Every open dashboard asks for it every few seconds; the answer changes only when the acquisition
commits. One summary per process is kept with the data version it was made from
(`Query.data_version`) and the minute (the last hour's curve, "yesterday up to now" and today's
sums move on with the clock even when no data comes); a request at the same version gets it with
its ages moved on and the acquisition's state read anew.
Requests that arrive while it is being made wait for it instead of making it too.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, Hashable, Optional

from pyhm.store import Query
from pyhm.web import api


class Summary:
    """A per-process memo of `api.meters`, keyed by the data version."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: Optional[Hashable] = None
        self._value: Dict[str, Any] = {}
        self._made = 0.0

    def get(self, q: Query) -> Dict[str, Any]:
        key = (q.data_version(), int(time.time() // 60))
        with self._lock:
            if key != self._key:
                self._value, self._made, self._key = api.meters(q), time.monotonic(), key
            value, made = self._value, self._made
        elapsed = time.monotonic() - made
        meters = [m if m["age_s"] is None else dict(m, age_s=round(m["age_s"] + elapsed, 1)) for m in value["meters"]]
        return dict(value, meters=meters, acquisition=api.acquisition(q))
