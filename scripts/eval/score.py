#!/usr/bin/env python3
"""Scores secret/PII detectors on the labelled evaluation sets (scripts/eval/gen_eval.py).

Subcommands (used by scripts/bench/eval_peers.sh):

    split DATA.jsonl OUTDIR
        Writes each sample's text to OUTDIR/<id>.txt (one file per sample; stale files removed).

    score --data DATA.jsonl --tool NAME --format FMT --input OUT --category CAT --out RESULT.json
        Parses one tool's output and scores it. A sample counts as predicted positive when the
        tool reports at least one finding in its file (for leakhound: a match whose category is
        CAT). FMT is one of: leakhound (JSONL), kingfisher (JSONL), gitleaks (JSON report),
        detect-secrets (JSON baseline). --missing TEXT writes a row that says why there is no
        result instead of parsing anything.

    report RESULT.json... [--md OUT.md]
        Prints a Markdown report (totals, recall per kind, false positives per negative class)
        and writes it to OUT.md.

Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict


# ---------------------------------------------------------------------------------------------
def load_data(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def sample_id(path: str) -> str:
    base = os.path.basename(path.replace("\\", "/"))
    return base[:-4] if base.endswith(".txt") else base


def cmd_split(args) -> int:
    rows = load_data(args.data)
    os.makedirs(args.outdir, exist_ok=True)
    wanted = {f"{r['id']}.txt" for r in rows}
    for name in os.listdir(args.outdir):
        if name not in wanted:
            os.remove(os.path.join(args.outdir, name))
    for r in rows:
        with open(os.path.join(args.outdir, f"{r['id']}.txt"), "w", encoding="utf-8", newline="\n") as fh:
            fh.write(r["text"])
            if not r["text"].endswith("\n"):
                fh.write("\n")
    print(f"{len(rows)} files in {args.outdir}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------------------------
# Parsers: each returns {sample id: [rule names]} for the files a tool flagged.
# ---------------------------------------------------------------------------------------------
def iter_jsonl(path: str):
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def parse_leakhound(path: str, category: str) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = defaultdict(list)
    for rec in iter_jsonl(path):
        if rec.get("category") == category and rec.get("path"):
            hits[sample_id(rec["path"])].append(rec.get("rule") or rec.get("type") or "?")
    return hits


def parse_kingfisher(path: str, category: str) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = defaultdict(list)
    for rec in iter_jsonl(path):
        finding = rec.get("finding")
        if not isinstance(finding, dict) or not finding.get("path"):
            continue
        rule = rec.get("rule", {}).get("id") or rec.get("rule", {}).get("name") or "?"
        hits[sample_id(finding["path"])].append(rule)
    return hits


def parse_gitleaks(path: str, category: str) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = defaultdict(list)
    with open(path, encoding="utf-8") as fh:
        text = fh.read().strip()
    for rec in json.loads(text) if text else []:
        hits[sample_id(rec["File"])].append(rec.get("RuleID", "?"))
    return hits


def parse_detect_secrets(path: str, category: str) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = defaultdict(list)
    with open(path, encoding="utf-8") as fh:
        text = fh.read().strip()
    doc = json.loads(text) if text else {}
    for fname, results in doc.get("results", {}).items():
        for r in results:
            hits[sample_id(fname)].append(r.get("type", "?"))
    return hits


PARSERS = {"leakhound": parse_leakhound, "kingfisher": parse_kingfisher, "gitleaks": parse_gitleaks,
           "detect-secrets": parse_detect_secrets}


def metrics(tp: int, fp: int, fn: int, tn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    f1 = 2 * p * r / (p + r) if p is not None and r is not None and p + r else (0.0 if p is not None and r is not None else None)
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": p, "recall": r, "f1": f1}


def cmd_score(args) -> int:
    rows = load_data(args.data)
    result = {"set": args.set or os.path.splitext(os.path.basename(args.data))[0], "tool": args.tool,
              "category": args.category, "samples": len(rows),
              "positives": sum(r["label"] != "none" for r in rows), "note": args.note or ""}
    if args.missing is not None:
        result["missing"] = args.missing
    else:
        hits = PARSERS[args.format](args.input, args.category)
        ids = {r["id"] for r in rows}
        stray = sorted(set(hits) - ids)
        if stray:
            result["note"] = (result["note"] + "; " if result["note"] else "") + f"{len(stray)} findings outside the set ignored"
        tp = fp = fn = tn = 0
        per_kind: dict[str, dict] = {}
        details = []
        for r in rows:
            pos = r["label"] != "none"
            pred = r["id"] in hits
            k = per_kind.setdefault(r["kind"], {"label": r["label"], "n": 0, "flagged": 0})
            k["n"] += 1
            k["flagged"] += pred
            if pos and pred:
                tp += 1
            elif pos:
                fn += 1
                details.append({"id": r["id"], "outcome": "FN", "kind": r["kind"]})
            elif pred:
                fp += 1
                details.append({"id": r["id"], "outcome": "FP", "kind": r["kind"], "rules": sorted(set(hits[r["id"]]))})
            else:
                tn += 1
        result.update(metrics(tp, fp, fn, tn))
        result["per_kind"] = per_kind
        result["errors"] = details
        result["rules_tp"] = {}
        for r in rows:
            if r["label"] != "none" and r["id"] in hits:
                for rule in sorted(set(hits[r["id"]])):
                    result["rules_tp"][rule] = result["rules_tp"].get(rule, 0) + 1
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1, ensure_ascii=False)
    return 0


# ---------------------------------------------------------------------------------------------
def fmt(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def cmd_report(args) -> int:
    results = []
    for p in args.results:
        with open(p, encoding="utf-8") as fh:
            results.append(json.load(fh))
    sets: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        sets[r["set"]].append(r)
    out = []
    title = {"secrets": "Secret detection", "pii": "PII detection"}
    for name, rs in sets.items():
        n = rs[0]["samples"]
        pos = rs[0]["positives"]
        out.append(f"### {title.get(name, name)}: `{name}` set, {n} samples ({pos} positive, {n - pos} negative)")
        out.append("")
        out.append("| tool | TP | FP | FN | TN | precision | recall | F1 | note |")
        out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for r in rs:
            if "missing" in r:
                out.append(f"| {r['tool']} | - | - | - | - | - | - | - | {r['missing']} |")
                continue
            out.append(f"| {r['tool']} | {r['tp']} | {r['fp']} | {r['fn']} | {r['tn']} | {fmt(r['precision'])} | "
                       f"{fmt(r['recall'])} | {fmt(r['f1'])} | {r['note']} |")
        out.append("")
        scored = [r for r in rs if "missing" not in r]
        if not scored:
            continue
        kinds = scored[0]["per_kind"]
        tools = [r["tool"] for r in scored]
        out.append(f"Recall per kind (`{name}`, flagged / samples):")
        out.append("")
        out.append("| kind | " + " | ".join(tools) + " |")
        out.append("| --- | " + " | ".join("---:" for _ in tools) + " |")
        for k in sorted(k for k, v in kinds.items() if v["label"] != "none"):
            cells = []
            for r in scored:
                v = r["per_kind"][k]
                cells.append(f"{v['flagged']}/{v['n']}")
            out.append(f"| {k} | " + " | ".join(cells) + " |")
        out.append("")
        out.append(f"False positives per negative class (`{name}`, flagged / samples):")
        out.append("")
        out.append("| negative class | " + " | ".join(tools) + " |")
        out.append("| --- | " + " | ".join("---:" for _ in tools) + " |")
        for k in sorted(k for k, v in kinds.items() if v["label"] == "none"):
            out.append(f"| {k} | " + " | ".join(f"{r['per_kind'][k]['flagged']}/{r['per_kind'][k]['n']}" for r in scored) + " |")
        out.append("")
    text = "\n".join(out).rstrip() + "\n"
    if args.md:
        with open(args.md, "w", encoding="utf-8") as fh:
            fh.write(text)
    sys.stdout.write(text)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description="Score secret/PII detectors on the labelled eval sets.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("split")
    s.add_argument("data")
    s.add_argument("outdir")
    s.set_defaults(fn=cmd_split)
    s = sub.add_parser("score")
    s.add_argument("--data", required=True)
    s.add_argument("--set")
    s.add_argument("--tool", required=True)
    s.add_argument("--format", choices=sorted(PARSERS))
    s.add_argument("--input")
    s.add_argument("--category", default="secret")
    s.add_argument("--out", required=True)
    s.add_argument("--note")
    s.add_argument("--missing")
    s.set_defaults(fn=cmd_score)
    s = sub.add_parser("report")
    s.add_argument("results", nargs="+")
    s.add_argument("--md")
    s.set_defaults(fn=cmd_report)
    args = ap.parse_args()
    if args.cmd == "score" and args.missing is None and not (args.format and args.input):
        ap.error("score needs --format and --input (or --missing)")
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
