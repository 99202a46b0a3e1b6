#!/usr/bin/python3
"""python-hl7 (Debian's python3-hl7): parse each message, read OBX-5 of every OBX (str(segment[5])).

Same input, warm-up and timing as bench/hl7_peer_parse: usage python_hl7.py FILE RUNS.
"""
import json
import sys
import time

import hl7


def parse_all(messages):
    parsed = obx_count = obx_bytes = 0
    for text in messages:
        message = hl7.parse(text)
        parsed += 1
        try:
            segments = message.segments("OBX")
        except KeyError:  # python-hl7 raises when a message has no such segment
            segments = []
        for obx in segments:
            obx_count += 1
            obx_bytes += len(str(obx[5])) if len(obx) > 5 else 0
    return parsed, obx_count, obx_bytes


def main():
    path, runs = sys.argv[1], max(1, int(sys.argv[2]))
    with open(path, "rb") as handle:
        data = handle.read()
    # latin-1: one character per byte, so delimiters stay where they are whatever MSH-18 says.
    messages = [m for m in data.decode("latin-1").split("\n") if m]
    result = parse_all(messages)  # warm-up
    best = None
    best_cpu = None
    for _ in range(runs):
        begin = time.perf_counter()
        begin_cpu = time.process_time()
        result = parse_all(messages)
        seconds = time.perf_counter() - begin
        cpu = time.process_time() - begin_cpu
        best = seconds if best is None else min(best, seconds)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    parsed, obx_count, obx_bytes = result
    print(json.dumps({"bytes": len(data), "messages": parsed, "obx": obx_count,
                      "obx_bytes": obx_bytes, "seconds": best, "cpu_seconds": best_cpu}))


if __name__ == "__main__":
    main()
