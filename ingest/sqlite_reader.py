"""Ingest stage, SQLite side: a child process reading the operational SQLite file through ADBC.

Why a process of its own: the ADBC SQLite driver carries its own copy of the SQLite library. Two SQLite
libraries in one process do not see each other's POSIX locks, so when the ADBC connection closes it
believes it was the last one, checkpoints and removes the -wal file under any Python ``sqlite3``
connection still open in the same process (an app, a test, `crm demo`): later writes vanish and reads
fail with "disk I/O error". In a child process the kernel's per-process locks keep the two apart.

Protocol (stdin/stdout, one snapshot for the child's life): the parent writes one SQL statement per line
as JSON; the child answers ``OK\\n``, an Arrow IPC stream of the result and ``END\\n`` — or ``ERR <message>\\n``
instead of ``OK`` or ``END`` when the statement fails before or while streaming.
End of input rolls the read transaction back and exits.
"""

from __future__ import annotations

import json
import sys

BATCH_ROWS = 65536


def serve(path: str) -> int:
    import adbc_driver_sqlite.dbapi as adbc_sqlite
    import pyarrow as pa

    out = sys.stdout.buffer
    try:
        conn = adbc_sqlite.connect(path)
    except Exception as exc:  # ADBC raises its own DB-API error classes
        out.write(f"ERR {_one_line(exc)}\n".encode())
        out.flush()
        return 1
    try:
        for line in sys.stdin.buffer:
            sql = json.loads(line)
            cursor = conn.cursor()
            try:
                cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(BATCH_ROWS)})
                cursor.execute(sql)
                reader = cursor.fetch_record_batch()
                schema = reader.schema
            except Exception as exc:
                out.write(f"ERR {_one_line(exc)}\n".encode())
                out.flush()
                cursor.close()
                continue
            out.write(b"OK\n")
            failure = None
            with pa.ipc.new_stream(out, schema) as writer:
                try:
                    for batch in reader:
                        writer.write_batch(batch)
                except Exception as exc:
                    failure = exc
            # A trailer after the stream: a failure half-way must never pass for a short, complete result.
            out.write(b"END\n" if failure is None else f"ERR {_one_line(failure)}\n".encode())
            out.flush()
            cursor.close()
    finally:
        conn.rollback()
        conn.close()
    return 0


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__).replace("\n", " ")


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1]))
