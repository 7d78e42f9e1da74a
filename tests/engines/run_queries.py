#!/usr/bin/env python3
"""Runs Prism's segment queries on a real engine, for the warehouse tests.

    run_queries.py ENGINE EXPORT_DIR QUERIES_JSON OUT_JSON

ENGINE is `duckdb` or `spark` (local mode). EXPORT_DIR is what
`prism export-schema --dialect ENGINE` wrote (schema.sql, load.sql and the
CSV files). QUERIES_JSON is a list of {"name", "sql"}; each query returns
customer ids. OUT_JSON gets {"results": {name: [ids] | {"error": text}},
"load_seconds": s, "seconds": {name: s}}.

Exit status 3 (and a message) when the engine's Python package is missing,
so the caller can say so rather than pass silently.
"""
import json
import os
import sys
import time


def statements(path):
    """The statements of a .sql file, comments dropped, split on `;`."""
    text = "\n".join(
        line for line in open(path, encoding="utf-8").read().splitlines()
        if not line.lstrip().startswith("--")
    )
    return [s.strip() for s in text.split(";\n") if s.strip().rstrip(";")]


def main():
    engine, export_dir, queries_path, out_path = sys.argv[1:5]
    queries = json.load(open(queries_path, encoding="utf-8"))
    started = time.time()
    if engine == "duckdb":
        try:
            import duckdb
        except ImportError as e:
            print(f"duckdb is not installed for {sys.executable}: {e}", file=sys.stderr)
            return 3
        con = duckdb.connect()
        for s in statements(os.path.join(export_dir, "schema.sql")):
            con.execute(s)
        for s in statements(os.path.join(export_dir, "load.sql")):
            con.execute(s)

        def run(sql):
            return [int(r[0]) for r in con.execute(sql).fetchall()]
        stop = con.close
    elif engine == "spark":
        try:
            from pyspark.sql import SparkSession
        except ImportError as e:
            print(f"pyspark is not installed for {sys.executable}: {e}", file=sys.stderr)
            return 3
        spark = (
            SparkSession.builder.master("local[2]")
            .appName("prism-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.memory", os.environ.get("PRISM_SPARK_MEMORY", "2g"))
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        for s in statements(os.path.join(export_dir, "load.sql")):
            spark.sql(s)
        # Read the files once, not once per query.
        for t in ("customers", "events"):
            spark.table(t).cache().count()

        def run(sql):
            return [int(r[0]) for r in spark.sql(sql.rstrip().rstrip(";")).collect()]

        stop = spark.stop
    else:
        print(f"unknown engine {engine!r}: use duckdb or spark", file=sys.stderr)
        return 2
    load_seconds = time.time() - started
    results, seconds = {}, {}
    for q in queries:
        t0 = time.time()
        try:
            results[q["name"]] = run(q["sql"])
        except Exception as e:  # reported per query, with the engine's words
            results[q["name"]] = {"error": str(e).splitlines()[0] if str(e) else repr(e)}
        seconds[q["name"]] = time.time() - t0
    stop()
    json.dump(
        {"results": results, "load_seconds": load_seconds, "seconds": seconds},
        open(out_path, "w", encoding="utf-8"),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
