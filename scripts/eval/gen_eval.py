#!/usr/bin/env python3
"""Labelled evaluation sets for secret and PII detection.

Writes two JSONL files (one sample a line):

    {"id": "s0001", "text": "...", "label": "secret" | "none", "kind": "..."}   secrets.jsonl
    {"id": "p0001", "text": "...", "label": "pii"    | "none", "kind": "..."}   pii.jsonl

Every text is one short, realistic snippet (an .env line, YAML/JSON/TOML config, a log line,
a curl command, a source line, a JSONL chat row, a connection string, a PEM block, ...).

Positives are random values in each vendor's documented format (never real credentials);
structured identifiers carry valid check digits (GitHub CRC32, Luhn, IBAN mod 97, SSN ranges,
GB 11643). Negatives are hard cases: placeholders, redacted or example keys, public keys,
digests, ids, counters, checksum-invalid look-alikes and ordinary log/analytics lines.

The generator is independent of leakhound's rules: it was written from the formats alone.
It uses only the standard library and is deterministic (seed 7): the same script writes the
same bytes.

    python3 scripts/eval/gen_eval.py [--out DIR] [--seed 7]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import os
import random
import struct
import sys
import uuid
import zlib
from collections import Counter

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = "abcdefghijklmnopqrstuvwxyz"
DIGITS = "0123456789"
ALNUM = UPPER + LOWER + DIGITS
B62 = DIGITS + UPPER + LOWER  # GitHub checksum alphabet, in value order
B64URL = ALNUM + "-_"
B64STD = ALNUM + "+/"
HEX = "0123456789abcdef"
B32 = UPPER + "234567"

R = random.Random(7)


# ---------------------------------------------------------------------------------------------
# Random helpers
# ---------------------------------------------------------------------------------------------
def rs(n: int, alphabet: str = ALNUM) -> str:
    return "".join(R.choice(alphabet) for _ in range(n))


def rs_edges(n: int, alphabet: str) -> str:
    """Random string whose first and last characters are alphanumeric (so that a value in a
    URL-safe alphabet never starts or ends on '-' or '_', as a tool's word boundary expects)."""
    if n <= 2:
        return rs(n, ALNUM)
    return R.choice(ALNUM) + rs(n - 2, alphabet) + R.choice(ALNUM)


def pick(xs):
    return R.choice(xs)


def rbytes(n: int) -> bytes:
    return R.randbytes(n)


def ruuid() -> str:
    return str(uuid.UUID(int=R.getrandbits(128), version=4))


def rhex(n: int) -> str:
    return rs(n, HEX)


def password(n: int | None = None) -> str:
    """A random high-entropy password with letters, digits and a few URL-safe symbols."""
    n = n or R.randint(14, 24)
    while True:
        p = rs(n, ALNUM + ALNUM + "!#%*-_.~")
        if any(c in DIGITS for c in p) and any(c in UPPER for c in p) and any(c in LOWER for c in p):
            return R.choice(ALNUM) + p[1:]


def url_password(n: int | None = None) -> str:
    """A password that can sit in a URI userinfo unescaped."""
    n = n or R.randint(14, 24)
    while True:
        p = rs(n, ALNUM + ALNUM + "-_.~")
        if any(c in DIGITS for c in p) and any(c in UPPER for c in p) and any(c in LOWER for c in p):
            return R.choice(ALNUM) + p[1:-1] + R.choice(ALNUM)


BASE_TIME = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)


def rtime() -> dt.datetime:
    return BASE_TIME + dt.timedelta(seconds=R.randint(0, 300 * 86400), microseconds=R.randint(0, 999999))


def ts_iso() -> str:
    return rtime().strftime("%Y-%m-%dT%H:%M:%S.") + f"{R.randint(0, 999):03d}Z"


def ts_log() -> str:
    return rtime().strftime("%Y-%m-%d %H:%M:%S") + f",{R.randint(0, 999):03d}"


def ip_doc() -> str:
    return pick(["203.0.113", "198.51.100", "192.0.2", "10.0.%d" % R.randint(0, 9), "172.16.%d" % R.randint(0, 31)]) + ".%d" % R.randint(2, 254)


SERVICES = ["billing", "checkout", "api-gateway", "ingest", "search", "notifier", "auth", "reports", "scheduler",
            "chatbot", "rag-worker", "embeddings", "orders", "inventory", "webhooks", "etl", "summarizer"]
HOSTS = ["db-prod-1.internal", "pg.prod.svc.cluster.local", "10.0.4.12", "db.staging.acme.io", "postgres",
         "orders-db.c9xk2q.eu-west-1.rds.amazonaws.com", "127.0.0.1", "data-01.lan", "mysql-primary", "localhost"]
USERS = ["app", "svc_orders", "admin", "deploy", "etl_user", "reporting", "root", "api", "backend", "analytics"]
MODELS = ["gpt-4o-mini", "gpt-4.1", "claude-3-5-sonnet-latest", "deepseek-chat", "llama-3.1-70b", "mistral-large-latest",
          "command-r-plus", "gemini-1.5-pro", "grok-2", "sonar-pro", "mixtral-8x7b"]
LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"]
FIRST = ["james", "maria", "wei", "li", "fatima", "oliver", "sofia", "hiroshi", "amelia", "noah", "priya", "lucas",
         "chloe", "mateo", "anna", "ivan", "zhang", "emma", "omar", "grace", "yuki", "leon", "sara", "daniel"]
LAST = ["smith", "garcia", "chen", "wang", "khan", "brown", "rossi", "tanaka", "muller", "dubois", "silva", "novak",
        "johnson", "kowalski", "nguyen", "patel", "martin", "lopez", "schmidt", "liu", "jensen", "okafor"]


def svc() -> str:
    return pick(SERVICES)


def camel(name: str) -> str:
    parts = name.lower().split("_")
    return parts[0] + "".join(p.capitalize() for p in parts[1:])


# ---------------------------------------------------------------------------------------------
# Check digits
# ---------------------------------------------------------------------------------------------
def b62(n: int, width: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = B62[r] + out
    return out.rjust(width, "0")


def github_token(prefix: str, valid: bool = True) -> str:
    body = rs(30, ALNUM)
    crc = zlib.crc32(body.encode()) & 0xFFFFFFFF
    check = b62(crc, 6)
    if not valid:
        while True:
            bad = rs(6, B62)
            if bad != check:
                check = bad
                break
    return prefix + body + check


def github_checksum_ok(tok: str) -> bool:
    body, check = tok[4:34], tok[34:]
    return b62(zlib.crc32(body.encode()) & 0xFFFFFFFF, 6) == check


def luhn_digit(partial: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_ok(num: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(num)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_number(prefix: str, length: int, valid: bool = True) -> str:
    partial = prefix + rs(length - len(prefix) - 1, DIGITS)
    d = luhn_digit(partial)
    if not valid:
        d = str((int(d) + R.randint(1, 9)) % 10)
    return partial + d


def group_card(num: str, sep: str) -> str:
    if len(num) == 15:
        return sep.join([num[:4], num[4:10], num[10:]])
    return sep.join(num[i:i + 4] for i in range(0, len(num), 4))


# IBAN length per country (SWIFT IBAN registry)
IBAN_LEN = {"DE": 22, "GB": 22, "FR": 27, "NL": 18, "ES": 24, "IT": 27, "BE": 16, "CH": 21}
IBAN_COUNTRIES = list(IBAN_LEN)
GB_BANKS = ["NWBK", "BARC", "LOYD", "HBUK", "MIDL", "CITI"]
NL_BANKS = ["ABNA", "INGB", "RABO", "TRIO", "SNSB"]


def iban_numeric(s: str) -> int:
    return int("".join(str(int(c, 36)) for c in s))


IT_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]
ES_WEIGHTS = [1, 2, 4, 8, 5, 10, 9, 7, 3, 6]
IBAN_BIC = {"DE": ["DEUTDEFF", "COBADEFF"], "GB": ["NWBKGB2L", "BARCGB22"], "FR": ["BNPAFRPP", "SOGEFRPP"],
            "NL": ["INGBNL2A", "ABNANL2A"], "ES": ["CAIXESBB", "BBVAESMM"], "IT": ["UNCRITMM", "BCITITMM"],
            "BE": ["GEBABEBB", "BBRUBEBB"], "CH": ["UBSWCHZH80A", "POFICHBEXXX"]}


def es_dc(digits: str) -> str:
    d = 11 - sum(int(c) * w for c, w in zip(digits, ES_WEIGHTS)) % 11
    return str({11: 0, 10: 1}.get(d, d))


def national_bban(country: str) -> str:
    """A BBAN in the country's layout; where the country has a national check (FR RIB key,
    ES control digits, BE mod 97, NL eleven-test, IT CIN) it is valid too."""
    if country == "FR":
        bank, branch, acct = rs(5, DIGITS), rs(5, DIGITS), rs(11, DIGITS)
        key = 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(acct)) % 97
        return f"{bank}{branch}{acct}{key:02d}"
    if country == "ES":
        bank, branch, acct = rs(4, DIGITS), rs(4, DIGITS), rs(10, DIGITS)
        return bank + branch + es_dc("00" + bank + branch) + es_dc(acct) + acct
    if country == "BE":
        n = pick(["001", "068", "310", "363", "735", "001"]) + rs(7, DIGITS)  # BNP Paribas Fortis, Belfius, ING, KBC
        c = int(n) % 97 or 97
        return f"{n}{c:02d}"
    if country == "NL":
        while True:
            acct = rs(10, DIGITS)
            if sum(int(c) * (10 - i) for i, c in enumerate(acct)) % 11 == 0 and acct[0] != "0":
                return pick(NL_BANKS) + acct
    if country == "IT":
        rest = rs(5, DIGITS) + rs(5, DIGITS) + rs(12, DIGITS)
        total = sum(IT_ODD[int(c)] if i % 2 == 0 else int(c) for i, c in enumerate(rest))
        return chr(65 + total % 26) + rest
    if country == "GB":
        return pick(GB_BANKS) + rs(14, DIGITS)
    return rs(IBAN_LEN[country] - 4, DIGITS)  # DE, CH: all digits, no check a generator can know


def iban(country: str, valid: bool = True) -> str:
    bban = national_bban(country)
    check = 98 - iban_numeric(bban + country + "00") % 97
    if not valid:
        check = pick([c for c in range(2, 99) if c != check])
    out = f"{country}{check:02d}{bban}"
    assert len(out) == IBAN_LEN[country]
    return out


def iban_ok(s: str) -> bool:
    s = s.replace(" ", "")
    return iban_numeric(s[4:] + s[:4]) % 97 == 1


def group4(s: str) -> str:
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4))


# County codes that existed in every birth year generated below (1985-2004).
CN_REGIONS = ["110101", "110105", "110108", "310104", "440106", "440305", "330106", "320102", "420106", "610113",
              "120101", "370202", "350203", "210102", "430104"]
CN_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CN_CHECK = "10X98765432"


def cn_id(valid: bool = True, bad_date: bool = False) -> str:
    if bad_date:
        birth = f"{R.randint(1985, 2004)}{pick(['13', '00', '14'])}{R.randint(1, 28):02d}"
    else:
        d = dt.date(1985, 1, 1) + dt.timedelta(days=R.randint(0, 365 * 20))
        birth = d.strftime("%Y%m%d")
    body = pick(CN_REGIONS) + birth + rs(3, DIGITS)
    check = CN_CHECK[sum(int(c) * w for c, w in zip(body, CN_WEIGHTS)) % 11]
    if not valid:
        check = pick([c for c in CN_CHECK if c != check])
    return body + check


def cn_id_ok(s: str) -> bool:
    try:
        dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    return CN_CHECK[sum(int(c) * w for c, w in zip(s[:17], CN_WEIGHTS)) % 11] == s[17]


def ssn(valid: bool = True, how: str = "") -> str:
    area = R.choice([a for a in range(1, 900) if a != 666])
    group = R.randint(1, 99)
    serial = R.randint(1, 9999)
    if not valid:
        if how == "000":
            area = 0
        elif how == "666":
            area = 666
        elif how == "9xx":
            area = R.randint(900, 999)
        elif how == "group00":
            group = 0
        elif how == "serial0000":
            serial = 0
    return f"{area:03d}-{group:02d}-{serial:04d}"


def ssn_ok(s: str) -> bool:
    a, g, n = (int(x) for x in s.split("-"))
    return 1 <= a <= 899 and a != 666 and g != 0 and n != 0


# ---------------------------------------------------------------------------------------------
# Samples
# ---------------------------------------------------------------------------------------------
SECRETS: list[dict] = []
PII: list[dict] = []


def add_secret(text: str, kind: str, label: str = "secret") -> None:
    SECRETS.append({"text": text, "label": label, "kind": kind})


def add_pii(text: str, kind: str, label: str = "pii") -> None:
    PII.append({"text": text, "label": label, "kind": kind})


def cycle(templates, n):
    """n distinct-as-possible picks from templates, in random order."""
    out = []
    while len(out) < n:
        batch = list(templates)
        R.shuffle(batch)
        out.extend(batch)
    return out[:n]


# ---------------------------------------------------------------------------------------------
# Context templates for a credential assigned to a named variable.
# Every template here shows the variable name, so kinds that need context (DeepSeek, Mistral,
# Cohere, Together, W&B, Mailgun) keep their keyword in every sample.
# ---------------------------------------------------------------------------------------------
def t_env(name, v, vd):
    return f"{name}={v}"


def t_export(name, v, vd):
    q = pick(['"', "'"])
    return f"export {name}={q}{v}{q}"


def t_dotenv(name, v, vd):
    return (f"# {svc()} service\nLOG_LEVEL={pick(['info', 'debug', 'warn'])}\n{name}={v}\n"
            f"PORT={pick(['3000', '8000', '8080', '5000'])}")


def t_yaml(name, v, vd):
    sect = vd.get("section", svc())
    return f"{sect}:\n  {name.lower()}: {v}\n  timeout: {R.randint(5, 120)}\n  retries: {R.randint(1, 5)}"


def t_yaml_env(name, v, vd):
    return f"services:\n  {svc()}:\n    environment:\n      {name}: \"{v}\""


def t_json(name, v, vd):
    d = {name.lower(): v}
    if "model" in vd:
        d["model"] = pick(vd["model"])
    d["timeout"] = R.randint(10, 60)
    return json.dumps(d, indent=pick([None, 2]))


def t_toml(name, v, vd):
    sect = vd.get("section", svc())
    return f"[{sect}]\n{name.lower()} = \"{v}\"\nenabled = true"


def t_python(name, v, vd):
    return pick([f'{name} = "{v}"', f'os.environ["{name}"] = "{v}"',
                 f'os.environ.setdefault("{name}", "{v}")'])


def t_js(name, v, vd):
    return pick([f"process.env.{name} = '{v}';", f"const {camel(name)} = process.env.{name} ?? \"{v}\";",
                 f"export const {name} = \"{v}\";"])


def t_go(name, v, vd):
    return f'os.Setenv("{name}", "{v}")'


def t_log(name, v, vd):
    return (f"{ts_iso()} {pick(LEVELS)} [{svc()}] loaded settings from environment: "
            f"{name}={v} REGION={pick(['us-east-1', 'eu-west-1', 'ap-southeast-2'])}")


def t_chat(name, v, vd):
    content = pick([
        f"I set {name}={v} in my .env but every call returns 401, what am I doing wrong?",
        f"here is my config, can you check it?\n{name}={v}",
        f"why does my script fail? I exported {name} as {v} already",
    ])
    return json.dumps({"role": "user", "content": content, "ts": int(rtime().timestamp())}, ensure_ascii=False)


def t_k8s(name, v, vd):
    return f"env:\n  - name: {name}\n    value: \"{v}\"\n  - name: LOG_FORMAT\n    value: json"


def t_docker(name, v, vd):
    return f"docker run --rm -e {name}={v} -p 8080:8080 ghcr.io/acme/{svc()}:{R.randint(1, 3)}.{R.randint(0, 20)}.{R.randint(0, 9)}"


def t_shell(name, v, vd):
    return f"$ {name}={v} python -m {svc().replace('-', '_')}.main --dry-run"


def t_ini(name, v, vd):
    return f"[{vd.get('section', 'default')}]\n{name.lower()} = {v}"


NAMED = [t_env, t_export, t_dotenv, t_yaml, t_yaml_env, t_json, t_toml, t_python, t_js, t_go, t_log, t_chat,
         t_k8s, t_docker, t_shell, t_ini]


# Extra templates for self-identifying values (prefix tells the vendor): no variable needed.
def t_curl(name, v, vd):
    url, hdr = vd["curl"]
    h = hdr.format(v=v)
    if "model" not in vd:
        return f"curl -s {url} \\\n  -H \"{h}\" \\\n  -H \"Accept: application/json\""
    body = json.dumps({"model": pick(vd["model"]), "messages": [{"role": "user", "content": "ping"}]})
    return f"curl -s {url} \\\n  -H \"{h}\" \\\n  -H \"Content-Type: application/json\" \\\n  -d '{body}'"


def t_sdk(name, v, vd):
    return pick(vd["sdk"]).format(v=v)


def t_chat_bare(name, v, vd):
    content = pick([
        f"my key is {v} and the API keeps saying unauthorized",
        f"can you see why this fails? client init uses `{v}`",
        f"I pasted {v} into the settings page and nothing happens",
    ])
    return json.dumps({"role": "user", "content": content}, ensure_ascii=False)


def t_log_bare(name, v, vd):
    return f"{ts_iso()} ERROR [{svc()}] upstream returned 401 for key {v} (attempt {R.randint(1, 3)}/3)"


VENDORS = {
    # kind: value generator, variable names, extra data; ctx=True: context word required
    "openai-legacy": dict(gen=lambda: "sk-" + rs(20) + "T3BlbkFJ" + rs(20), names=["OPENAI_API_KEY", "OPENAI_KEY", "api_key"],
                          curl=("https://api.openai.com/v1/chat/completions", "Authorization: Bearer {v}"),
                          sdk=['client = OpenAI(api_key="{v}")', 'openai.api_key = "{v}"'], model=["gpt-4o-mini", "gpt-3.5-turbo"]),
    "openai-project": dict(gen=lambda: "sk-proj-" + rs_edges(74, B64URL) + "T3BlbkFJ" + rs_edges(74, B64URL),
                           names=["OPENAI_API_KEY", "OPENAI_KEY", "LLM_API_KEY"],
                           curl=("https://api.openai.com/v1/responses", "Authorization: Bearer {v}"),
                           sdk=['client = OpenAI(api_key="{v}")', 'const openai = new OpenAI({{ apiKey: "{v}" }});'],
                           model=["gpt-4o", "gpt-4.1-mini"]),
    "openai-svcacct": dict(gen=lambda: "sk-svcacct-" + rs_edges(74, B64URL) + "T3BlbkFJ" + rs_edges(74, B64URL),
                           names=["OPENAI_API_KEY", "OPENAI_SERVICE_ACCOUNT_KEY"],
                           curl=("https://api.openai.com/v1/embeddings", "Authorization: Bearer {v}"),
                           sdk=['client = OpenAI(api_key="{v}")'], model=["text-embedding-3-small"]),
    "openai-admin": dict(gen=lambda: "sk-admin-" + rs_edges(58, B64URL) + "T3BlbkFJ" + rs_edges(58, B64URL),
                         names=["OPENAI_ADMIN_KEY", "OPENAI_ADMIN_API_KEY"],
                         curl=("https://api.openai.com/v1/organization/users", "Authorization: Bearer {v}"),
                         sdk=['admin = OpenAI(api_key="{v}")']),
    "anthropic-api": dict(gen=lambda: "sk-ant-api03-" + rs_edges(93, B64URL) + "AA", names=["ANTHROPIC_API_KEY", "CLAUDE_API_KEY"],
                          curl=("https://api.anthropic.com/v1/messages", "x-api-key: {v}"),
                          sdk=['client = anthropic.Anthropic(api_key="{v}")', 'const anthropic = new Anthropic({{ apiKey: "{v}" }});'],
                          model=["claude-3-5-sonnet-latest", "claude-3-5-haiku-latest"]),
    "anthropic-admin": dict(gen=lambda: "sk-ant-admin01-" + rs_edges(93, B64URL) + "AA", names=["ANTHROPIC_ADMIN_KEY", "ANTHROPIC_ADMIN_API_KEY"],
                            curl=("https://api.anthropic.com/v1/organizations/users", "x-api-key: {v}"),
                            sdk=['admin = anthropic.Anthropic(api_key="{v}")']),
    "deepseek": dict(gen=lambda: "sk-" + rhex(32), names=["DEEPSEEK_API_KEY", "DEEPSEEK_KEY"], ctx=True, section="deepseek",
                     model=["deepseek-chat", "deepseek-reasoner"]),
    "google-api": dict(gen=lambda: "AIza" + rs(35, B64URL), names=["GOOGLE_API_KEY", "GEMINI_API_KEY", "MAPS_API_KEY"],
                       curl=("https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-flash:generateContent", "x-goog-api-key: {v}"),
                       sdk=['genai.configure(api_key="{v}")', '<script src="https://maps.googleapis.com/maps/api/js?key={v}&callback=initMap"></script>']),
    "groq": dict(gen=lambda: "gsk_" + rs(52), names=["GROQ_API_KEY"],
                 curl=("https://api.groq.com/openai/v1/chat/completions", "Authorization: Bearer {v}"),
                 sdk=['client = Groq(api_key="{v}")'], model=["llama-3.1-70b-versatile", "mixtral-8x7b-32768"]),
    "xai": dict(gen=lambda: "xai-" + rs(80), names=["XAI_API_KEY", "GROK_API_KEY"],
                curl=("https://api.x.ai/v1/chat/completions", "Authorization: Bearer {v}"),
                sdk=['client = OpenAI(api_key="{v}", base_url="https://api.x.ai/v1")'], model=["grok-2", "grok-beta"]),
    "mistral": dict(gen=lambda: rs(32), names=["MISTRAL_API_KEY"], ctx=True, section="mistral", model=["mistral-large-latest"]),
    "cohere": dict(gen=lambda: rs(40), names=["COHERE_API_KEY"], ctx=True, section="cohere",
                   model=["command-r-plus"]),
    "huggingface": dict(gen=lambda: "hf_" + rs(34, UPPER + LOWER), names=["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACEHUB_API_TOKEN"],
                        curl=("https://api-inference.huggingface.co/models/meta-llama/Llama-3.1-8B-Instruct", "Authorization: Bearer {v}"),
                        sdk=['login(token="{v}")', 'pipe = pipeline("text-generation", model="gpt2", token="{v}")']),
    "openrouter": dict(gen=lambda: "sk-or-v1-" + rhex(64), names=["OPENROUTER_API_KEY"],
                       curl=("https://openrouter.ai/api/v1/chat/completions", "Authorization: Bearer {v}"),
                       sdk=['client = OpenAI(base_url="https://openrouter.ai/api/v1", api_key="{v}")']),
    "replicate": dict(gen=lambda: "r8_" + rs(37), names=["REPLICATE_API_TOKEN"],
                      curl=("https://api.replicate.com/v1/predictions", "Authorization: Bearer {v}"),
                      sdk=['client = replicate.Client(api_token="{v}")']),
    "perplexity": dict(gen=lambda: "pplx-" + rs(48), names=["PERPLEXITY_API_KEY", "PPLX_API_KEY"],
                       curl=("https://api.perplexity.ai/chat/completions", "Authorization: Bearer {v}"),
                       sdk=['client = OpenAI(api_key="{v}", base_url="https://api.perplexity.ai")'], model=["sonar-pro"]),
    "together": dict(gen=lambda: rhex(64), names=["TOGETHER_API_KEY"], ctx=True, section="together",
                     model=["meta-llama/Llama-3-70b-chat-hf"]),
    "fireworks": dict(gen=lambda: "fw_" + rs(24), names=["FIREWORKS_API_KEY"],
                      curl=("https://api.fireworks.ai/inference/v1/chat/completions", "Authorization: Bearer {v}"),
                      sdk=['client = Fireworks(api_key="{v}")']),
    "langsmith": dict(gen=lambda: "lsv2_" + pick(["pt", "pt", "sk"]) + "_" + rhex(32) + "_" + rhex(10),
                      names=["LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"],
                      curl=("https://api.smith.langchain.com/api/v1/runs", "x-api-key: {v}"),
                      sdk=['client = Client(api_key="{v}")']),
    "pinecone": dict(gen=lambda: "pcsk_" + rs(6) + "_" + rs(63), names=["PINECONE_API_KEY"],
                     curl=("https://api.pinecone.io/indexes", "Api-Key: {v}"),
                     sdk=['pc = Pinecone(api_key="{v}")', "const pc = new Pinecone({{ apiKey: '{v}' }});"]),
    "wandb": dict(gen=lambda: rhex(40), names=["WANDB_API_KEY"], ctx=True, section="wandb"),
    "gitlab-pat": dict(gen=lambda: "glpat-" + rs_edges(20, B64URL), names=["GITLAB_TOKEN", "CI_JOB_TOKEN_OVERRIDE", "GL_TOKEN"],
                       curl=("https://gitlab.com/api/v4/projects", "PRIVATE-TOKEN: {v}"),
                       sdk=['gl = gitlab.Gitlab("https://gitlab.com", private_token="{v}")',
                            "git clone https://oauth2:{v}@gitlab.com/acme/platform.git"]),
    "github-fine-grained": dict(gen=lambda: "github_pat_" + rs(22) + "_" + rs(59), names=["GITHUB_TOKEN", "GH_TOKEN", "GITHUB_PAT"],
                                curl=("https://api.github.com/user/repos", "Authorization: token {v}"),
                                sdk=['g = Github("{v}")', "git clone https://x-access-token:{v}@github.com/acme/api.git"]),
    "stripe-secret": dict(gen=lambda: "sk_live_" + rs(R.choice([24, 34, 99])), names=["STRIPE_SECRET_KEY", "STRIPE_API_KEY"],
                          curl=("https://api.stripe.com/v1/charges", "Authorization: Bearer {v}"),
                          sdk=['stripe.api_key = "{v}"', "const stripe = require('stripe')('{v}');"]),
    "stripe-restricted": dict(gen=lambda: "rk_live_" + rs(R.choice([24, 34, 99])), names=["STRIPE_RESTRICTED_KEY", "STRIPE_KEY"],
                              curl=("https://api.stripe.com/v1/customers", "Authorization: Bearer {v}"),
                              sdk=['stripe.api_key = "{v}"']),
    "sendgrid": dict(gen=lambda: "SG." + rs_edges(22, B64URL) + "." + rs_edges(43, B64URL), names=["SENDGRID_API_KEY", "SMTP_PASSWORD"],
                     curl=("https://api.sendgrid.com/v3/mail/send", "Authorization: Bearer {v}"),
                     sdk=['sg = SendGridAPIClient("{v}")', "sgMail.setApiKey('{v}');"]),
    "mailgun": dict(gen=lambda: "key-" + rhex(32), names=["MAILGUN_API_KEY", "MAILGUN_KEY"], ctx=True, section="mailgun"),
    "npm": dict(gen=lambda: github_token("npm_"), names=["NPM_TOKEN", "NODE_AUTH_TOKEN"],
                sdk=["//registry.npmjs.org/:_authToken={v}", "npm config set //registry.npmjs.org/:_authToken {v}"]),
    "pypi": dict(gen=lambda: "pypi-AgEIcHlwaS5vcmc" + rs_edges(R.randint(70, 140), B64URL), names=["PYPI_TOKEN", "TWINE_PASSWORD", "PYPI_API_TOKEN"],
                 sdk=["[pypi]\n  username = __token__\n  password = {v}", "twine upload -u __token__ -p {v} dist/*"]),
    "dockerhub": dict(gen=lambda: "dckr_pat_" + rs_edges(27, B64URL), names=["DOCKERHUB_TOKEN", "DOCKER_PASSWORD"],
                      sdk=["echo {v} | docker login -u acmebot --password-stdin", "docker login -u acmebot -p {v}"]),
    "telegram-bot": dict(gen=lambda: f"{R.randint(10**8, 8 * 10**9)}:AA" + rs(33, B64URL), names=["TELEGRAM_BOT_TOKEN", "TG_TOKEN", "BOT_TOKEN"],
                         sdk=['bot = telebot.TeleBot("{v}")', "curl -s https://api.telegram.org/bot{v}/sendMessage -d chat_id=-1001234567 -d text=deployed"]),
    "slack-bot": dict(gen=lambda: f"xoxb-{R.randint(10**10, 10**12)}-{R.randint(10**11, 10**13)}-" + rs(24),
                      names=["SLACK_BOT_TOKEN", "SLACK_TOKEN"],
                      curl=("https://slack.com/api/chat.postMessage", "Authorization: Bearer {v}"),
                      sdk=['client = WebClient(token="{v}")', "const app = new App({{ token: '{v}', signingSecret }});"]),
    "slack-user": dict(gen=lambda: f"xoxp-{R.randint(10**10, 10**12)}-{R.randint(10**10, 10**12)}-{R.randint(10**11, 10**13)}-" + rhex(32),
                       names=["SLACK_USER_TOKEN", "SLACK_TOKEN"],
                       curl=("https://slack.com/api/users.list", "Authorization: Bearer {v}"),
                       sdk=['client = WebClient(token="{v}")']),
}

for k in ("github-classic-ghp", "github-classic-gho", "github-classic-ghu", "github-classic-ghs", "github-classic-ghr"):
    pre = k[-3:] + "_"
    VENDORS[k] = dict(gen=(lambda pre=pre: github_token(pre)), names=["GITHUB_TOKEN", "GH_TOKEN", "GITHUB_PAT"],
                      curl=("https://api.github.com/repos/acme/api/issues", "Authorization: token {v}"),
                      sdk=['g = Github("{v}")', "git clone https://{v}@github.com/acme/infra.git"])

VENDOR_COUNTS = {k: 5 for k in VENDORS}
VENDOR_COUNTS.update({k: 4 for k in VENDORS if k.startswith("github-classic")})
VENDOR_COUNTS.update({"mailgun": 4, "pypi": 4, "dockerhub": 4, "slack-bot": 4, "slack-user": 4, "stripe-restricted": 4})


def gen_vendor_secrets():
    for kind, vd in VENDORS.items():
        templates = list(NAMED)
        if not vd.get("ctx"):
            templates += [t_chat_bare, t_log_bare]
            if "curl" in vd:
                templates += [t_curl, t_curl]
            if "sdk" in vd:
                templates += [t_sdk, t_sdk]
        for t in cycle(templates, VENDOR_COUNTS[kind]):
            v = vd["gen"]()
            add_secret(t(pick(vd["names"]), v, vd), kind)


# ---------------------------------------------------------------------------------------------
# Structured secrets
# ---------------------------------------------------------------------------------------------
def aws_pair():
    return "AKIA" + rs(16, B32), rs(40, B64STD)


def gen_aws():
    forms = [
        lambda k, s: f"[default]\naws_access_key_id = {k}\naws_secret_access_key = {s}\nregion = {pick(['us-east-1', 'eu-central-1'])}",
        lambda k, s: f"[profile {svc()}]\naws_access_key_id={k}\naws_secret_access_key={s}",
        lambda k, s: f"export AWS_ACCESS_KEY_ID={k}\nexport AWS_SECRET_ACCESS_KEY={s}",
        lambda k, s: f's3 = boto3.client(\n    "s3",\n    aws_access_key_id="{k}",\n    aws_secret_access_key="{s}",\n)',
        lambda k, s: f'provider "aws" {{\n  region     = "us-west-2"\n  access_key = "{k}"\n  secret_key = "{s}"\n}}',
        lambda k, s: json.dumps({"AccessKey": {"UserName": f"ci-{svc()}", "AccessKeyId": k, "Status": "Active", "SecretAccessKey": s}}, indent=2),
        lambda k, s: f"AWS_ACCESS_KEY_ID: {k}\nAWS_SECRET_ACCESS_KEY: {s}\nAWS_DEFAULT_REGION: ap-southeast-2",
        lambda k, s: json.dumps({"role": "user", "content": f"boto says AccessDenied with aws_access_key_id={k} aws_secret_access_key = {s}, why?"}),
    ]
    for f in cycle(forms, 8):
        add_secret(f(*aws_pair()), "aws-access-key")


def b64_lines(data: bytes, width: int = 64) -> list[str]:
    s = base64.b64encode(data).decode()
    return [s[i:i + width] for i in range(0, len(s), width)]


def der_rsa_pkcs1() -> bytes:
    head = b"\x30\x82\x04\xa4\x02\x01\x00\x02\x82\x01\x01\x00"
    return head + rbytes(0x4A4 + 4 - len(head))


def der_pkcs8() -> bytes:
    head = (b"\x30\x82\x04\xbe\x02\x01\x00\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00"
            b"\x04\x82\x04\xa8\x30\x82\x04\xa4\x02\x01\x00\x02\x82\x01\x01\x00")
    return head + rbytes(0x4BE + 4 - len(head))


def der_ec() -> bytes:
    return (b"\x30\x77\x02\x01\x01\x04\x20" + rbytes(32) +
            b"\xa0\x0a\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07\xa1\x44\x03\x42\x00\x04" + rbytes(64))


def ssh_string(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def openssh_blob(rsa: bool = False) -> bytes:
    comment = f"{pick(FIRST)}@{pick(['laptop', 'build-01', 'bastion', 'macbook.local'])}".encode()
    if rsa:
        pub = ssh_string(b"ssh-rsa") + ssh_string(b"\x01\x00\x01") + ssh_string(b"\x00" + rbytes(384))
        check = rbytes(4)
        priv = (check + check + ssh_string(b"ssh-rsa") + ssh_string(b"\x00" + rbytes(384)) + ssh_string(b"\x01\x00\x01")
                + ssh_string(rbytes(384)) + ssh_string(b"\x00" + rbytes(192)) + ssh_string(b"\x00" + rbytes(192))
                + ssh_string(b"\x00" + rbytes(192)) + ssh_string(comment))
    else:
        pk = rbytes(32)
        pub = ssh_string(b"ssh-ed25519") + ssh_string(pk)
        check = rbytes(4)
        priv = check + check + ssh_string(b"ssh-ed25519") + ssh_string(pk) + ssh_string(rbytes(32) + pk) + ssh_string(comment)
    pad = 1
    while len(priv) % 8:
        priv += bytes([pad])
        pad += 1
    return (b"openssh-key-v1\x00" + ssh_string(b"none") + ssh_string(b"none") + ssh_string(b"")
            + struct.pack(">I", 1) + ssh_string(pub) + ssh_string(priv))


def pem(label: str, data: bytes, width: int = 64) -> str:
    return "\n".join([f"-----BEGIN {label}-----", *b64_lines(data, width), f"-----END {label}-----"])


def gen_pem():
    kinds = {
        "pem-rsa": lambda: pem("RSA PRIVATE KEY", der_rsa_pkcs1()),
        "pem-ec": lambda: pem("EC PRIVATE KEY", der_ec()),
        "pem-pkcs8": lambda: pem("PRIVATE KEY", der_pkcs8()),
        "openssh-private-key": lambda: pem("OPENSSH PRIVATE KEY", openssh_blob(rsa=R.random() < 0.3), width=70),
    }
    wraps = [
        lambda p: p,
        lambda p: p + "\n",
        lambda p: f"# {svc()} deploy key, do not share\n{p}",
        lambda p: "tls:\n  key: |\n" + "\n".join("    " + line for line in p.splitlines()),
    ]
    for kind, make in kinds.items():
        for w in cycle(wraps, 4):
            add_secret(w(make()), kind)
    # PEM inside a JSON string, newlines escaped.
    for _ in range(3):
        label, der = pick([("PRIVATE KEY", der_pkcs8), ("RSA PRIVATE KEY", der_rsa_pkcs1), ("EC PRIVATE KEY", der_ec)])
        key = pem(label, der()) + "\n"
        doc = pick([
            {"name": f"{svc()}-signing", "private_key": key, "algorithm": "RS256"},
            {"data": {"tls.key": key, "issuer": "internal-ca"}},
            {"jwt": {"kid": rhex(16), "privateKey": key}},
        ])
        add_secret(json.dumps(doc), "pem-in-json")


def gen_gcp():
    for i in range(5):
        project = f"{pick(['acme', 'shopfront', 'ml', 'data'])}-{pick(['prod', 'staging', 'dev'])}-{R.randint(100000, 999999)}"
        sa = f"{pick(['ci-deployer', 'bq-reader', 'vertex-runner', 'gcs-sync'])}"
        key = pem("PRIVATE KEY", der_pkcs8()) + "\n"
        doc = {
            "type": "service_account",
            "project_id": project,
            "private_key_id": rhex(40),
            "private_key": key,
            "client_email": f"{sa}@{project}.iam.gserviceaccount.com",
            "client_id": str(R.randint(10**20, 10**21 - 1)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{sa}%40{project}.iam.gserviceaccount.com",
            "universe_domain": "googleapis.com",
        }
        if i % 2:
            add_secret(json.dumps(doc, indent=2), "gcp-service-account")
        else:
            add_secret(f"GOOGLE_CREDENTIALS='{json.dumps(doc)}'" if i == 2 else json.dumps(doc), "gcp-service-account")


def azure_account():
    return pick(["acme", "prod", "logs", "media", "backup", "data"]) + rs(R.randint(4, 10), LOWER + DIGITS)


def gen_azure():
    for f in cycle([
        lambda c: f"AZURE_STORAGE_CONNECTION_STRING=\"{c}\"",
        lambda c: f'"ConnectionStrings": {{\n  "Storage": "{c}"\n}}',
        lambda c: f"blob = BlobServiceClient.from_connection_string(\"{c}\")",
        lambda c: f"storage:\n  connection_string: {c}",
        lambda c: f"{ts_iso()} INFO using storage {c}",
    ], 5):
        acct = azure_account()
        key = base64.b64encode(rbytes(64)).decode()
        conn = f"DefaultEndpointsProtocol=https;AccountName={acct};AccountKey={key};EndpointSuffix=core.windows.net"
        add_secret(f(conn), "azure-storage-connection-string")
    for f in cycle([
        lambda u: u,
        lambda u: f"BACKUP_SAS_URL={u}",
        lambda u: f"azcopy copy ./dist '{u}' --recursive",
        lambda u: json.dumps({"upload_url": u, "expires": "2026-01-01"}),
        lambda u: f"curl -X PUT -T report.csv -H 'x-ms-blob-type: BlockBlob' \"{u}\"",
    ], 5):
        acct = azure_account()
        sig = base64.b64encode(rbytes(32)).decode().replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
        start = rtime().strftime("%Y-%m-%dT%H:%M:%SZ")
        u = (f"https://{acct}.blob.core.windows.net/{pick(['exports', 'backups', 'uploads'])}{pick(['/report.csv', '/db.bak', ''])}"
             f"?sv=2022-11-02&ss=b&srt=co&sp={pick(['rl', 'rwdlac', 'r'])}&se=2026-01-01T00:00:00Z&st={start}&spr=https&sig={sig}")
        add_secret(f(u), "azure-sas-url")


def gen_webhooks():
    for f in cycle([
        lambda u: f"SLACK_WEBHOOK_URL={u}",
        lambda u: f"curl -X POST -H 'Content-type: application/json' --data '{{\"text\":\"deploy {svc()} ok\"}}' {u}",
        lambda u: f"receivers:\n  - name: oncall\n    slack_configs:\n      - api_url: '{u}'\n        channel: '#alerts'",
        lambda u: f'requests.post("{u}", json={{"text": msg}})',
        lambda u: json.dumps({"notify": {"type": "slack", "webhook": u}}),
    ], 5):
        u = f"https://hooks.slack.com/services/T{rs(R.choice([8, 10]), UPPER + DIGITS)}/B{rs(R.choice([8, 10]), UPPER + DIGITS)}/{rs(24)}"
        add_secret(f(u), "slack-webhook")
    for f in cycle([
        lambda u: f"DISCORD_WEBHOOK={u}",
        lambda u: f"curl -H 'Content-Type: application/json' -d '{{\"content\":\"build failed\"}}' '{u}'",
        lambda u: f'webhook = DiscordWebhook(url="{u}", content="nightly done")',
        lambda u: f"alerts:\n  discord: {u}",
    ], 4):
        host = pick(["discord.com", "discordapp.com"])
        u = f"https://{host}/api/webhooks/{R.randint(10**16, 10**19 - 1)}/{rs_edges(68, B64URL)}"
        add_secret(f(u), "discord-webhook")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def gen_jwt():
    forms = [
        lambda t: f"Authorization: Bearer {t}",
        lambda t: f"Cookie: session={t}; Path=/; HttpOnly",
        lambda t: json.dumps({"access_token": t, "token_type": "Bearer", "expires_in": 3600}),
        lambda t: f"curl -H \"Authorization: Bearer {t}\" https://api.{pick(['acme.io', 'internal.example.net'])}/v2/me",
        lambda t: f"localStorage.setItem('id_token', '{t}');",
        lambda t: f"{ts_iso()} DEBUG auth header accepted token={t}",
    ]
    for f in cycle(forms, 6):
        alg = pick(["HS256", "RS256", "ES256"])
        header = {"alg": alg, "typ": "JWT"}
        if alg != "HS256":
            header["kid"] = rhex(16)
        now = int(rtime().timestamp())
        payload = {"sub": str(R.randint(1000, 999999)), "iss": pick(["https://auth.acme.io/", "https://login.internal/"]),
                   "aud": pick(["api", "web"]), "iat": now, "exp": now + 3600, "scope": pick(["read:orders", "admin", "user"])}
        sig = {"HS256": 32, "RS256": 256, "ES256": 64}[alg]
        tok = f"{b64url(json.dumps(header, separators=(',', ':')).encode())}.{b64url(json.dumps(payload, separators=(',', ':')).encode())}.{b64url(rbytes(sig))}"
        add_secret(f(tok), "jwt")


URI_SCHEMES = {
    "uri-postgres": ("postgres", 5432), "uri-postgresql": ("postgresql", 5432), "uri-mysql": ("mysql", 3306),
    "uri-mongodb": ("mongodb", 27017), "uri-mongodb-srv": ("mongodb+srv", None), "uri-redis": ("redis", 6379),
    "uri-rediss": ("rediss", 6380), "uri-clickhouse": ("clickhouse", 9000), "uri-amqp": ("amqp", 5672),
}


def gen_uris():
    forms = [
        lambda u: f"DATABASE_URL={u}",
        lambda u: f"engine = create_engine(\"{u}\")",
        lambda u: f"{ts_iso()} INFO [{svc()}] connecting to {u}",
        lambda u: f"database:\n  url: \"{u}\"\n  pool_size: {R.randint(5, 20)}",
        lambda u: json.dumps({"dsn": u, "ssl": True}),
    ]
    for kind, (scheme, port) in URI_SCHEMES.items():
        for f in cycle(forms, 4):
            pw = url_password()
            user = pick(USERS)
            db = pick(["app", "orders", "analytics", "prod", "events"])
            if scheme == "mongodb+srv":
                u = f"mongodb+srv://{user}:{pw}@cluster{R.randint(0, 3)}.{rs(5, LOWER + DIGITS)}.mongodb.net/{db}?retryWrites=true&w=majority"
            elif scheme.startswith("redis"):
                u = f"{scheme}://{pick(['', 'default'])}:{pw}@{pick(['redis', 'cache.internal', 'redis-master.prod.svc'])}:{port}/{R.randint(0, 3)}"
            elif scheme == "amqp":
                u = f"amqp://{user}:{pw}@{pick(['rabbitmq', 'mq.internal'])}:{port}/{pick(['', 'prod', '%2F'])}"
            else:
                host = pick(HOSTS)
                u = f"{scheme}://{user}:{pw}@{host}:{port}/{db}"
                if scheme.startswith("postgres") and R.random() < 0.5:
                    u += "?sslmode=require"
            add_secret(f(u), kind)


def gen_http_auth():
    for f in cycle([
        lambda v: f"Authorization: Bearer {v}",
        lambda v: f"curl -H 'Authorization: Bearer {v}' https://{pick(['api.internal', 'billing.acme.io'])}/v1/invoices",
        lambda v: f'headers = {{"Authorization": "Bearer {v}", "Accept": "application/json"}}',
        lambda v: f"> GET /v1/orders HTTP/1.1\n> Host: api.acme.io\n> Authorization: Bearer {v}\n> User-Agent: curl/8.5.0",
        lambda v: f"fetch(url, {{ headers: {{ Authorization: `Bearer {v}` }} }})",
    ], 5):
        add_secret(f(rs(40)), "http-bearer")
    for f in cycle([
        lambda v: f"Authorization: Basic {v}",
        lambda v: f"curl -H \"Authorization: Basic {v}\" https://jenkins.internal/api/json",
        lambda v: f'req.Header.Set("Authorization", "Basic {v}")',
        lambda v: f"proxy_set_header Authorization \"Basic {v}\";",
        lambda v: f"{ts_iso()} DEBUG outgoing headers: Authorization: Basic {v}",
    ], 5):
        cred = f"{pick(USERS)}:{password()}".encode()
        add_secret(f(base64.b64encode(cred).decode()), "http-basic")


def gen_generic():
    def secret_key():
        return rs(R.randint(40, 50), ALNUM + "!@#%^&*(-_=+)")

    specs = {
        "generic-password": (lambda: password(), [
            lambda v: f"password={v}", lambda v: f"DB_PASSWORD: {v}", lambda v: f'"password": "{v}"',
            lambda v: f"spring.datasource.password={v}", lambda v: f"mysql -u root -p'{v}' -h db.internal",
            lambda v: f"PGPASSWORD={v} psql -h {pick(HOSTS)} -U {pick(USERS)}"]),
        "generic-api-key": (lambda: rs(R.choice([32, 40])), [
            lambda v: f'"api_key": "{v}"', lambda v: f"API_KEY={v}", lambda v: f"api_key: {v}",
            lambda v: f"x-api-key: {v}", lambda v: f'self.api_key = "{v}"']),
        "generic-secret-key": (secret_key, [
            lambda v: f"secret_key = '{v}'", lambda v: f"SECRET_KEY = '{v}'", lambda v: f"app.config['SECRET_KEY'] = '{v}'",
            lambda v: f"JWT_SECRET_KEY={v}", lambda v: f"secret_key_base: {v}"]),
        "generic-client-secret": (lambda: rs(R.choice([34, 40]), ALNUM + "~._-"), [
            lambda v: f"client_secret={v}", lambda v: f"AZURE_CLIENT_SECRET={v}", lambda v: f'"client_secret": "{v}"',
            lambda v: f"oauth:\n  client_id: {ruuid()}\n  client_secret: {v}",
            lambda v: f"curl -d grant_type=client_credentials -d client_id=reports -d client_secret={v} https://auth.acme.io/oauth/token"]),
        "generic-token": (lambda: rs(R.choice([32, 40, 48])), [
            lambda v: f"token: {v}", lambda v: f"AUTH_TOKEN={v}", lambda v: f'"token": "{v}"',
            lambda v: f"vault:\n  addr: https://vault.internal:8200\n  token: {v}", lambda v: f"access_token={v}"]),
    }
    for kind, (make, forms) in specs.items():
        for f in cycle(forms, 6):
            add_secret(f(make()), kind)


# ---------------------------------------------------------------------------------------------
# Secret hard negatives
# ---------------------------------------------------------------------------------------------
def neg(text: str, kind: str) -> None:
    add_secret(text, kind, "none")


def gen_secret_negatives():
    # AWS documentation example keys.
    for t in [
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nexport AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "# Example from the AWS docs:\n# AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        '{"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}',
        "aws configure set aws_access_key_id AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY  # docs example",
        "Use an access key such as AKIAIOSFODNN7EXAMPLE in the examples below.",
        's3 = boto3.client("s3", aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")',
    ]:
        neg(t, "aws-example-key")

    # Placeholders and references.
    vars_ = ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GITHUB_TOKEN", "STRIPE_SECRET_KEY", "DB_PASSWORD", "API_KEY",
             "SLACK_BOT_TOKEN", "HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "SECRET_KEY"]
    placeholder_forms = [
        lambda n: "OPENAI_API_KEY=sk-...", lambda n: "OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", lambda n: f"api_key: <YOUR_API_KEY>",
        lambda n: f"{n}=${{{n}}}", lambda n: f'api_key: "{{{{ api_key }}}}"', lambda n: f'password: "{{{{ .Values.db.password }}}}"',
        lambda n: f'"password": "%(password)s"', lambda n: f"const key = process.env.{n};", lambda n: f'token = os.environ["TOKEN"]',
        lambda n: f'api_key = "your-api-key-here"', lambda n: "password=changeme", lambda n: f"{n}=<password>",
        lambda n: "password: ********", lambda n: "AWS_SECRET_ACCESS_KEY=YOUR_SECRET_ACCESS_KEY",
        lambda n: "ANTHROPIC_API_KEY=sk-ant-...", lambda n: "token: REPLACE_ME",
        lambda n: "GITHUB_TOKEN=ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", lambda n: f'api_key = os.getenv("{n}")',
        lambda n: "password = getpass.getpass()", lambda n: 'psql --host db --password "$DB_PASSWORD"',
        lambda n: "Authorization: Bearer $TOKEN", lambda n: "Authorization: Bearer <token>",
        lambda n: "DATABASE_URL=postgres://user:password@localhost:5432/mydb", lambda n: "mysql://root:<password>@127.0.0.1:3306/app",
        lambda n: '"api_key": "sk-your-key"', lambda n: f"{n}: ${{{{ secrets.{n} }}}}",
        lambda n: f"{n}=\"\"  # set in CI", lambda n: f"# {n}=",
        lambda n: "STRIPE_SECRET_KEY=sk_live_YOUR_KEY_HERE", lambda n: f"{n}=<insert key>", lambda n: "secret: ${SECRET:-changeme}",
        lambda n: 'client = OpenAI(api_key=os.environ["OPENAI_API_KEY"])', lambda n: f"apiKey: process.env.{n}!,",
        lambda n: f"export {n}=$(cat /run/secrets/{n.lower()})", lambda n: f"{n}=$(vault kv get -field=value secret/{svc()})",
        lambda n: 'password: "${DB_PASSWORD}"', lambda n: f"api_key = '{{{n.lower()}}}'.format(**cfg)",
        lambda n: f'"{n}": "<redacted-in-docs>"', lambda n: "slack_token: xoxb-your-token", lambda n: "OPENAI_API_KEY=sk-proj-...",
        lambda n: f"{n}=dummy", lambda n: "OPENAI_API_KEY=test", lambda n: "token=TODO", lambda n: "password: <db-password>",
        lambda n: f"{n}=************",
    ]
    for f in placeholder_forms:
        neg(f(pick(vars_)), "placeholder")

    # Redacted values.
    for t in [
        "OPENAI_API_KEY=sk-proj-****abcd", "GITHUB_TOKEN=ghp_************************************", "SLACK_BOT_TOKEN=xoxb-***",
        '"api_key": "[REDACTED]"', "password=*****", "Authorization: Bearer ***", f"token: sk-...{rhex(4)}",
        f"using key sk-proj-...{rs(4)} for org org-{rs(24)}", "ANTHROPIC_API_KEY=sk-ant-api03-…REDACTED…",
        "AWS_ACCESS_KEY_ID=AKIA****************", f'{{"key": "sk-…{rs(4)}", "created": "{ts_iso()}", "name": "ci"}}',
        "stripe key sk_live_••••••••••••4242 rotated", f"{ts_iso()} INFO auth ok token=<redacted>",
        "Authorization: Basic [FILTERED]", "DATABASE_URL=postgres://app:****@db.internal:5432/app",
    ]:
        neg(t, "redacted")

    # Public keys and certificates.
    for _ in range(5):
        body = base64.b64encode(ssh_string(b"ssh-rsa") + ssh_string(b"\x01\x00\x01") + ssh_string(b"\x00" + rbytes(384))).decode()
        who = f"{pick(FIRST)}@{pick(['laptop', 'ci', 'bastion'])}"
        neg(pick([f"ssh-rsa {body} {who}", f"ssh_authorized_keys:\n  - ssh-rsa {body} {who}",
                  f"command=\"/usr/bin/rsync\",no-pty ssh-rsa {body} {who}"]), "ssh-public-key")
    for _ in range(4):
        body = base64.b64encode(ssh_string(b"ssh-ed25519") + ssh_string(rbytes(32))).decode()
        neg(pick([f"ssh-ed25519 {body} {pick(FIRST)}@host", f"github.com ssh-ed25519 {body}",
                  f"{ip_doc()} ssh-ed25519 {body}"]), "ssh-public-key")
    for _ in range(4):
        spki = b"\x30\x82\x01\x22\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00\x03\x82\x01\x0f\x00\x30\x82\x01\x0a\x02\x82\x01\x01\x00" + rbytes(256) + b"\x02\x03\x01\x00\x01"
        neg(pick(["", "# verify webhook signatures with this key\n"]) + pem("PUBLIC KEY", spki), "pem-public-key")
    for _ in range(4):
        cert = b"\x30\x82\x03\x5a\x30\x82\x02\x42\xa0\x03\x02\x01\x02" + rbytes(0x35A + 4 - 13)
        neg(pick(["", "ca.crt: |\n"]) + pem("CERTIFICATE", cert), "pem-certificate")

    # Hashes and digests.
    for _ in range(3):
        neg(f"{hashlib.md5(rbytes(16)).hexdigest()}  {pick(['release.tar.gz', 'model.bin', 'setup.exe'])}", "hash-md5")
        neg(f"{hashlib.sha1(rbytes(16)).hexdigest()}  {pick(['go1.22.3.linux-amd64.tar.gz', 'data.csv'])}", "hash-sha1")
        neg(f"{hashlib.sha256(rbytes(16)).hexdigest()}  {pick(['kubectl', 'node-v20.12.2-linux-x64.tar.xz', 'weights.safetensors'])}", "hash-sha256")
        neg(f"SHA512 ({pick(['app.dmg', 'backup.tar'])}) = {hashlib.sha512(rbytes(16)).hexdigest()}", "hash-sha512")
    for _ in range(4):
        d = hashlib.sha256(rbytes(16)).hexdigest()
        neg(pick([f"image: ghcr.io/acme/{svc()}@sha256:{d}", f"#12 writing image sha256:{d} done",
                  f"Digest: sha256:{d}\nStatus: Downloaded newer image for nginx:1.27",
                  f"FROM python:3.12-slim@sha256:{d}"]), "docker-digest")
    for _ in range(4):
        c = hashlib.sha1(rbytes(16)).hexdigest()
        neg(pick([f"commit {c}\nAuthor: CI Bot <ci@acme.io>\nDate:   Tue May 14 10:22:01 2024 +0000",
                  f"{c[:7]} fix: retry on 502 from upstream", f"Merge pull request #{R.randint(100, 9999)} ({c})",
                  f"uses: actions/checkout@{c}  # v4.1.7"]), "git-commit")
    for _ in range(3):
        neg(pick([f'"integrity": "sha512-{base64.b64encode(rbytes(64)).decode()}"',
                  f'<script src="/app.js" integrity="sha384-{base64.b64encode(rbytes(48)).decode()}" crossorigin="anonymous"></script>',
                  f"requests==2.32.3 --hash=sha256:{hashlib.sha256(rbytes(8)).hexdigest()}"]), "integrity-hash")

    # UUIDs.
    for _ in range(8):
        neg(pick([f'"request_id": "{ruuid()}"', f"tenant_id={ruuid()}", f"X-Correlation-ID: {ruuid()}",
                  f"subscription: {ruuid()}", f"job {ruuid()} finished in {R.randint(1, 900)}s"]), "uuid")

    # Base64 blobs of binary data.
    for _ in range(8):
        blob = base64.b64encode(rbytes(R.randint(48, 180))).decode()
        neg(pick([json.dumps({"thumbnail": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA" + blob, "w": 64, "h": 64}),
                  json.dumps({"payload": blob, "encoding": "base64", "content_type": "application/octet-stream"}),
                  json.dumps({"embedding_b64": blob, "dim": 384, "dtype": "float16"}),
                  json.dumps({"body": blob, "message_id": ruuid(), "attributes": {"ApproximateReceiveCount": "1"}})]), "base64-blob")

    # Config flags and counters that name a secret without holding one.
    for t in ["password: true", "api_key: null", '"token": null', "require_password: false", 'secret: ""',
              "password_min_length: 12", "token_ttl: 3600", "API_KEY_HEADER=X-Api-Key",
              "enable_api_key_auth = false", "rotate_secrets_every: 90d"]:
        neg(t, "config-flag")
    for _ in range(10):
        neg(pick([json.dumps({"usage": {"prompt_tokens": R.randint(10, 9000), "completion_tokens": R.randint(10, 2000),
                                        "total_tokens": R.randint(100, 11000)}}),
                  f"token_count={R.randint(100, 9000)}", f"max_tokens: {pick([256, 1024, 4096, 8192])}",
                  f"tokens_per_minute={pick([30000, 90000, 150000])}", f"{ts_iso()} INFO tokens used: {R.randint(100, 5000)}"]),
            "token-count")

    # URIs without a password.
    for t in ["postgres://app@db:5432/x", "postgres://user:${PGPASSWORD}@db/x", "redis://:@localhost",
              "redis://localhost:6379/0", "mongodb://mongo-0.mongo:27017,mongo-1.mongo:27017/?replicaSet=rs0",
              "DATABASE_URL=mysql://root@127.0.0.1:3306/test", "git clone https://deploy@github.com/acme/api.git",
              "postgresql://$DB_USER:$DB_PASS@$DB_HOST/app", "amqp://rabbitmq:5672/%2F", "clickhouse://ch-0:9000/default",
              "rediss://cache.internal:6380", "mongodb+srv://cluster0.ab1cd.mongodb.net/?authMechanism=MONGODB-AWS"]:
        neg(t, "uri-no-password")

    # GitHub-looking tokens whose CRC32 checksum is wrong.
    for _ in range(6):
        tok = github_token(pick(["ghp_", "gho_", "ghs_"]), valid=False)
        assert not github_checksum_ok(tok)
        neg(pick([f"GITHUB_TOKEN={tok}", f"token: {tok}", f'g = Github("{tok}")']), "github-bad-checksum")

    # sk- + 32 hex without DeepSeek context.
    for _ in range(6):
        v = "sk-" + rhex(32)
        neg(pick([json.dumps({"sku": v, "qty": R.randint(1, 9), "price": R.randint(5, 500)}),
                  f"inventory item {v} restocked", f"cache_key={v} hit=true", f"<option value=\"{v}\">Large / Blue</option>",
                  f"{ts_iso()} DEBUG evicting {v} from lru"]), "sk-hex-no-context")

    # Prose about secrets.
    for t in ["user password reset requested", "Invalid token provided", "Organising the office secret santa this year!",
              "API key rotation is scheduled for Friday.", "Please enter your password to continue.",
              "The access token expired at 10:22 UTC; the client refreshed it.", "Secret management best practices (2024)",
              "Forgot password?", "401 Unauthorized: Bearer token required", "Paste your API key into the field below.",
              "Passwords must contain at least 12 characters.", "The session token is missing or invalid.",
              "We never store your card's secret code.", "Keys are stored in the OS keychain, never in plain text.",
              "Set OPENAI_API_KEY in your shell before running the examples."]:
        neg(t, "prose")


# ---------------------------------------------------------------------------------------------
# Benign logs (shared by both sets)
# ---------------------------------------------------------------------------------------------
UA = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
      "curl/8.5.0", "python-requests/2.31.0", "kube-probe/1.29", "Go-http-client/1.1"]
PATHS = ["/api/v1/items?page=2", "/healthz", "/v1/orders/84213", "/static/js/main.4f3a2c1b.js", "/login", "/api/search?q=shoes",
         "/metrics", "/v2/chat/completions", "/favicon.ico", "/api/v1/users/me"]


def benign_log() -> str:
    k = R.randint(0, 14)
    t = rtime()
    if k == 0:
        return (f"{ip_doc()} - - [{t.strftime('%d/%b/%Y:%H:%M:%S +0000')}] \"{pick(['GET', 'POST'])} {pick(PATHS)} HTTP/1.1\" "
                f"{pick([200, 200, 204, 301, 404, 502])} {R.randint(0, 90000)} \"-\" \"{pick(UA)}\"")
    if k == 1:
        return json.dumps({"ts": ts_iso(), "level": pick(["info", "warn"]), "msg": "request completed", "request_id": ruuid(),
                           "method": pick(["GET", "POST"]), "path": pick(PATHS).split("?")[0], "status": pick([200, 201, 404]),
                           "duration_ms": round(R.uniform(0.4, 900), 1)})
    if k == 2:
        pod = f"{svc()}-{rs(9, LOWER + DIGITS)}-{rs(5, LOWER + DIGITS)}"
        return pick([f"{R.randint(1, 59)}m  Normal  Scheduled  pod/{pod}  Successfully assigned default/{pod} to node-{R.randint(1, 9)}",
                     f"{R.randint(1, 59)}s  Normal  Pulled  pod/{pod}  Container image \"ghcr.io/acme/{svc()}:1.{R.randint(0, 30)}.{R.randint(0, 9)}\" already present on machine",
                     f"{R.randint(1, 9)}m  Warning  BackOff  pod/{pod}  Back-off restarting failed container app in pod {pod}_default({ruuid()})"])
    if k == 3:
        return json.dumps({"name": pick(["HTTP GET", "db.query", "llm.call"]), "trace_id": rhex(32), "span_id": rhex(16),
                           "parent_span_id": rhex(16), "start_time": ts_iso(), "duration_ns": R.randint(10**5, 10**9),
                           "status": "OK"})
    if k == 4:
        fp = base64.b64encode(rbytes(32)).decode().rstrip("=")
        return (f"{t.strftime('%b %d %H:%M:%S')} web-{R.randint(1, 9)} sshd[{R.randint(1000, 65000)}]: Accepted publickey for deploy "
                f"from {ip_doc()} port {R.randint(30000, 65000)} ssh2: ED25519 SHA256:{fp}")
    if k == 5:
        return (f"{t.strftime('%Y-%m-%d %H:%M:%S')}.{R.randint(0, 999):03d} UTC [{R.randint(100, 9999)}] LOG:  checkpoint complete: "
                f"wrote {R.randint(10, 9000)} buffers ({R.uniform(0, 9):.1f}%); 0 WAL file(s) added, 0 removed, {R.randint(0, 9)} recycled")
    if k == 6:
        return json.dumps({"event": pick(["page_view", "add_to_cart", "signup_started", "search"]), "anonymous_id": ruuid(),
                           "session_id": rs(16, LOWER + DIGITS), "timestamp": ts_iso(),
                           "properties": {"path": pick(PATHS).split("?")[0], "referrer": pick(["google", "direct", "newsletter"])}})
    if k == 7:
        return pick([f"##[group]Run actions/checkout@v4\nwith:\n  repository: acme/{svc()}\n  fetch-depth: 1\n##[endgroup]",
                     f"Syncing repository: acme/{svc()}\nGetting Git version info\nTemporarily overriding HOME='/home/runner/work/_temp/{ruuid()}'"])
    if k == 8:
        return pick([f"#{R.randint(3, 9)} [{R.randint(1, 5)}/6] RUN pip install --no-cache-dir -r requirements.txt",
                     f"#{R.randint(9, 14)} exporting layers {R.uniform(0.1, 9):.1f}s done\n#{R.randint(9, 14)} writing image sha256:{rhex(64)} done"])
    if k == 9:
        return (f"{ts_log()} INFO  [http-nio-8080-exec-{R.randint(1, 20)}] c.a.o.OrderController - order {R.randint(10000, 99999)} "
                f"created in {R.randint(3, 400)}ms")
    if k == 10:
        return json.dumps({"model": pick(MODELS), "prompt_tokens": R.randint(20, 9000), "completion_tokens": R.randint(5, 2000),
                           "latency_ms": R.randint(200, 9000), "request_id": "req_" + rhex(32), "cached": pick([True, False])})
    if k == 11:
        return json.dumps({"id": "evt_" + rs(24), "type": pick(["charge.succeeded", "invoice.paid", "customer.updated"]),
                           "data": {"object": {"id": pick(["ch_", "in_", "cus_"]) + rs(24), "amount": R.randint(100, 99999), "currency": "usd"}},
                           "livemode": True})
    if k == 12:
        return (f"[{ts_log()}: INFO/MainProcess] Task app.tasks.{pick(['send_digest', 'reindex', 'sync_crm'])}[{ruuid()}] "
                f"succeeded in {R.uniform(0.01, 9):.3f}s: None")
    if k == 13:
        return (f"at=info method=GET path=\"{pick(PATHS)}\" host={svc()}.herokuapp.com request_id={ruuid()} fwd=\"{ip_doc()}\" "
                f"dyno=web.{R.randint(1, 4)} connect=0ms service={R.randint(1, 900)}ms status=200 bytes={R.randint(100, 90000)} protocol=https")
    return (f"{ts_iso()} {pick(['INFO', 'WARN'])} {svc()} cache stats hits={R.randint(0, 10**6)} misses={R.randint(0, 10**5)} "
            f"evictions={R.randint(0, 999)} mem={R.randint(10, 4000)}MiB")


# ---------------------------------------------------------------------------------------------
# PII
# ---------------------------------------------------------------------------------------------
PUBLIC_MAIL = ["gmail.com", "outlook.com", "yahoo.co.uk", "qq.com", "163.com", "proton.me", "icloud.com", "gmx.de", "hotmail.fr"]
CORP_MAIL = ["acme-corp.com", "northwind.io", "globex.co", "initech.net", "umbrella-health.org", "contoso.de", "hooli.xyz"]


def email() -> str:
    f, l = pick(FIRST), pick(LAST)
    if R.random() < 0.5:
        return pick([f"{f}.{l}", f"{f[0]}{l}", f"{f}_{l}{R.randint(1, 99)}", f"{f}{l}{R.randint(1970, 2005)}",
                     f"{f}.{l}+{pick(['news', 'shop', 'test'])}"]) + "@" + pick(PUBLIC_MAIL)
    return pick([f"{f}.{l}", f"{f[0]}.{l}", f"{f}"]) + "@" + pick(CORP_MAIL)


# Area codes in service (a number in an unassigned area code is not a phone number anyone has).
US_AREAS = [201, 202, 206, 212, 213, 214, 305, 310, 312, 313, 404, 408, 415, 425, 469, 503, 512, 602, 612, 615, 617,
            646, 650, 702, 704, 713, 718, 720, 773, 801, 808, 818, 858, 917, 949, 971]


def us_area() -> int:
    return pick(US_AREAS)


def us_exchange() -> int:
    while True:
        e = R.randint(200, 999)
        if e % 100 != 11:
            return e


def phone_us(style: str) -> str:
    a, e = us_area(), us_exchange()
    n = R.randint(0, 9999)
    return {"paren": f"({a}) {e}-{n:04d}", "dash": f"{a}-{e}-{n:04d}", "dot": f"{a}.{e}.{n:04d}"}[style]


def phone_e164() -> str:
    return pick([
        lambda: f"+44 20 7946 {R.randint(0, 999):04d}", lambda: f"+44 161 496 {R.randint(0, 999):04d}",
        lambda: f"+44 7{pick(['4', '8'])}{R.randint(0, 99):02d} {R.randint(0, 999999):06d}",
        lambda: f"+1 {us_area()} {us_exchange()} {R.randint(0, 9999):04d}", lambda: f"+1-{us_area()}-{us_exchange()}-{R.randint(0, 9999):04d}",
        lambda: f"+49 30 {R.randint(10000000, 99999999)}", lambda: f"+49 151 {R.randint(10000000, 99999999)}",
        lambda: f"+33 6 {R.randint(10, 38)} {R.randint(10, 99)} {R.randint(10, 99)} {R.randint(10, 99)}",
        lambda: f"+86{cn_mobile()}", lambda: f"+86 {cn_mobile()}", lambda: f"+81 3-{R.randint(1000, 9999)}-{R.randint(1000, 9999)}",
        lambda: f"+61 2 {R.randint(8000, 9999)} {R.randint(1000, 9999)}", lambda: f"+91 98{R.randint(100, 999)} {R.randint(10000, 99999)}",
        lambda: f"+34 6{R.randint(10, 99)} {R.randint(100, 999)} {R.randint(100, 999)}", lambda: f"+31 6 {R.randint(10000000, 59999999)}",
    ])()


CN_MOBILE_PREFIX = [str(p) for p in list(range(130, 140)) + [150, 151, 152, 153, 155, 156, 157, 158, 159, 166, 176, 177, 178]
                    + list(range(180, 190)) + [198, 199]]


def cn_mobile() -> str:
    return pick(CN_MOBILE_PREFIX) + rs(8, DIGITS)


def person() -> str:
    return f"{pick(FIRST).capitalize()} {pick(LAST).capitalize()}"


def pii_ctx(value: str, label: str) -> str:
    """A random context for a PII value; label is a human field name ('email', 'phone', ...)."""
    key = label.lower().replace(" ", "_")
    return pick([
        lambda: f"{label}: {value}",
        lambda: json.dumps({"name": person(), key: value, "plan": pick(["free", "pro", "team"])}, ensure_ascii=False),
        lambda: f"{ts_iso()} INFO [{pick(['crm-sync', 'signup', 'billing', 'support'])}] updated customer {R.randint(1000, 99999)} {key}={value}",
        lambda: f"id,name,{key},created\n{R.randint(1, 9999)},{person()},{value},{rtime().date()}",
        lambda: json.dumps({"role": "user", "content": f"hi, my {label.lower()} is {value}, please update my account"}, ensure_ascii=False),
        lambda: f"customer:\n  name: {person()}\n  {key}: \"{value}\"",
        lambda: f"INSERT INTO customers (name, {key}) VALUES ('{person()}', '{value}');",
    ])()


def gen_pii():
    # E-mail addresses.
    for i in range(35):
        e = email()
        t = pick([
            lambda: pii_ctx(e, "Email"), lambda: pii_ctx(e, "email"),
            lambda: f"From: {person()} <{e}>\nTo: support@{pick(CORP_MAIL)}\nSubject: refund for order #{R.randint(10000, 99999)}",
            lambda: f"Reply-To: {e}", lambda: f"{ts_iso()} WARN [mailer] bounce for {e}: 550 mailbox unavailable",
            lambda: f"<a href=\"mailto:{e}\">Contact us</a>",
        ])()
        add_pii(t, "email")
    # Phones.
    for _ in range(18):
        p = phone_e164()
        add_pii(pick([lambda: pii_ctx(p, "Phone"), lambda: f"call me on {p} tomorrow", lambda: f"tel: {p}",
                      lambda: json.dumps({"contact": {"phone": p.replace(' ', '') if R.random() < 0.5 else p}}),
                      lambda: f"WhatsApp {p} (after 6pm)"])(), "phone-e164")
    for i in range(15):
        p = phone_us(["paren", "dash", "dot"][i % 3])
        add_pii(pick([lambda: pii_ctx(p, "Phone"), lambda: f"Customer phone: {p}", lambda: f"call back at {p} re: ticket {R.randint(1000, 9999)}",
                      lambda: f"Mobile: {p}", lambda: f"{person()}, {p}, Springfield, IL"])(), "phone-us")
    for _ in range(12):
        m = cn_mobile()
        add_pii(pick([lambda: f"手机：{m}", lambda: f"手机号: {m}", lambda: f"联系电话：{m}（工作日）",
                      lambda: json.dumps({"姓名": "张伟", "手机": m}, ensure_ascii=False), lambda: f"phone: {m}",
                      lambda: f"mobile={m}", lambda: f"收货人：李娜  手机 {m}  地址：上海市徐汇区"])(), "phone-cn-mobile")

    # Payment cards.
    def card_text(num: str) -> str:
        return pick([
            lambda: f"card: {group_card(num, ' ')}", lambda: f"Card number {group_card(num, '-')}",
            lambda: json.dumps({"card_number": group_card(num, pick([' ', '-'])), "exp": f"{R.randint(1, 12):02d}/{R.randint(26, 30)}"}),
            lambda: f"cc_number={num}", lambda: f"credit card {num} exp {R.randint(1, 12):02d}/{R.randint(26, 30)}",
            lambda: json.dumps({"role": "user", "content": f"my card {group_card(num, ' ')} was charged twice"}),
            lambda: f"{ts_iso()} ERROR [payments] charge declined pan={group_card(num, ' ')}",
            lambda: f"卡号：{group_card(num, ' ')}",
        ])()

    for _ in range(10):
        n = card_number("4", 16)
        assert luhn_ok(n)
        add_pii(card_text(n), "card-visa")
    for i in range(10):
        pre = str(R.randint(51, 55)) if i % 2 == 0 else str(R.randint(2221, 2720))
        n = card_number(pre, 16)
        assert luhn_ok(n)
        add_pii(card_text(n), "card-mastercard")
    for _ in range(8):
        n = card_number(pick(["34", "37"]), 15)
        assert luhn_ok(n)
        add_pii(card_text(n), "card-amex")

    # IBANs.
    for country in IBAN_COUNTRIES:
        for _ in range(4):
            v = iban(country)
            assert iban_ok(v)
            shown = group4(v) if R.random() < 0.5 else v
            add_pii(pick([lambda: f"IBAN: {shown}", lambda: json.dumps({"beneficiary": person(), "iban": shown, "bic": pick(IBAN_BIC[country])}),
                          lambda: f"Please transfer the deposit to {shown} (ref {R.randint(1000, 9999)})",
                          lambda: f"iban={shown}", lambda: f"Bankverbindung: {shown}"])(), f"iban-{country.lower()}")

    # US SSNs.
    for _ in range(18):
        s = ssn()
        assert ssn_ok(s)
        add_pii(pick([lambda: f"SSN: {s}", lambda: json.dumps({"name": person(), "ssn": s, "dob": str(dt.date(1960, 1, 1) + dt.timedelta(days=R.randint(0, 15000)))}),
                      lambda: f"social security number {s}", lambda: f"employee,{person()},{s},full-time",
                      lambda: json.dumps({"role": "user", "content": f"my SSN is {s}, can you fill in the W-4?"}),
                      lambda: f"{ts_iso()} DEBUG [hr-sync] payload ssn={s}"])(), "ssn")

    # Chinese resident identity numbers.
    for _ in range(18):
        c = cn_id()
        assert cn_id_ok(c)
        add_pii(pick([lambda: f"身份证号：{c}", lambda: f"身份证号码 {c}", lambda: json.dumps({"姓名": "王芳", "身份证": c}, ensure_ascii=False),
                      lambda: f"id_card={c}", lambda: f"证件号码：{c}  有效期：长期", lambda: f"ID number: {c}"])(), "cn-resident-id")


def pneg(text: str, kind: str) -> None:
    add_pii(text, kind, "none")


def gen_pii_negatives():
    for _ in range(18):
        pre = pick(["4", str(R.randint(51, 55)), "37"])
        n = card_number(pre, 15 if pre == "37" else 16, valid=False)
        assert not luhn_ok(n)
        pneg(pick([lambda: f"card: {group_card(n, ' ')}", lambda: f"card_number={n}", lambda: f"Card number {group_card(n, '-')}",
                   lambda: json.dumps({"card_number": group_card(n, ' ')})])(), "card-luhn-invalid")
    for _ in range(12):
        pre = pick(["0", "1", "7", "90", "91", "95"])
        n = card_number(pre, 16)
        assert luhn_ok(n)
        pneg(pick([lambda: f"card: {group_card(n, ' ')}", lambda: f"tracking {group_card(n, ' ')}", lambda: f"gift card {n}",
                   lambda: f"loyalty card no. {group_card(n, '-')}"])(), "card-bad-issuer")
    for _ in range(15):
        v = iban(pick(IBAN_COUNTRIES), valid=False)
        assert not iban_ok(v)
        pneg(pick([lambda: f"IBAN: {group4(v)}", lambda: f"iban={v}", lambda: json.dumps({"iban": v})])(), "iban-bad-check")
    for how in ["000", "666", "9xx", "group00", "serial0000"] * 4:
        s = ssn(valid=False, how=how)
        assert not ssn_ok(s)
        pneg(pick([lambda: f"SSN: {s}", lambda: json.dumps({"ssn": s}), lambda: f"social security number {s}"])(), "ssn-invalid")
    for _ in range(12):
        c = cn_id(valid=False)
        assert not cn_id_ok(c)
        pneg(pick([lambda: f"身份证号：{c}", lambda: f"id_card={c}", lambda: json.dumps({"身份证": c}, ensure_ascii=False)])(), "cn-id-bad-check")
    for _ in range(5):
        c = cn_id(bad_date=True)
        assert not cn_id_ok(c)
        pneg(pick([lambda: f"身份证号：{c}", lambda: f"id_card={c}"])(), "cn-id-bad-date")

    for _ in range(15):
        t = rtime()
        pneg(pick([lambda: f"created_at: {t.isoformat()}", lambda: f"date={t.strftime('%Y-%m-%d')}", lambda: f"Last login: {t.strftime('%a %b %d %H:%M:%S %Y')}",
                   lambda: f"ts={int(t.timestamp())}", lambda: f"{t.strftime('%d/%m/%Y')} - invoice issued",
                   lambda: json.dumps({"timestamp_ms": int(t.timestamp() * 1000)}), lambda: f"backup-{t.strftime('%Y%m%d-%H%M%S')}.tar.gz"])(), "date-time")
    for _ in range(12):
        pneg(pick([lambda: f"version {R.randint(0, 3)}.{R.randint(0, 40)}.{R.randint(0, 20)}", lambda: f"Chrome/124.0.{R.randint(6000, 6999)}.{R.randint(10, 200)}",
                   lambda: f"kernel 6.{R.randint(1, 9)}.{R.randint(0, 40)}-{R.randint(100, 999)}-generic", lambda: f"v{R.randint(1, 3)}.{R.randint(0, 30)}.{R.randint(0, 9)}-rc.{R.randint(1, 5)}+build.{R.randint(100, 9999)}",
                   lambda: f"Build 10.0.{R.randint(19000, 26000)}.{R.randint(100, 4000)}", lambda: f"openssl 3.0.{R.randint(2, 14)} {R.randint(1, 28)} Jan 2024"])(), "version")
    for _ in range(12):
        pneg(pick([lambda: f"order ORD-{R.randint(2020, 2025)}-{R.randint(0, 999999):06d} shipped", lambda: f"Order #{R.randint(10**7, 10**9)}",
                   lambda: f"invoice INV-{R.randint(10000, 99999)}-{rs(4, UPPER)}", lambda: json.dumps({"order_id": R.randint(10**9, 10**12), "status": "paid"}),
                   lambda: f"PO number: {R.randint(4500000000, 4599999999)}", lambda: f"ticket JIRA-{R.randint(100, 9999)}"])(), "order-id")
    for _ in range(12):
        pneg(pick([lambda: f"client_ip={ip_doc()}", lambda: f"listening on {ip_doc()}:{R.randint(1024, 65535)}", lambda: f"nameserver {ip_doc()}",
                   lambda: f"X-Forwarded-For: {ip_doc()}, {ip_doc()}", lambda: f"inet6 fe80::{rhex(4)}:{rhex(4)}:{rhex(4)}:{rhex(4)}/64 scope link",
                   lambda: f"route add -net 10.{R.randint(0, 255)}.0.0/16 gw {ip_doc()}"])(), "ip-address")
    for t in ["background: url(logo@2x.png) no-repeat;", '<img src="icon@3x.webp" srcset="icon@2x.webp 2x">',
              "git clone git@github.com:org/repo.git", "git remote add origin git@gitlab.com:acme/platform/api.git",
              "npm install @types/node@20.11.5", "npx create-react-app@5.0.1 my-app", '"avatar": "https://cdn.acme.io/u/42/avatar@2x.jpg"',
              f"docker pull nginx@sha256:{rhex(64)}", "uses: actions/setup-node@v4", "ssh deploy@10.0.4.12 -p 2222",
              "@media screen and (max-width: 600px)", "pnpm add -D typescript@5.4.5",
              "sprite@1.5x.png", "scp ./dist/app.tar.gz ci@build-01:/srv/releases/", "yarn add lodash@^4.17.21"]:
        pneg(t, "email-like")
    for _ in range(10):
        pneg(pick([lambda: f"DATABASE_URL=postgres://{pick(USERS)}:{url_password()}@{pick(HOSTS)}:5432/app",
                   lambda: f"redis://:{url_password()}@cache.internal:6379/0", lambda: f"amqp://svc:{url_password()}@rabbitmq:5672/",
                   lambda: f"https://{pick(USERS)}:{url_password()}@registry.internal/v2/"])(), "credential-uri")
    for _ in range(15):
        pneg(pick([lambda: f"bytes_sent={us_area()}{us_exchange()}{R.randint(1000, 9999)}", lambda: f"seq={cn_mobile()}",
                   lambda: f"elapsed_ns={R.randint(10**9, 10**11)}", lambda: json.dumps({"followers": R.randint(10**9, 10**10)}),
                   lambda: f"offset {R.randint(10**9, 10**11)} committed", lambda: f"checksum {R.randint(10**9, 10**10)}",
                   lambda: f"disk usage: {R.randint(10**9, 10**11)} bytes"])(), "phone-like-number")
    for _ in range(10):
        pneg(pick([lambda: f"trace_id={rhex(32)}", lambda: f"commit {rhex(40)}", lambda: f"span {rhex(16)} ended",
                   lambda: f"object_id: {rhex(24)}", lambda: f"etag: \"{rhex(32)}\""])(), "hex-id")
    for _ in range(10):
        pneg(pick([lambda: f"request_id={ruuid()}", lambda: json.dumps({"user_id": ruuid(), "event": "login"}),
                   lambda: f"correlation: {ruuid()}"])(), "uuid")
    for _ in range(20):
        pneg(benign_log(), "benign-log")


# ---------------------------------------------------------------------------------------------
def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.normpath(os.path.join(here, "..", "..", "crates", "leakhound-classify", "tests", "data", "eval"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=default_out, help="output directory (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    R.seed(args.seed)

    gen_vendor_secrets()
    gen_aws()
    gen_gcp()
    gen_azure()
    gen_webhooks()
    gen_jwt()
    gen_pem()
    gen_uris()
    gen_http_auth()
    gen_generic()
    gen_secret_negatives()
    for _ in range(115):
        neg(benign_log(), "benign-log")

    gen_pii()
    gen_pii_negatives()

    os.makedirs(args.out, exist_ok=True)
    for name, rows, prefix in (("secrets.jsonl", SECRETS, "s"), ("pii.jsonl", PII, "p")):
        R.shuffle(rows)
        path = os.path.join(args.out, name)
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            for i, row in enumerate(rows, 1):
                rec = {"id": f"{prefix}{i:04d}", "text": row["text"], "label": row["label"], "kind": row["kind"]}
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        by_label = Counter(r["label"] for r in rows)
        print(f"{path}: {len(rows)} samples ({', '.join(f'{k} {v}' for k, v in sorted(by_label.items()))})")
        kinds = Counter((r["label"], r["kind"]) for r in rows)
        for label in sorted(by_label, key=lambda x: x == "none"):
            items = sorted((k, v) for (lab, k), v in kinds.items() if lab == label)
            print(f"  {label}: " + ", ".join(f"{k} {v}" for k, v in items))
    return 0


if __name__ == "__main__":
    sys.exit(main())
