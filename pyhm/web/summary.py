"""The dashboard's summary (``/`` and ``/api/meters``) once per new data, not once per request.

Every open dashboard asks for it every few seconds; the answer changes only when the acquisition
commits. One summary per process is kept with the data version it was made from
(`Query.data_version`) and the minute (the last hour's curve, "yesterday up to now" and today's
sums move on with the clock even when no data comes); a request at the same version gets it with
its ages moved on and the acquisition's state read anew. Ages are in tenths of a second, so the
answer, and its JSON for ``/api/meters``, is also kept per tenth: a busy second encodes it ten
times, not once per request.
Requests that arrive while it is being made wait for it instead of making it too.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, Hashable, List, Optional, Tuple

from pyhm import exactjson
from pyhm.store import Query
from pyhm.web import api


class Encoded(str):
    """JSON text already made: `pyhm.web.app` sends it as it is."""


class Summary:
    """A per-process memo of `api.meters`, keyed by the data version."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: Optional[Hashable] = None
        self._value: Dict[str, Any] = {}
        self._made = 0.0
        self._answer: Tuple[Hashable, Dict[str, Any], List[Optional[Encoded]]] = (None, {}, [None])

    def get(self, q: Query) -> Dict[str, Any]:
        return self._current(q)[1]

    def encoded(self, q: Query) -> Encoded:
        """`get` as JSON text, encoded once per answer."""
        _, value, text = self._current(q)
        if text[0] is None:
            text[0] = Encoded(exactjson.dumps(value))
        return text[0]

    def _current(self, q: Query) -> Tuple[Hashable, Dict[str, Any], List[Optional[Encoded]]]:
        key = (q.data_version(), int(time.time() // 60))
        with self._lock:
            if key != self._key:
                self._value, self._made, self._key = api.meters(q), time.monotonic(), key
            value, made = self._value, self._made
        tenths = round(time.monotonic() - made, 1)
        acquisition = api.acquisition(q)
        answer = self._answer
        if answer[0] == (key, tenths) and answer[1]["acquisition"] == acquisition:
            return answer
        meters = [m if m["age_s"] is None else dict(m, age_s=round(m["age_s"] + tenths, 1)) for m in value["meters"]]
        answer = ((key, tenths), dict(value, meters=meters, acquisition=acquisition), [None])
        self._answer = answer
        return answer
