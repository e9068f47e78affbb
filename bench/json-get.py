#!/usr/bin/env python3
"""Prints one value of a JSON file for the benchmark scripts:
json-get.py FILE EXPR, with the file's object as `d`, e.g.
  json-get.py stats.json 'd["decode_ms_per_token"]'
  json-get.py stats.json '" ".join(map(str, d["tokens"]))'"""
import json
import sys

d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2], {}, {"d": d}))
