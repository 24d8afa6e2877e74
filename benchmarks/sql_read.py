"""Benchmark reading one large extract from PostgreSQL, the ways the reader can and could.

    .venv/bin/python benchmarks/sql_read.py --rows 1500000 --repeat 3

Starts the embedded PostgreSQL server the tests use (tests/embedded_pg.py), fills a people-shaped
table (16 columns: text, DATE and INTEGER, some NULLs) with ``--rows`` rows, then reads it with
each method in a fresh process and prints the median wall time of the repeats, rows per second
and the process's peak RSS above its start. The server and its folder are removed at the end.

Methods:

- ``before``: what the reader did until now: ``pd.read_sql_query`` of the whole table at once
  through psycopg, ``numpy_nullable``, and the digest by pandas' CSV writer.
- ``adbc``: the reader now (``extracts.sql.read_sql_extract``): ADBC, COPY in binary into Arrow
  batches, each rendered as text.
- ``chunks``: the reader's path for other databases (SQLAlchemy server-side cursor, 100,000 rows
  a chunk, each cell rendered by its type, the digest chunk by chunk), pointed at PostgreSQL
  through psycopg for comparison.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

METHODS = ("before", "adbc", "chunks")
TABLE = "bench_people"

FILL = f"""
CREATE TABLE {TABLE} AS
SELECT 'P' || lpad(g::text, 9, '0') AS person_id,
       'F' || lpad((g / 3)::text, 8, '0') AS family_id,
       (ARRAY['MAIN_CARER', 'OTHER_ADULT', 'CHILD'])[1 + g % 3] AS role,
       'Forename' || (g % 997) AS forename,
       'Surname' || (g % 4999) AS surname,
       DATE '1950-01-01' + (g % 25000) AS dob,
       CASE WHEN g % 50 = 0 THEN DATE '2026-06-01' + (g % 200) END AS expected_dob,
       (ARRAY['F', 'M', 'X'])[1 + g % 3] AS gender,
       'L' || (g % 40) || ' ' || (g % 9) || 'AB' AS postcode,
       CASE WHEN g % 3 = 0 THEN NULL ELSE 'AB' || lpad((g % 999999)::text, 6, '0') || 'C' END
           AS nino,
       CASE WHEN g % 3 = 2 THEN 'A' || lpad(g::text, 12, '0') END AS upn,
       lpad((g * 7 % 9999999999)::text, 10, '0') AS nhs_number,
       'WBRI' AS ethnicity,
       DATE '2020-01-01' + (g % 2000) AS date_joined,
       CASE WHEN g % 7 = 0 THEN DATE '2024-01-01' + (g % 600) END AS date_left,
       (g % 40 = 0)::int AS nis_opt_out
FROM generate_series(1, :rows) AS g
"""


def _child(method: str, url: str, repeat: int) -> dict[str, Any]:
    """Runs in its own process, so the peak RSS is this method's alone."""
    import pandas as pd
    import sqlalchemy as sa

    from extracts import sql

    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    source = sql.SqlSource(url=url, tables={"people": TABLE})

    def before() -> int:
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            frame = pd.read_sql_query(
                sa.text(f"SELECT * FROM {TABLE}"), connection, dtype_backend="numpy_nullable"
            )
        engine.dispose()
        # Its digest: pandas' CSV writer over the whole frame.
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False, lineterminator="\n")
        hashlib.sha256(buffer.getvalue().encode("utf-8")).hexdigest()
        return len(frame)

    def adbc() -> int:
        return len(sql.read_sql_extract(source, "people")[1])

    def chunks() -> int:
        url_ = sa.engine.make_url(url)
        digest = sql._Digest()
        frames = []
        for piece in sql._read_sqlalchemy(url_, None, TABLE, "bench", sql.CHUNK_ROWS):
            frames.append(sql._as_text(piece))
            digest.add(frames[-1])
        return len(pd.concat(frames, ignore_index=True))

    run = {"before": before, "adbc": adbc, "chunks": chunks}[method]
    seconds, rows = [], 0
    for _ in range(repeat):
        began = time.perf_counter()
        rows = run()
        seconds.append(time.perf_counter() - began)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start_rss
    return {"rows": rows, "seconds": seconds, "peak_mib": peak / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.url, args.repeat)))
        return

    import sqlalchemy as sa
    from embedded_pg import start_server

    server = start_server()
    try:
        began = time.perf_counter()
        with sa.create_engine(server.admin_url()).begin() as connection:
            connection.execute(sa.text(FILL), {"rows": args.rows})
        fill = time.perf_counter() - began
        print(f"rows={args.rows} columns=16 repeats={args.repeat} (table filled in {fill:.1f} s)")
        print(f"{'method':<10}{'median s':>10}{'rows/s':>12}{'peak MiB':>10}")
        for method in args.methods.split(","):
            done = subprocess.run(
                [sys.executable, __file__, "--child", method, "--url", server.admin_url()]
                + ["--repeat", str(args.repeat)],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
            median = statistics.median(result["seconds"])
            print(
                f"{method:<10}{median:>10.2f}{result['rows'] / median:>12,.0f}"
                f"{result['peak_mib']:>10,.0f}"
            )
    finally:
        server.destroy()


if __name__ == "__main__":
    main()
