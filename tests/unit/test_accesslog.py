import asyncio
import io
import json
import logging

from titanium.core.accesslog import FLUSH_AFTER_SECONDS, FLUSH_AT_BYTES, LOGGER_NAME, AccessLog


def lines(stream: io.BytesIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_lines_are_written_in_a_batch_a_moment_later_in_the_shape_of_every_log_line():
    logging.getLogger(LOGGER_NAME).setLevel(logging.INFO)
    stream = io.BytesIO()
    access_log = AccessLog("blog", stream)
    access_log.write(logging.INFO, {"method": "GET", "path": "/a", "status": 200})
    access_log.write(logging.ERROR, {"method": "GET", "path": "/b", "status": 503})
    assert stream.getvalue() == b"", "held for the batch"
    await asyncio.sleep(FLUSH_AFTER_SECONDS + 0.1)
    first, second = lines(stream)
    assert first["event"] == "request" and first["service"] == "blog" and first["logger"] == LOGGER_NAME
    assert (first["level"], first["path"], second["level"], second["status"]) == ("info", "/a", "error", 503)
    assert first["timestamp"].endswith("Z")


async def test_a_full_buffer_and_a_stopping_service_write_at_once_and_a_disabled_level_writes_nothing():
    logging.getLogger(LOGGER_NAME).setLevel(logging.INFO)
    stream = io.BytesIO()
    access_log = AccessLog("gateway", stream)
    access_log.write(logging.DEBUG, {"path": "/health"})
    big = "x" * FLUSH_AT_BYTES
    access_log.write(logging.INFO, {"path": big})
    assert [line["path"] for line in lines(stream)] == [big]
    access_log.write(logging.INFO, {"path": "/last"})
    access_log.flush()
    assert [line["path"] for line in lines(stream)][-1] == "/last"
