#!/usr/bin/env python3
"""Parses an exposition with prometheus_client's strict parsers and prints
every sample as one line: name TAB labels TAB value, where labels are
`key=HEX(utf-8 value)` joined by commas (sorted by key) and the value is the
f64's bits in hex (or `nan`). The Rust tests print the same lines from the
snapshot they encoded and compare: names, label values and values
round-trip bit-exactly, or the test fails. A sample with an exemplar
(OpenMetrics) has three more fields: its labels as above, its value's bits
and its timestamp as SECONDS.NANOSECONDS.

usage: parse_exposition.py --openmetrics|--text FILE
"""
import struct
import sys


def main():
    kind, path = sys.argv[1], sys.argv[2]
    body = open(path, encoding="utf-8").read()
    if kind == "--openmetrics":
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            labels = ",".join(f"{k}={v.encode('utf-8').hex()}" for k, v in sorted(s.labels.items()))
            v = float(s.value)
            value = "nan" if v != v else struct.pack(">d", v).hex()
            line = f"{s.name}\t{labels}\t{value}"
            if s.exemplar is not None:
                e = s.exemplar
                ex_labels = ",".join(f"{k}={v.encode('utf-8').hex()}" for k, v in sorted(e.labels.items()))
                ev = float(e.value)
                ex_value = "nan" if ev != ev else struct.pack(">d", ev).hex()
                ts = e.timestamp
                stamp = "-" if ts is None else f"{ts.sec}.{ts.nsec:09d}"
                line += f"\t{ex_labels}\t{ex_value}\t{stamp}"
            print(line)


if __name__ == "__main__":
    main()
