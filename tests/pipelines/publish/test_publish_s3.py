"""Publishing to S3-compatible object storage: a real moto server on 127.0.0.1, s3fs client."""

from __future__ import annotations

import base64
import json
import socket

import boto3
import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from pipelines.publish import publish_day

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    """A moto S3 server in a thread; yields its URL. Credentials are moto's dummies."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_endpoint, monkeypatch, request):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    name = "publish-" + request.node.name.replace("_", "-")[:40].lower()
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=name)
    return client, name


def _options(endpoint: str) -> dict:
    return {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": endpoint}}


def test_publish_two_days_to_s3(s3_endpoint, bucket, site_factory, signing_key):
    """Day 2 removes s000000..s000004 and adds v000000..v000002; latest.json follows day 2."""
    client, name = bucket
    root = f"s3://{name}/charge/points"
    day1 = site_factory(150, seed=31)
    day2 = pd.concat([day1.iloc[5:], site_factory(3, seed=32, prefix="v")], ignore_index=True)
    publish_day(day1, "2026-11-23", root, signing_key, storage_options=_options(s3_endpoint))
    summary = publish_day(day2, "2026-11-24", root, signing_key, _options(s3_endpoint))
    assert summary["previous"] == "2026-11-23"

    def get(key: str) -> bytes:
        return client.get_object(Bucket=name, Key=f"charge/points/{key}")["Body"].read()

    latest = json.loads(get("latest.json"))
    assert latest["date"] == "2026-11-24"
    delta = json.loads(get("2026-11-24/nav/delta.json"))
    assert delta["removed"] == [f"s{i:06d}" for i in range(5)]
    assert delta["added"] == ["v000000", "v000001", "v000002"]
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(get("signing_key.pub")))
    manifest = get("2026-11-24/nav/manifest.json")
    public.verify(base64.b64decode(get("2026-11-24/nav/manifest.json.sig")), manifest)
    for entry in json.loads(manifest)["files"]:
        assert len(get(f"2026-11-24/nav/{entry['name']}")) == entry["bytes"]


def test_s3_objects_are_written_data_first_then_manifest_then_latest(
    s3_endpoint, bucket, site_factory, signing_key
):
    """By the server's LastModified: every data file <= manifest <= signature <= latest.json
    (a weak check where the clock resolution makes stamps equal; the order is in target.py)."""
    client, name = bucket
    publish_day(site_factory(50), "2026-11-24", f"s3://{name}", signing_key, _options(s3_endpoint))
    stamps = {o["Key"]: o["LastModified"] for o in client.list_objects_v2(Bucket=name)["Contents"]}
    manifest = stamps["2026-11-24/nav/manifest.json"]
    last = ("manifest.json", ".sig", "latest.json", "signing_key.pub")
    data = [v for k, v in stamps.items() if not k.endswith(last)]
    assert max(data) <= manifest <= stamps["2026-11-24/nav/manifest.json.sig"]
    assert stamps["2026-11-24/nav/manifest.json.sig"] <= stamps["latest.json"]


def test_s3_and_local_publish_the_same_bytes(
    s3_endpoint, bucket, tmp_path, site_factory, signing_key
):
    client, name = bucket
    sites = site_factory(80, seed=8)
    publish_day(sites, "2026-11-24", f"s3://{name}", signing_key, _options(s3_endpoint))
    publish_day(sites, "2026-11-24", str(tmp_path), signing_key)
    for path in sorted(p for p in tmp_path.rglob("*") if p.is_file()):
        key = str(path.relative_to(tmp_path))
        assert client.get_object(Bucket=name, Key=key)["Body"].read() == path.read_bytes(), key
