"""Celery: eager in-process without a broker; a real worker through Redis when there is one."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings

from vein2vein.celery import app as project_app
from vein2vein.core.tasks import ping

IN_CI = os.environ.get("CI") == "true"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CELERY_BIN = Path(sys.executable).with_name("celery")
RESULT_TIMEOUT_S = 60


def _require_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
        message = f"Redis at {REDIS_URL} is unreachable: {exc}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: Redis is required)")
        pytest.skip(message)


def _forget_queue(queue: str) -> None:
    """Remove the throw-away queue's keys from the test Redis database."""
    import redis

    with redis.Redis.from_url(REDIS_URL, socket_timeout=2) as r:
        r.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")


def test_without_a_broker_tasks_run_eagerly_in_process():
    if os.environ.get("CELERY_BROKER_URL"):
        pytest.skip("CELERY_BROKER_URL is set in this environment")
    assert settings.CELERY_BROKER_URL == ""
    assert settings.CELERY_TASK_ALWAYS_EAGER is True
    assert project_app.conf.task_always_eager is True
    result = ping.delay("eager")
    assert result.successful()
    reply = result.get(timeout=1)
    assert reply["echo"] == "eager"
    assert reply["worker"].endswith(f":{os.getpid()}")  # ran here, not in a worker


@pytest.mark.services
def test_ping_runs_in_a_real_worker_through_redis(tmp_path):
    _require_redis()
    queue = f"test-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_RESULT_BACKEND": REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "vein2vein.settings",
        "VEIN2VEIN_DATA_DIR": str(tmp_path),
    }
    env.pop("DATABASE_URL", None)  # ping needs no database; the worker gets its own SQLite
    log = tmp_path / "worker.log"
    with log.open("w") as log_file:
        worker = subprocess.Popen(
            [
                str(CELERY_BIN),
                "-A",
                "vein2vein",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "-Q",
                queue,
                "-n",
                f"{queue}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
            ],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    # A client app of its own, so the project's (eager) app is left as it was.
    client = Celery("vein2vein-test-client", broker=REDIS_URL, backend=REDIS_URL)
    client.conf.update(task_always_eager=False, task_serializer="json", accept_content=["json"])
    try:
        started = time.monotonic()
        result = client.send_task(ping.name, args=["hello through redis"], queue=queue)
        try:
            reply = result.get(timeout=RESULT_TIMEOUT_S)
        except Exception as exc:
            pytest.fail(f"no reply from the worker: {exc!r}\n{log.read_text()[-3000:]}")
        elapsed = time.monotonic() - started
        assert reply["echo"] == "hello through redis"
        worker_pid = int(reply["worker"].rsplit(":", 1)[1])
        assert worker_pid != os.getpid()
        assert worker_pid == worker.pid  # --pool=solo: the task ran in the worker process
        assert result.status == "SUCCESS"
        assert elapsed < RESULT_TIMEOUT_S
        result.forget()
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        client.close()
        _forget_queue(queue)
