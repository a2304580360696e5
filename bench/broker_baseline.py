"""Raw broker baselines: how fast one Python aiokafka client produces and consumes on this broker.

The relay's figures are reported as ratios to these, so that a slow machine or a slow broker does not
read as a slow relay. Messages are 300-byte JSON values with 36-byte keys, like outbox events.

:func:`raw_hop` is the latency baseline: the send-to-receive time of one message at a time, which
flow.py and renewal_flow.py report beside their flows.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from estate_eventing.embedded import ensure_topics
from estate_eventing.settings import BrokerSettings

PARTITIONS = 4
HOP_TOPIC = "estate.bench.hop"


def _value(i: int, size: int = 300) -> bytes:
    body = {"id": str(uuid.uuid4()), "type": "estate.bench.raw", "seq": i, "pad": ""}
    raw = json.dumps(body)
    body["pad"] = "x" * max(0, size - len(raw))
    return json.dumps(body).encode()


def _producer(settings: BrokerSettings) -> AIOKafkaProducer:
    # The same options as the relay's KafkaPublisher (acks=all, linger 5 ms, 512 KiB batches).
    return AIOKafkaProducer(**settings.producer_options(), linger_ms=5, max_batch_size=512 * 1024)


async def produce_gathered(
    settings: BrokerSettings, topic: str, count: int, chunk: int = 1000, size: int = 300
) -> float:
    """send() every message of a chunk, then await all their futures (what KafkaPublisher does)."""
    values = [_value(i, size) for i in range(count)]
    keys = [str(uuid.uuid4()).encode() for _ in range(count)]
    producer = _producer(settings)
    await producer.start()
    try:
        started = time.perf_counter()
        for start in range(0, count, chunk):
            futures = [
                await producer.send(topic, values[i], key=keys[i])
                for i in range(start, min(count, start + chunk))
            ]
            await asyncio.gather(*futures)
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def produce_batch_api(settings: BrokerSettings, topic: str, count: int, per_batch: int = 2000) -> float:
    """create_batch / send_batch per partition: the fastest a Python producer goes."""
    values = [_value(i) for i in range(count)]
    producer = _producer(settings)
    await producer.start()
    try:
        started = time.perf_counter()
        pending = []
        sent = 0
        partition = 0
        while sent < count:
            batch = producer.create_batch()
            n = 0
            while sent < count and n < per_batch:
                if batch.append(key=None, value=values[sent], timestamp=None) is None:
                    break
                sent += 1
                n += 1
            batch.close()
            pending.append(await producer.send_batch(batch, topic, partition=partition))
            partition = (partition + 1) % PARTITIONS
            if len(pending) >= 8:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def consume(settings: BrokerSettings, topic: str, count: int, *, decode: bool) -> float:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **settings.consumer_options(),
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
        await consumer.seek_to_beginning()
        seen = 0
        started = time.perf_counter()
        while seen < count:
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for records in batches.values():
                if decode:
                    for record in records:
                        json.loads(record.value)
                seen += len(records)
            if time.perf_counter() - started > 120:
                raise TimeoutError(f"consumed {seen} of {count} in 120 s")
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def run(settings: BrokerSettings, count: int) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    gathered, batched = f"bench.raw.gathered.{suffix}", f"bench.raw.batch.{suffix}"
    await ensure_topics(settings.bootstrap_servers, [gathered, batched], partitions=PARTITIONS)
    # A short warm-up so that connection set-up and metadata do not count.
    await produce_gathered(settings, gathered, min(2000, count))
    produce_rate = await produce_gathered(settings, gathered, count)
    batch_rate = await produce_batch_api(settings, batched, count)
    total = count + min(2000, count)
    consume_raw = await consume(settings, gathered, total, decode=False)
    consume_json = await consume(settings, gathered, total, decode=True)
    return {
        "messages": count,
        "value_bytes": len(_value(0)),
        "produce_gathered_msg_s": round(produce_rate),
        "produce_batch_api_msg_s": round(batch_rate),
        "consume_raw_msg_s": round(consume_raw),
        "consume_json_msg_s": round(consume_json),
    }


async def produce_at_size(settings: BrokerSettings, count: int, size: int) -> float:
    """The gathered-sends rate for messages as large as the register's events (its own topic)."""
    topic = f"bench.raw.sized.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings.bootstrap_servers, [topic], partitions=PARTITIONS)
    await produce_gathered(settings, topic, min(1000, count), size=size)
    return await produce_gathered(settings, topic, count, size=size)


async def raw_hop(settings: BrokerSettings, count: int, interval_s: float) -> list[float]:
    """Send-to-receive latency of single keyed messages through the broker, one every ``interval_s``."""
    consumer = AIOKafkaConsumer(
        HOP_TOPIC,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=f"bench-hop-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="latest",
        enable_auto_commit=False,
        **settings.consumer_options(),
    )
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=0)
    await consumer.start()
    await producer.start()
    latencies: list[float] = []
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        await consumer.seek_to_end()

        async def receive() -> None:
            while len(latencies) < count:
                batches = await consumer.getmany(timeout_ms=200)
                now = time.time()
                for records in batches.values():
                    for record in records:
                        latencies.append(now - float(record.value or b"0"))

        receiver = asyncio.create_task(receive())
        for i in range(count):
            await producer.send_and_wait(HOP_TOPIC, str(time.time()).encode(), key=str(i).encode())
            await asyncio.sleep(interval_s)
        await asyncio.wait_for(receiver, timeout=60)
    finally:
        await producer.stop()
        await consumer.stop()
    return latencies
