"""A dashboard-like reader process for the atomic-publish test.

Opens the published warehouse through warehouse.readers, reports what it sees, keeps reading with that
same connection until told to stop (while the test publishes a new file), then reports every distinct
answer the old connection gave and what a new connection sees.
"""

from __future__ import annotations

import json
import sys
import threading

from warehouse.readers import connect, published_version

QUERY = "select count(*), cast(coalesce(sum(lifetime_net_revenue), 0) as double) from marts.customer_value"


def main() -> None:
    old = connect()
    first = list(old.execute(QUERY).fetchall()[0])
    print(json.dumps({"ready": first, "version": published_version()}), flush=True)
    stop = threading.Event()

    def wait_for_stop() -> None:
        sys.stdin.readline()
        stop.set()

    threading.Thread(target=wait_for_stop, daemon=True).start()
    seen = set()
    reads = 0
    while not stop.is_set():
        seen.add(tuple(old.execute(QUERY).fetchall()[0]))
        reads += 1
    new = connect()
    print(
        json.dumps(
            {
                "old": [list(s) for s in sorted(seen)],
                "reads": reads,
                "new": list(new.execute(QUERY).fetchall()[0]),
                "version": published_version(),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
