"""The vendor adapters at a large centre's volume: one export day of Zendesk and Amazon Connect
exports converted to contract rows, from a folder and through the local S3 endpoint.

`python -m bench.vendors` (`make bench-vendors`, about 15 minutes):

1. writes `.bench-cache/vendor-day/landing`: the `make bench` centre (1,000 agents, ~50k tickets
   and ~30k calls a weekday) generated for the `DAYS` days up to `DAY` in the vendors' formats
   (`audit generate --vendor`'s writer), keeping every users page and every object of `DAY`
   (pages of tickets and events, Firehose contact-record objects, one Contact Lens file per
   answered call and a redacted twin for every fourth);
2. converts `DAY`'s objects in a child process whose process tree is sampled (peak RSS, CPU): the
   ingest's own calls, listing (`list_vendor_landing`) and reading each object through its adapter
   (`ingestion.ingest.load_export`), which is what staging then gets, the same work a contract
   export's reader does;
3. the same through the local S3 endpoint (moto's server on 127.0.0.1), after uploading the day;
   and the endpoint's own floor: a sample of the day's objects fetched with a bare keep-alive
   HTTP client (no SDK, no signing, `FLOOR_CONNECTIONS` at once), times the GETs the conversion
   made, is the least any converter could take through this endpoint;
4. prints each against the target: at most 25 % of that day's transform time, at most 2 GB. The
   transform time is `make bench`'s last figure for the same centre and day
   (`.bench-cache/large/transforms.json`), else `make bench-scale`'s (1,000 agents); with
   neither, the time is not judged and the target is not met.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from bench.procs import run_sampled
from bench.run_bench import TRANSFORMS_FIGURE, load

CACHE = Path(".bench-cache") / "vendor-day"
LANDING = CACHE / "landing"
DAY = date(2026, 10, 28)  # a Wednesday: a full weekday's volume
DAYS = 8  # the writer carries ticket state across days; the days before DAY are not kept
SCALE_RESULTS = Path(".bench-cache") / "scale-results.json"
TARGET_SHARE, TARGET_GB = 0.25, 2.0
FLOOR_SAMPLE, FLOOR_CONNECTIONS = 3000, 16
# Any signature will do: the local endpoint checks none (never real credentials).
_UNSIGNED = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
)


def write_day() -> dict[str, Any]:
    """The vendor landing of DAY (and every users page), unless already written."""
    done = CACHE / "written.json"
    if done.exists():
        return dict(json.loads(done.read_text()))
    import polars as pl

    from devtools.sample_data import benchmark_config, build_dataset
    from devtools.sample_data.vendors import MAPPING_KEY, CallFacts, VendorWriter, day_rows, mapping_toml
    from storage import LocalStorage

    started = time.perf_counter()
    shutil.rmtree(LANDING, ignore_errors=True)
    data = build_dataset(replace(benchmark_config(DAY), days=DAYS))
    days = list(day_rows(data))
    calls = [rows["calls"] for _, rows in days if not rows["calls"].is_empty()]
    writer = VendorWriter(data, CallFacts.of(pl.concat(calls)))
    storage, kept, sizes = LocalStorage(str(LANDING)), 0, 0
    for number, (day, rows) in enumerate(days):
        for item in writer.day(number, day, rows):
            if day == DAY or item.key.startswith("zendesk/users/"):
                storage.write_bytes(item.key, item.data)
                kept, sizes = kept + 1, sizes + len(item.data)
    storage.write_bytes(MAPPING_KEY, mapping_toml(data).encode())
    figures = {"objects": kept, "bytes": sizes, "seconds": round(time.perf_counter() - started, 1)}
    done.write_text(json.dumps(figures))
    return figures


def convert(landing_uri: str, endpoint: str | None) -> dict[str, Any]:
    """Convert DAY's objects (in this process): seconds, rows per entity, objects per format."""
    from adapters.layout import VendorLanding
    from configs.limits import ReadLimits
    from configs.settings import S3Settings
    from configs.vendors import load_mapping
    from ingestion.incremental import list_vendor_landing
    from ingestion.ingest import load_export
    from storage import open_storage
    from transforms.schemas import ENTITIES

    s3 = S3Settings(endpoint_url=endpoint) if endpoint else S3Settings()
    storage = open_storage(landing_uri, s3)
    gets = _count_reads(storage)
    mapping_file = CACHE / "mapping.toml"
    mapping_file.write_bytes(open_storage(landing_uri, s3).read_bytes("_generator/mapping.toml"))
    vendor = VendorLanding(storage, load_mapping(mapping_file), ReadLimits())
    started, cpu = time.perf_counter(), time.process_time()
    rows: dict[str, int] = {}
    objects: dict[str, int] = {}
    marked = 0
    for entity, schema in ENTITIES.items():
        listed, _ = list_vendor_landing(vendor, entity)
        day_objects = [o for o in listed if o.export_date == DAY]
        if entity == "calls":  # as the ingest does: every transfer and callback leg first
            vendor.preload_legs(day_objects)
        for obj in day_objects:
            loaded = load_export(storage, obj, schema, vendor.limits, vendor)
            if loaded.error is not None:
                raise SystemExit(f"{obj.key}: {loaded.error}")
            rows[entity] = rows.get(entity, 0) + loaded.rows_read
            objects[entity] = objects.get(entity, 0) + 1
            if loaded.raw is not None and "__malformed_line" in loaded.raw.columns:
                marked += int(loaded.raw["__malformed_line"].is_not_null().sum())
    lens_files = sum(len(d) for d in vendor._lens_days.values())
    return {
        "wall_seconds": round(time.perf_counter() - started, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "rows": rows,
        "objects": objects,
        "contact_lens_files_found": lens_files,
        "gets": gets[0],
        "unmappable_or_malformed": int(marked),
    }


def _count_reads(storage: Any) -> list[int]:
    """Count the storage's object reads (GETs through S3) from now on: [count]. Contact Lens
    files are read from several threads."""
    count, read_bytes, lock = [0], storage.read_bytes, threading.Lock()

    def counted(key: str) -> bytes:
        with lock:
            count[0] += 1
        return bytes(read_bytes(key))

    setattr(storage, "read_bytes", counted)  # noqa: B010 (an instance's method, for this process)
    return count


def _measured(landing_uri: str, endpoint: str | None) -> dict[str, Any]:
    env = {**os.environ}
    args = [sys.executable, "-m", "bench.vendors", "--measure", landing_uri, endpoint or ""]
    done, processes = run_sampled(args, env)
    if done.returncode != 0:
        raise SystemExit(f"conversion failed:\n{done.stderr[-3000:]}")
    figures = dict(json.loads(done.stdout.strip().splitlines()[-1]))
    figures["peak_rss_gb"] = round(max(p["peak_rss_gb"] for p in processes), 2)
    figures["load"] = load()
    return figures


def _upload(endpoint: str, bucket: str) -> float:
    from devtools.s3_endpoint import create_bucket, endpoint_settings
    from storage import S3Storage

    create_bucket(endpoint, bucket)
    target = S3Storage(f"s3://{bucket}/landing", endpoint_settings(endpoint))
    started = time.perf_counter()
    paths = sorted(p for p in LANDING.rglob("*") if p.is_file())
    with ThreadPoolExecutor(max_workers=16) as pool:  # 73,000 small PUTs: latency-bound
        list(
            pool.map(
                lambda path: target.write_bytes(path.relative_to(LANDING).as_posix(), path.read_bytes()),
                paths,
            )
        )
    return round(time.perf_counter() - started, 1)


def _floor_keys() -> list[str]:
    """Landing keys of the day's Contact Lens files (most of its GETs), every n-th up to `FLOOR_SAMPLE`."""
    lens = sorted(p for p in (LANDING / "connect" / "Analysis").rglob("*.json") if p.is_file())
    step = max(1, len(lens) // FLOOR_SAMPLE)
    return ["landing/" + p.relative_to(LANDING).as_posix() for p in lens[::step][:FLOOR_SAMPLE]]


def _endpoint_floor(endpoint: str, bucket: str, keys: list[str]) -> dict[str, Any]:
    """How fast the endpoint itself serves these objects: each fetched once by a bare HTTP/1.1
    client, `FLOOR_CONNECTIONS` keep-alive connections at once, nothing parsed. Its seconds a GET
    times the conversion's GETs is what no converter can go below through this endpoint."""
    url = urlsplit(endpoint)
    failures: list[str] = []

    def fetch(part: list[str]) -> None:
        connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
        for key in part:
            connection.request("GET", f"/{bucket}/{quote(key)}", headers={"Authorization": _UNSIGNED})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                failures.append(f"{key}: HTTP {response.status}")
        connection.close()

    started = time.perf_counter()
    threads = [
        threading.Thread(target=fetch, args=(keys[i::FLOOR_CONNECTIONS],)) for i in range(FLOOR_CONNECTIONS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if failures:
        raise SystemExit(f"the endpoint floor could not fetch {len(failures)} objects: {failures[:3]}")
    return {
        "gets": len(keys),
        "seconds": round(seconds, 2),
        "ms_per_get": round(1000 * seconds / len(keys), 3),
    }


def _floor_line(floor: dict[str, Any], gets: int, transforms: float | None) -> str:
    """The endpoint's floor for the conversion's GETs, beside the time the target allows."""
    least = floor["ms_per_get"] * gets / 1000
    allowed = f"; the target allows {TARGET_SHARE * transforms:.1f} s" if transforms else ""
    return (
        f"  the endpoint alone: {floor['ms_per_get']} ms a GET ({floor['gets']} objects, a bare HTTP"
        f" client, {FLOOR_CONNECTIONS} at once), so the conversion's {gets} GETs need at least"
        f" {least:.1f} s whatever the converter{allowed}"
    )


def _transform_seconds() -> float | None:
    """The same day's transform time: `make bench`'s (the same centre, the same day), else
    `make bench-scale`'s 1,000-agent figure; None when neither was measured."""
    if TRANSFORMS_FIGURE.exists():
        figure = json.loads(TRANSFORMS_FIGURE.read_text())
        if figure.get("audit_date") == str(DAY):
            return float(figure["wall_seconds"])
    if not SCALE_RESULTS.exists():
        return None
    step = json.loads(SCALE_RESULTS.read_text()).get("1000", {}).get(f"transforms {DAY}", {})
    return step.get("wall_seconds")


def _verdict(name: str, figures: dict[str, Any], transforms: float | None) -> str:
    memory_ok = figures["peak_rss_gb"] <= TARGET_GB
    if transforms:
        share = f"{figures['wall_seconds'] / transforms:.0%} of the day's transforms ({transforms} s)"
        ok = figures["wall_seconds"] <= TARGET_SHARE * transforms and memory_ok
        verdict = "PASS" if ok else "FAIL"
    else:  # no yardstick: the time is not judged, so the target is not met either
        share = "no transform figure of the day (run `make bench` first)"
        verdict = "FAIL: time not judged" if memory_ok else "FAIL"
    return (
        f"{name}: {figures['wall_seconds']} s wall, {figures['cpu_seconds']} s CPU, peak RSS"
        f" {figures['peak_rss_gb']} GB; {share} [target <= 25 %, <= 2 GB: {verdict}]"
        f" ({figures['load']})\n  rows {figures['rows']}, objects {figures['objects']},"
        f" Contact Lens files {figures['contact_lens_files_found']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(convert(args.measure[0], args.measure[1] or None)))
        return 0
    from devtools.s3_endpoint import DUMMY_CREDENTIALS, local_s3_endpoint

    written = write_day()
    print(f"vendor landing of {DAY}: {written}", flush=True)
    transforms = _transform_seconds()
    folder = _measured(str(LANDING.resolve()), None)
    print(_verdict("folder", folder, transforms), flush=True)
    os.environ.update(DUMMY_CREDENTIALS)
    with local_s3_endpoint() as endpoint:
        upload = _upload(endpoint, "vendor-bench")
        s3 = _measured("s3://vendor-bench/landing", endpoint)
        floor = _endpoint_floor(endpoint, "vendor-bench", _floor_keys())
    print(_verdict("local S3 endpoint", s3, transforms), flush=True)
    print(_floor_line(floor, s3["gets"], transforms), flush=True)
    results = {"written": written, "transforms_seconds": transforms, "folder": folder}
    results |= {"upload_seconds": upload, "s3": s3, "endpoint_floor": floor}
    (CACHE / "results.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
