#!/usr/bin/env python3
"""Deterministic benchmark corpus for `leakhound classify` and peer secret scanners.

Writes realistic mixed text (server logs, LLM chat rows, config files, analytics
CSV) into --out, about --mb megabytes (10^6 bytes) in files of roughly 8 MB
(config files are small, as in real trees). A modest, deterministic density of
fake secrets, PII and operational metadata is planted, plus hard negatives
(documentation placeholders, masked keys, public keys, digests, UUIDs, test
card numbers). Nothing here is a real credential: every token is drawn from a
seeded random.Random.

The ground truth (one JSON object per planted item: file, line, label, kind,
value) goes to --truth (default: OUT.truth.jsonl, beside the corpus directory,
so that scanners do not see it).

Python 3.11 standard library only.

    python3 scripts/bench/gen_corpus.py --out bench-out/corpus --mb 200 --seed 42
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import string
import sys
import time
import zlib
from collections import Counter

MB = 1_000_000
FILE_TARGET = 8 * MB
FLUSH_AT = 1 << 20

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
B64STD = ALNUM + "/+"
# Password characters that need no quoting in .env, YAML, INI, JSON, CSV or URI userinfo.
PWCHARS = ALNUM + "!%*_-+^~"

# Byte share of each kind of content.
SHARES = [
    ("nginx", 0.12),
    ("jsonlog", 0.14),
    ("applog", 0.08),
    ("k8s", 0.06),
    ("chat", 0.22),
    ("transcript", 0.08),
    ("config", 0.10),
    ("csv", 0.20),
]

# Mean bytes between planted items, per content kind: (secret, pii, ops, negative).
# Overall this comes to about one secret per 20 KB.
RATES = {
    "nginx": (40_000, 25_000, 12_000, 25_000),
    "jsonlog": (40_000, 20_000, 10_000, 20_000),
    "applog": (40_000, 30_000, 10_000, 25_000),
    "k8s": (40_000, 60_000, 8_000, 25_000),
    "chat": (15_000, 8_000, 15_000, 12_000),
    "transcript": (15_000, 8_000, 15_000, 12_000),
    "config": (5_000, 20_000, 6_000, 6_000),
    "csv": (200_000, 40_000, 100_000, 30_000),
}

# Kinds whose rendering cannot hold a multi-line value (PEM).
SINGLE_LINE = {"nginx", "csv", "ini", "properties", "k8s"}

# Mirrors leakhound's placeholder filter: planted *real-looking* secrets must not trip it.
_PLACEHOLDER_WORDS = (
    "example", "xxxx", "your_", "your-", "yourkey", "placeholder", "changeme", "change_me",
    "redacted", "dummy", "sample", "insert", "replace", "<", ">", "${", "{{", "}}", "***",
    "...", "%s", "0123456789", "abcdefghij", "1234567890", "notasecret", "not_a_real", "fake",
    "test",
)


def placeholderish(s: str) -> bool:
    low = s.lower()
    if any(w in low for w in _PLACEHOLDER_WORDS):
        return True
    run = 1
    for a, b in zip(s, s[1:]):
        run = run + 1 if a == b else 1
        if run >= 5:
            return True
    return False


class Item:
    __slots__ = ("label", "kind", "value", "key", "needle")

    def __init__(self, label: str, kind: str, value: str, key: str, needle: str | None = None):
        self.label = label  # secret | pii | ops | negative
        self.kind = kind
        self.value = value
        self.key = key  # conventional variable / field name, UPPER_SNAKE
        self.needle = needle or value  # verbatim substring used to find the line

    @property
    def multiline(self) -> bool:
        return "\n" in self.value


# --------------------------------------------------------------------------------------------
# Text banks
# --------------------------------------------------------------------------------------------

SERVICES = [
    "orders-api", "payments-api", "checkout", "user-service", "search", "inventory",
    "notification-worker", "auth-gateway", "recommendation", "billing", "media-proxy",
    "shipping", "catalog", "reporting-etl", "chat-backend", "llm-router",
]
NAMESPACES = ["default", "prod", "staging", "payments", "data", "ml", "monitoring", "ingress-nginx"]
PUBLIC_FIRST_OCTETS = [23, 31, 34, 37, 45, 52, 66, 73, 81, 89, 94, 103, 110, 117, 125, 139,
                       151, 176, 185, 203, 212, 217]
HTTP_PATHS = [
    "/api/v1/orders/{n}", "/api/v1/orders", "/api/v2/users/{uuid}/profile", "/api/v1/cart/{n}/items",
    "/static/js/app.{h8}.js", "/static/css/main.{h8}.css", "/health", "/healthz", "/metrics",
    "/search?q={word}&page={p}", "/login", "/logout", "/graphql", "/api/v1/products/{n}",
    "/images/{h8}.webp", "/favicon.ico", "/robots.txt", "/api/v1/recommendations?user={n}&limit=20",
    "/v1/chat/completions", "/api/v1/sessions/{uuid}", "/wp-login.php", "/.git/config",
    "/api/v1/invoices/{n}/pdf", "/sitemap.xml", "/api/v1/reviews?product={n}&sort=recent",
]
WORDS = [
    "shoes", "laptop", "coffee", "garden", "chair", "headphones", "camera", "bicycle", "jacket",
    "printer", "kettle", "monitor", "backpack", "lamp", "tent", "watch", "keyboard", "novel",
    "blender", "sofa", "guitar", "router", "charger", "mattress", "sunglasses", "drone",
]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.6167.164 Mobile Safari/537.36",
    "curl/8.5.0", "python-requests/2.31.0", "Go-http-client/1.1", "kube-probe/1.29",
    "Googlebot/2.1 (+http://www.google.com/bot.html)", "okhttp/4.12.0",
    "Prometheus/2.49.1", "Apache-HttpClient/4.5.14 (Java/17.0.10)",
]
REFERERS = ["-", "-", "-", "https://www.google.com/", "https://shop.acme-corp.com/",
            "https://shop.acme-corp.com/cart", "https://m.facebook.com/", "https://duckduckgo.com/"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

LOG_MSGS = [
    "request completed", "cache miss for key product:{n}", "cache hit for key session:{h8}",
    "order {n} created", "payment intent {h8} confirmed", "user {n} logged in",
    "retrying upstream call attempt={p}", "rate limit window reset", "published event order.created",
    "consumer lag is {n} messages", "scheduled job nightly-report finished in {p}s",
    "feature flag new_checkout evaluated to true", "slow query detected duration_ms={n}",
    "websocket connection closed code=1000", "token refreshed for client {uuid}",
    "batch of {p} records flushed", "GC pause 12ms", "connection pool size=20 idle={p}",
    "validation failed: field 'quantity' must be positive", "upstream responded 503, falling back",
    "starting server on :8080", "loaded {p} feature flags", "received SIGTERM, draining connections",
]
LOGGERS = ["app.http", "app.db", "app.cache", "app.worker", "app.auth", "app.billing",
           "uvicorn.access", "sqlalchemy.engine", "celery.worker", "kafka.consumer"]
JAVA_PKGS = ["com.acme.orders", "com.acme.payments", "com.acme.users", "com.acme.search",
             "org.springframework.web.servlet", "org.hibernate.engine", "io.netty.channel"]
JAVA_CLASSES = ["OrderService", "PaymentController", "UserRepository", "SearchIndexer",
                "DispatcherServlet", "SessionImpl", "AbstractChannelHandlerContext",
                "KafkaListenerContainer", "InvoiceRenderer", "RetryTemplate"]
JAVA_METHODS = ["process", "handle", "doDispatch", "invoke", "execute", "findById", "save",
                "render", "lambda$run$0", "onMessage", "apply", "call"]
JAVA_EXC = [
    "java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"name\" is null",
    "java.lang.IllegalStateException: Order {n} already settled",
    "java.net.SocketTimeoutException: Read timed out",
    "org.springframework.dao.DataIntegrityViolationException: could not execute statement",
    "java.util.concurrent.TimeoutException: Timeout waiting for task.",
    "com.fasterxml.jackson.databind.JsonMappingException: Unexpected end-of-input",
]
PY_EXC = [
    "KeyError: 'user_id'", "ValueError: invalid literal for int() with base 10: 'abc'",
    "TimeoutError: timed out", "ConnectionResetError: [Errno 104] Connection reset by peer",
    "TypeError: 'NoneType' object is not subscriptable",
    "sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) server closed the connection unexpectedly",
]
PY_FILES = ["/app/src/api/views.py", "/app/src/services/orders.py", "/app/src/db/session.py",
            "/usr/local/lib/python3.11/site-packages/httpx/_client.py",
            "/usr/local/lib/python3.11/site-packages/sqlalchemy/engine/base.py",
            "/app/src/workers/tasks.py"]
PY_FUNCS = ["get_order", "handle_request", "execute", "send", "_run_task", "dispatch", "refresh"]
K8S_REASONS = [
    ("Normal", "Scheduled", "Successfully assigned {ns}/{pod} to {node}"),
    ("Normal", "Pulling", "Pulling image \"registry.acme-corp.com/{svc}:{ver}\""),
    ("Normal", "Pulled", "Successfully pulled image \"registry.acme-corp.com/{svc}:{ver}\" in 2.1s"),
    ("Normal", "Created", "Created container {svc}"),
    ("Normal", "Started", "Started container {svc}"),
    ("Normal", "Killing", "Stopping container {svc}"),
    ("Warning", "BackOff", "Back-off restarting failed container {svc} in pod {pod}"),
    ("Warning", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503"),
    ("Normal", "ScalingReplicaSet", "Scaled up replica set {svc}-{h8} to {p}"),
    ("Warning", "FailedScheduling", "0/6 nodes are available: 6 Insufficient cpu."),
]

EN_PROMPTS = [
    "How do I reverse a linked list in Python?",
    "Write a SQL query that returns the top 5 customers by revenue last month.",
    "Explain the difference between TCP and UDP in simple terms.",
    "Can you summarize this article about climate policy in three bullet points?",
    "What's a good recipe for a quick vegetarian dinner?",
    "Translate 'the meeting is moved to Thursday' into French and German.",
    "Why does my React component re-render twice in development?",
    "Help me write a polite email declining a job offer.",
    "What are the pros and cons of Kubernetes for a small startup?",
    "Fix the bug in this function, it returns None sometimes.",
    "Plan a 3-day trip to Kyoto with a focus on temples and food.",
    "How do I configure nginx as a reverse proxy for a Node app?",
    "What is the time complexity of quicksort in the worst case?",
    "Generate five names for a coffee shop near a university.",
    "Explain how attention works in transformers.",
    "My Docker build is slow, how can I cache dependencies better?",
    "Write a haiku about autumn rain.",
    "What's the best way to store user sessions in Redis?",
    "How do I paginate results in a REST API?",
    "Rewrite this paragraph to sound more professional.",
    "Convert this JSON to a TypeScript interface.",
    "Give me a workout plan for beginners, three days a week.",
    "What does the error 'connection refused' mean when calling an API?",
    "How should I structure a Rust workspace with several crates?",
]
EN_SENTENCES = [
    "Sure, here is a step-by-step explanation.",
    "The main idea is to keep track of the previous node while you walk the list.",
    "This approach runs in linear time and uses constant extra memory.",
    "You can also use a window function, which is usually faster on large tables.",
    "TCP guarantees ordered delivery, while UDP trades reliability for lower latency.",
    "In development mode, React's StrictMode intentionally mounts components twice.",
    "Make sure the base image is pinned so that the layer cache stays valid.",
    "A common pattern is to store the session id in a cookie and the data in Redis with a TTL.",
    "Cursor-based pagination is more robust than offset pagination when rows are inserted.",
    "Here is a revised version that keeps your original meaning.",
    "Let me know if you want me to adjust the tone or the length.",
    "The worst case happens when the pivot is always the smallest or largest element.",
    "On day one, start early at Fushimi Inari before the crowds arrive.",
    "Attention lets each token weigh the relevance of every other token in the sequence.",
    "For a small team, a managed platform often costs less than running your own cluster.",
    "Check that the service is listening on the expected port and that no firewall blocks it.",
    "I would also add a unit test that covers the empty input case.",
    "Remember to warm up for five minutes and to rest one day between sessions.",
    "The function returns None because the else branch has no return statement.",
    "You could split the code into a library crate and a thin binary crate.",
    "Keep the proxy_pass directive inside the location block and set the Host header.",
    "That should be enough to get you started; feel free to ask follow-up questions.",
    "Note that this is an estimate and real numbers depend on your workload.",
    "If the problem persists, enable debug logging and share the output.",
]
ZH_PROMPTS = [
    "如何用 Python 反转一个链表？",
    "帮我写一个 SQL 查询，找出上个月消费最多的前五名客户。",
    "请用简单的语言解释 TCP 和 UDP 的区别。",
    "帮我把这篇关于气候政策的文章总结成三点。",
    "推荐一个适合工作日晚上做的简单素食菜谱。",
    "为什么我的 React 组件在开发模式下渲染了两次？",
    "帮我写一封礼貌地拒绝工作邀请的邮件。",
    "小公司用 Kubernetes 有哪些优缺点？",
    "这个函数有时候返回 None，帮我找找问题。",
    "规划一个三天的京都旅行，重点是寺庙和美食。",
    "怎么配置 nginx 反向代理到 Node 应用？",
    "快速排序最坏情况下的时间复杂度是多少？",
    "给大学附近的咖啡店起五个名字。",
    "请解释一下 Transformer 中的注意力机制。",
    "Docker 构建太慢了，怎么更好地缓存依赖？",
    "写一首关于秋雨的短诗。",
    "把这段话改写得更正式一些。",
    "调用接口时报错 connection refused 是什么意思？",
    "帮我制定一个每周三次的新手健身计划。",
    "如何在 Redis 里存储用户会话？",
]
ZH_SENTENCES = [
    "好的，下面是详细的步骤说明。",
    "核心思路是在遍历链表时记录前一个节点。",
    "这种方法的时间复杂度是线性的，只需要常数额外空间。",
    "也可以使用窗口函数，在大表上通常更快。",
    "TCP 保证按序可靠传输，而 UDP 用可靠性换取更低的延迟。",
    "在开发模式下，React 的 StrictMode 会故意挂载组件两次。",
    "请确保基础镜像的版本是固定的，这样层缓存才能生效。",
    "常见的做法是把会话 ID 放在 Cookie 里，把数据存在 Redis 中并设置过期时间。",
    "当有新数据插入时，基于游标的分页比基于偏移量的分页更稳定。",
    "下面是修改后的版本，保留了你原来的意思。",
    "如果需要调整语气或篇幅，请告诉我。",
    "第一天建议早点去伏见稻荷大社，避开人流高峰。",
    "注意力机制让每个词都能衡量序列中其他词的重要性。",
    "对小团队来说，托管平台往往比自建集群更省钱。",
    "请检查服务是否监听在正确的端口上，以及防火墙是否拦截了请求。",
    "我建议再补充一个覆盖空输入情况的单元测试。",
    "这个函数返回 None 是因为 else 分支没有 return 语句。",
    "以上内容应该能帮你入门，有问题欢迎继续提问。",
    "请注意这只是估算，实际数据取决于你的负载。",
    "如果问题仍然存在，请打开调试日志并把输出发给我。",
]
SYSTEM_PROMPTS = [
    "You are a helpful assistant.",
    "You are a senior software engineer. Answer concisely and include code when useful.",
    "你是一个乐于助人的中文助手。",
    "You are a customer support agent for Acme Corp. Be polite and never promise refunds.",
    "You are a translation engine. Output only the translation.",
]
CODE_SNIPPETS = [
    "```python\ndef reverse(head):\n    prev = None\n    while head:\n        head.next, prev, head = prev, head, head.next\n    return prev\n```",
    "```sql\nSELECT customer_id, SUM(amount) AS revenue\nFROM orders\nWHERE created_at >= date_trunc('month', now()) - interval '1 month'\nGROUP BY customer_id\nORDER BY revenue DESC\nLIMIT 5;\n```",
    "```nginx\nlocation / {\n    proxy_pass http://127.0.0.1:3000;\n    proxy_set_header Host $host;\n}\n```",
    "```dockerfile\nCOPY package.json package-lock.json ./\nRUN npm ci\nCOPY . .\n```",
    "```rust\nfn main() {\n    let v: Vec<u32> = (1..=10).collect();\n    println!(\"{}\", v.iter().sum::<u32>());\n}\n```",
    "```ts\ninterface Order {\n  id: number;\n  items: { sku: string; qty: number }[];\n  total: number;\n}\n```",
]
MODELS = ["gpt-4o-mini", "gpt-4o", "gpt-3.5-turbo", "claude-3-5-sonnet-20241022",
          "claude-3-haiku-20240307", "qwen-max", "deepseek-chat", "glm-4", "llama-3.1-70b-instruct"]

FIRST_NAMES = ["james", "maria", "wei", "li", "anna", "omar", "sofia", "lucas", "yuki", "fatima",
               "david", "chen", "olga", "mateo", "priya", "noah", "emma", "hiroshi", "zhang", "amir"]
LAST_NAMES = ["smith", "garcia", "wang", "liu", "muller", "khan", "rossi", "silva", "tanaka",
              "nguyen", "brown", "kowalski", "schmidt", "zhao", "patel", "dubois", "ivanova"]
EMAIL_DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "qq.com", "163.com", "icloud.com",
                 "proton.me", "acme-corp.com", "globex.io", "initech.co.uk", "web.de", "hotmail.fr"]
US_AREAS = [212, 213, 305, 312, 404, 415, 503, 512, 617, 646, 702, 713, 718, 773, 808, 917, 949, 972]
CN_REGIONS = ["110105", "310104", "440305", "510107", "330106", "320102", "420106", "610113"]
INTERNAL_HOSTS = [
    "{svc}-db-0{p}.prod.internal", "redis-master.cache.svc.cluster.local",
    "{svc}.{ns}.svc.cluster.local", "ip-10-{a}-{b}-{c}.ec2.internal", "vault.corp.internal",
    "kafka-{p}.kafka-headless.data.svc.cluster.local", "pg-primary.data.svc.cluster.local",
    "elastic-0{p}.logging.internal", "jenkins.build.internal", "{svc}-{h8}.us-east-1.compute.internal",
]
VAR_PATHS = [
    "/var/lib/postgresql/14/main", "/var/lib/mysql/ibdata1", "/var/lib/docker/volumes/{svc}_data/_data",
    "/var/lib/kubelet/pods/{uuid}/volumes", "/var/lib/redis/dump.rdb", "/var/lib/elasticsearch/nodes/0",
    "/etc/kubernetes/pki/apiserver.key", "/home/deploy/.ssh/id_rsa", "/root/.aws/credentials",
    "/var/lib/jenkins/secrets/master.key", "/opt/{svc}/config/application-prod.yml",
]


# --------------------------------------------------------------------------------------------
# Random values
# --------------------------------------------------------------------------------------------

class Rng(random.Random):
    def tok(self, n: int, alphabet: str = ALNUM) -> str:
        return "".join(self.choices(alphabet, k=n))

    def hexs(self, n: int) -> str:
        return "%0*x" % (n, self.getrandbits(4 * n))

    def uuid(self) -> str:
        h = "%032x" % self.getrandbits(128)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[self.getrandbits(2)]}{h[17:20]}-{h[20:32]}"

    def public_ip(self) -> str:
        return f"{self.choice(PUBLIC_FIRST_OCTETS)}.{self.randrange(256)}.{self.randrange(256)}.{self.randrange(1, 255)}"

    def private_ip(self) -> str:
        x = self.random()
        if x < 0.55:
            return f"10.{self.randrange(256)}.{self.randrange(256)}.{self.randrange(1, 255)}"
        if x < 0.8:
            return f"192.168.{self.randrange(256)}.{self.randrange(1, 255)}"
        return f"172.{self.randrange(16, 32)}.{self.randrange(256)}.{self.randrange(1, 255)}"

    def fill(self, template: str) -> str:
        if "{" not in template:
            return template
        return template.format_map(_Lazy(self))


class _Lazy(dict):
    """format_map source that draws placeholders on demand."""

    def __init__(self, r: Rng):
        super().__init__()
        self.r = r

    def __missing__(self, key):
        r = self.r
        if key == "n":
            return r.randrange(1000, 9_999_999)
        if key == "p":
            return r.randrange(1, 9)
        if key == "h8":
            return r.hexs(8)
        if key == "uuid":
            return r.uuid()
        if key == "word":
            return r.choice(WORDS)
        if key == "svc":
            return r.choice(SERVICES)
        if key == "ns":
            return r.choice(NAMESPACES)
        if key in ("a", "b", "c"):
            return r.randrange(256)
        if key == "ver":
            return f"v1.{r.randrange(40)}.{r.randrange(10)}"
        raise KeyError(key)


def luhn_complete(partial: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = ord(ch) - 48
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return partial + str((10 - total % 10) % 10)


def luhn_ok(number: str) -> bool:
    return luhn_complete(number[:-1]) == number


def b62_checksum(s: str) -> str:
    n = zlib.crc32(s.encode()) & 0xFFFFFFFF
    out = []
    for _ in range(6):
        out.append(B62[n % 62])
        n //= 62
    return "".join(reversed(out))


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def iban_from(cc: str, bban: str) -> str:
    digits = "".join(str(int(c, 36)) for c in bban + cc + "00")
    return f"{cc}{98 - int(digits) % 97:02d}{bban}"


# --------------------------------------------------------------------------------------------
# Planted items
# --------------------------------------------------------------------------------------------

class Planter:
    SECRET_WEIGHTS = {
        "openai_api_key": 14, "anthropic_api_key": 8, "aws_access_key": 10, "github_token": 10,
        "slack_token": 6, "slack_webhook": 2, "stripe_secret_key": 6, "jwt": 10,
        "pem_private_key": 4, "database_uri": 12, "password_assignment": 14,
        "google_api_key": 4, "huggingface_token": 4, "sendgrid_api_key": 2,
    }
    PII_WEIGHTS = {"email": 30, "phone": 22, "credit_card": 14, "iban": 10, "us_ssn": 8,
                   "cn_resident_id": 8}
    OPS_WEIGHTS = {"private_ip": 45, "internal_host": 35, "sensitive_path": 20}
    NEG_WEIGHTS = {
        "aws_example_key": 8, "sk_ellipsis": 6, "your_api_key": 8, "env_reference": 10,
        "masked_key": 10, "ssh_public_key": 6, "uuid_in_key_field": 10, "digest_in_key_field": 10,
        "test_card": 6, "example_email": 8, "placeholder_password": 8, "doc_database_uri": 6,
        "github_bad_checksum": 4, "luhn_invalid_number": 6, "certificate": 3, "repeated_x_token": 3,
    }

    def __init__(self, r: Rng):
        self.r = r
        self._tables = {}
        for label, w in (("secret", self.SECRET_WEIGHTS), ("pii", self.PII_WEIGHTS),
                         ("ops", self.OPS_WEIGHTS), ("negative", self.NEG_WEIGHTS)):
            self._tables[label] = (list(w), list(w.values()))

    def pick(self, label: str, single_line: bool) -> list[Item]:
        kinds, weights = self._tables[label]
        while True:
            kind = self.r.choices(kinds, weights)[0]
            items = getattr(self, f"_{label}_{kind}")()
            if not single_line or not any(it.multiline for it in items):
                return items

    # -- secrets ---------------------------------------------------------------------------
    def _real(self, make):
        while True:
            v = make()
            if not placeholderish(v):
                return v

    def _secret_openai_api_key(self):
        r = self.r
        x = r.random()
        if x < 0.7:
            v = self._real(lambda: "sk-proj-" + r.tok(74, URLSAFE) + "T3BlbkFJ" + r.tok(74, URLSAFE))
        elif x < 0.85:
            v = self._real(lambda: "sk-svcacct-" + r.tok(74, URLSAFE) + "T3BlbkFJ" + r.tok(74, URLSAFE))
        else:
            v = self._real(lambda: "sk-" + r.tok(20) + "T3BlbkFJ" + r.tok(20))
        return [Item("secret", "openai_api_key", v, "OPENAI_API_KEY")]

    def _secret_anthropic_api_key(self):
        r = self.r
        v = self._real(lambda: "sk-ant-api03-" + r.tok(93, URLSAFE) + "AA")
        return [Item("secret", "anthropic_api_key", v, "ANTHROPIC_API_KEY")]

    def _secret_aws_access_key(self):
        r = self.r
        kid = self._real(lambda: "AKIA" + r.tok(16, B32))
        sec = self._real(lambda: r.tok(40, B64STD))
        return [Item("secret", "aws_access_key_id", kid, "AWS_ACCESS_KEY_ID"),
                Item("secret", "aws_secret_access_key", sec, "AWS_SECRET_ACCESS_KEY")]

    def _secret_github_token(self):
        r = self.r
        if r.random() < 0.85:
            prefix = r.choices(["ghp_", "gho_", "ghs_", "ghu_"], [70, 10, 15, 5])[0]
            body = self._real(lambda: r.tok(30))
            v = prefix + body + b62_checksum(body)
        else:
            v = self._real(lambda: "github_pat_11" + r.tok(20, string.ascii_uppercase + string.digits)
                           + "_" + r.tok(59))
        return [Item("secret", "github_token", v, "GITHUB_TOKEN")]

    def _secret_slack_token(self):
        r = self.r
        v = self._real(lambda: f"xoxb-{r.randrange(10**10, 10**12)}-{r.randrange(10**11, 10**13)}-{r.tok(24)}")
        return [Item("secret", "slack_token", v, "SLACK_BOT_TOKEN")]

    def _secret_slack_webhook(self):
        r = self.r
        v = self._real(lambda: f"https://hooks.slack.com/services/T{r.tok(8, B32[:26] + '0123456789')}"
                       f"/B{r.tok(10, B32[:26] + '0123456789')}/{r.tok(24)}")
        return [Item("secret", "slack_webhook", v, "SLACK_WEBHOOK_URL")]

    def _secret_stripe_secret_key(self):
        r = self.r
        pre = r.choices(["sk_live_", "rk_live_"], [85, 15])[0]
        v = self._real(lambda: pre + r.tok(r.choice([24, 99])))
        return [Item("secret", "stripe_secret_key", v, "STRIPE_SECRET_KEY")]

    def _secret_jwt(self):
        r = self.r
        alg = r.choice(["HS256", "HS256", "RS256"])
        header = b64url(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
        iat = 1_704_000_000 + r.randrange(20_000_000)
        payload = {"sub": r.uuid(), "role": r.choice(["authenticated", "service_role", "admin", "user"]),
                   "iss": r.choice(["https://auth.acme-corp.com", "supabase", "https://login.globex.io/"]),
                   "iat": iat, "exp": iat + r.choice([3600, 86400, 31_536_000])}
        body = b64url(json.dumps(payload, separators=(",", ":")).encode())
        sig = self._real(lambda: r.tok(43 if alg == "HS256" else 342, URLSAFE))
        v = f"{header}.{body}.{sig}"
        return [Item("secret", "jwt", v, "AUTH_TOKEN")]

    def _secret_pem_private_key(self):
        r = self.r
        x = r.random()
        if x < 0.4:
            label = "RSA PRIVATE KEY"
            der = bytes.fromhex("308204a40201000282010100") + r.randbytes(1180)
            width = 64
        elif x < 0.7:
            label = "PRIVATE KEY"
            der = bytes.fromhex("308204bd020100300d06092a864886f70d0101010500048204a7") + r.randbytes(1190)
            width = 64
        elif x < 0.85:
            label = "EC PRIVATE KEY"
            der = (bytes.fromhex("30770201010420") + r.randbytes(32)
                   + bytes.fromhex("a00a06082a8648ce3d030107a14403420004") + r.randbytes(64))
            width = 64
        else:
            label = "OPENSSH PRIVATE KEY"
            der = b"openssh-key-v1\x00" + r.randbytes(384)
            width = 70
        b64 = base64.b64encode(der).decode()
        lines = [b64[i:i + width] for i in range(0, len(b64), width)]
        v = f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----"
        return [Item("secret", "pem_private_key", v, "PRIVATE_KEY", needle=f"-----BEGIN {label}-----")]

    def _password(self) -> str:
        r = self.r
        if r.random() < 0.7:
            return self._real(lambda: r.tok(r.randrange(16, 33), PWCHARS))
        w = r.choice(["Blue", "Falcon", "River", "Tiger", "Maple", "Orbit", "Cobalt", "Harbor"])
        w2 = r.choice(["Stone", "Light", "Moon", "Storm", "Fox", "Cedar", "Nova"])
        return self._real(lambda: f"{w}{w2}{r.randrange(10, 9999)}{r.choice('!%*_-+')}{r.tok(3)}")

    def _secret_database_uri(self):
        r = self.r
        user = r.choice(["app", "svc_orders", "postgres", "admin", "analytics_ro", "django",
                         "backend", "etl", "root", "billing"])
        pw = self._password()
        scheme = r.choices(["postgres", "postgresql", "mysql", "mongodb+srv", "redis", "amqp"],
                           [35, 20, 20, 12, 8, 5])[0]
        host = r.choice([
            r.fill("{svc}-db.prod.internal"), "pg-primary.data.svc.cluster.local", r.private_ip(),
            f"db-prod-{r.randrange(1, 4)}.c{r.tok(10, string.ascii_lowercase + string.digits)}.us-east-1.rds.amazonaws.com",
            f"cluster0.{r.tok(5, string.ascii_lowercase + string.digits)}.mongodb.net",
        ])
        db = r.choice(["orders", "app", "prod", "users", "analytics", "billing"])
        if scheme == "mongodb+srv":
            v = f"mongodb+srv://{user}:{pw}@{host}/{db}?retryWrites=true&w=majority"
        elif scheme == "redis":
            v = f"redis://:{pw}@{host}:6379/0"
        elif scheme == "amqp":
            v = f"amqp://{user}:{pw}@{host}:5672/{db}"
        elif scheme == "mysql":
            v = f"mysql://{user}:{pw}@{host}:3306/{db}"
        else:
            v = f"{scheme}://{user}:{pw}@{host}:5432/{db}" + r.choice(["", "?sslmode=require"])
        return [Item("secret", "database_uri", v, "DATABASE_URL")]

    def _secret_password_assignment(self):
        r = self.r
        key = r.choice(["DB_PASSWORD", "PASSWORD", "POSTGRES_PASSWORD", "REDIS_PASSWORD",
                        "SMTP_PASSWORD", "ADMIN_PASSWORD", "MYSQL_ROOT_PASSWORD", "LDAP_BIND_PASSWORD"])
        return [Item("secret", "password_assignment", self._password(), key)]

    def _secret_google_api_key(self):
        r = self.r
        v = self._real(lambda: "AIza" + r.tok(35, URLSAFE))
        return [Item("secret", "google_api_key", v, r.choice(["GOOGLE_API_KEY", "GEMINI_API_KEY"]))]

    def _secret_huggingface_token(self):
        r = self.r
        v = self._real(lambda: "hf_" + r.tok(34, string.ascii_letters))
        return [Item("secret", "huggingface_token", v, "HF_TOKEN")]

    def _secret_sendgrid_api_key(self):
        r = self.r
        v = self._real(lambda: "SG." + r.tok(22, URLSAFE) + "." + r.tok(43, URLSAFE))
        return [Item("secret", "sendgrid_api_key", v, "SENDGRID_API_KEY")]

    # -- PII -------------------------------------------------------------------------------
    def _pii_email(self):
        r = self.r
        f, l = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
        local = r.choice([f"{f}.{l}", f"{f}{l[0]}", f"{f}_{l}{r.randrange(1, 99)}", f"{l}.{f}", f"{f}{r.randrange(1970, 2005)}"])
        return [Item("pii", "email", f"{local}@{r.choice(EMAIL_DOMAINS)}", "EMAIL")]

    def _pii_phone(self):
        r = self.r
        x = r.random()
        if x < 0.45:
            a, e, n = r.choice(US_AREAS), r.randrange(201, 999), r.randrange(10000)
            if e == 555:
                e = 556
            v = r.choice([f"+1 {a}-{e}-{n:04d}", f"({a}) {e}-{n:04d}", f"{a}.{e}.{n:04d}", f"+1{a}{e}{n:04d}"])
        elif x < 0.75:
            p = f"1{r.choice('3456789')}{r.randrange(10)}"
            m, t = r.randrange(10000), r.randrange(10000)
            v = r.choice([f"+86 {p} {m:04d} {t:04d}", f"{p}{m:04d}{t:04d}", f"+86-{p}-{m:04d}-{t:04d}"])
        elif x < 0.9:
            v = f"+44 7{r.randrange(300, 999)} {r.randrange(100000, 999999)}"
        else:
            v = f"+49 15{r.randrange(10)} {r.randrange(10**7, 10**8)}"
        return [Item("pii", "phone", v, "PHONE")]

    def _pii_credit_card(self):
        r = self.r
        x = r.random()
        if x < 0.5:
            prefix, n = "4" + str(r.randrange(10**5)).zfill(5), 16
        elif x < 0.8:
            prefix, n = str(r.randrange(51, 56)) + str(r.randrange(10**4)).zfill(4), 16
        elif x < 0.9:
            prefix, n = r.choice(["34", "37"]) + str(r.randrange(10**4)).zfill(4), 15
        else:
            prefix, n = "6011" + str(r.randrange(100)).zfill(2), 16
        body = prefix + "".join(r.choices(string.digits, k=n - 1 - len(prefix)))
        num = luhn_complete(body)
        fmt = r.random()
        if n == 15:
            v = num if fmt < 0.5 else f"{num[:4]} {num[4:10]} {num[10:]}"
        elif fmt < 0.4:
            v = num
        elif fmt < 0.8:
            v = " ".join(num[i:i + 4] for i in range(0, 16, 4))
        else:
            v = "-".join(num[i:i + 4] for i in range(0, 16, 4))
        return [Item("pii", "credit_card", v, "CARD_NUMBER")]

    def _pii_iban(self):
        r = self.r
        cc = r.choice(["DE", "GB", "FR", "NL", "ES"])
        d = lambda k: "".join(r.choices(string.digits, k=k))  # noqa: E731
        bban = {
            "DE": lambda: d(18),
            "GB": lambda: r.choice(["NWBK", "BARC", "LOYD", "HBUK", "MIDL"]) + d(14),
            "FR": lambda: d(23),
            "NL": lambda: r.choice(["ABNA", "RABO", "INGB", "TRIO"]) + d(10),
            "ES": lambda: d(20),
        }[cc]()
        v = iban_from(cc, bban)
        if r.random() < 0.5:
            v = " ".join(v[i:i + 4] for i in range(0, len(v), 4))
        return [Item("pii", "iban", v, "IBAN")]

    def _pii_us_ssn(self):
        r = self.r
        area = r.randrange(1, 900)
        if area == 666:
            area = 667
        v = f"{area:03d}-{r.randrange(1, 100):02d}-{r.randrange(1, 10000):04d}"
        return [Item("pii", "us_ssn", v, "SSN")]

    def _pii_cn_resident_id(self):
        r = self.r
        y = r.randrange(1960, 2005)
        body = f"{r.choice(CN_REGIONS)}{y}{r.randrange(1, 13):02d}{r.randrange(1, 29):02d}{r.randrange(1000):03d}"
        w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        check = "10X98765432"[sum(int(c) * k for c, k in zip(body, w)) % 11]
        return [Item("pii", "cn_resident_id", body + check, "ID_NUMBER")]

    # -- ops -------------------------------------------------------------------------------
    def _ops_private_ip(self):
        return [Item("ops", "private_ip", self.r.private_ip(), "HOST")]

    def _ops_internal_host(self):
        return [Item("ops", "internal_host", self.r.fill(self.r.choice(INTERNAL_HOSTS)), "HOST")]

    def _ops_sensitive_path(self):
        return [Item("ops", "sensitive_path", self.r.fill(self.r.choice(VAR_PATHS)), "PATH")]

    # -- hard negatives --------------------------------------------------------------------
    def _negative_aws_example_key(self):
        items = [Item("negative", "aws_example_key", "AKIAIOSFODNN7EXAMPLE", "AWS_ACCESS_KEY_ID")]
        if self.r.random() < 0.6:
            items.append(Item("negative", "aws_example_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                              "AWS_SECRET_ACCESS_KEY"))
        return items

    def _negative_sk_ellipsis(self):
        return [Item("negative", "sk_ellipsis", self.r.choice(["sk-...", "sk-proj-...", "sk-ant-..."]),
                     self.r.choice(["OPENAI_API_KEY", "ANTHROPIC_API_KEY"]))]

    def _negative_your_api_key(self):
        r = self.r
        v = r.choice(["<YOUR_API_KEY>", "<your-api-key>", "YOUR_API_KEY_HERE", "<INSERT_TOKEN>",
                      "your-secret-key", "<API_KEY>"])
        return [Item("negative", "your_api_key", v, r.choice(["OPENAI_API_KEY", "API_KEY", "STRIPE_SECRET_KEY", "GITHUB_TOKEN"]))]

    def _negative_env_reference(self):
        r = self.r
        key = r.choice(["OPENAI_API_KEY", "DB_PASSWORD", "AWS_SECRET_ACCESS_KEY", "ANTHROPIC_API_KEY", "STRIPE_SECRET_KEY"])
        v = r.choice([f"${{{key}}}", f"${{{key}}}", f"{{{{ .Values.secrets.{key.lower()} }}}}", f"$({key})",
                      f"${{{{ secrets.{key} }}}}"])
        return [Item("negative", "env_reference", v, key)]

    def _negative_masked_key(self):
        r = self.r
        tail = r.tok(4)
        v = r.choice([f"sk-proj-****{tail}", f"sk-ant-api03-...{tail}", f"sk-****{tail}",
                      f"ghp_************************{tail}", "********", f"sk_live_••••{tail}"])
        return [Item("negative", "masked_key", v, r.choice(["OPENAI_API_KEY", "API_KEY", "STRIPE_SECRET_KEY"]))]

    def _negative_ssh_public_key(self):
        r = self.r
        if r.random() < 0.6:
            raw = b"\x00\x00\x00\x07ssh-rsa\x00\x00\x00\x03\x01\x00\x01\x00\x00\x01\x01\x00" + r.randbytes(256)
            v = "ssh-rsa " + base64.b64encode(raw).decode()
        else:
            raw = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + r.randbytes(32)
            v = "ssh-ed25519 " + base64.b64encode(raw).decode()
        v += f" {r.choice(FIRST_NAMES)}@{r.choice(['laptop', 'build-01', 'bastion', 'macbook-pro'])}"
        return [Item("negative", "ssh_public_key", v, "SSH_PUBLIC_KEY")]

    def _negative_uuid_in_key_field(self):
        r = self.r
        return [Item("negative", "uuid_in_key_field", r.uuid(),
                     r.choice(["CLIENT_ID", "API_KEY_ID", "REQUEST_ID", "TENANT_ID", "SESSION_ID"]))]

    def _negative_digest_in_key_field(self):
        r = self.r
        v = r.hexs(r.choice([40, 64, 64, 32]))
        return [Item("negative", "digest_in_key_field", v,
                     r.choice(["SHA256", "COMMIT_SHA", "TOKEN_FINGERPRINT", "CHECKSUM", "SECRET_HASH", "ETAG"]))]

    def _negative_test_card(self):
        v = self.r.choice(["4111 1111 1111 1111", "4242424242424242", "5555555555554444",
                           "4000 0000 0000 0002", "378282246310005", "4012888888881881"])
        return [Item("negative", "test_card", v, "CARD_NUMBER")]

    def _negative_example_email(self):
        r = self.r
        v = r.choice(["user@example.com", "admin@example.org", "jane.doe@example.net",
                      "noreply@example.com", f"{r.choice(FIRST_NAMES)}@example.com", "you@yourdomain.com"])
        return [Item("negative", "example_email", v, "EMAIL")]

    def _negative_placeholder_password(self):
        r = self.r
        v = r.choice(["changeme", "********", "<password>", "your-password-here", "${DB_PASSWORD}",
                      "REDACTED", "xxxxxxxx", "<redacted>"])
        return [Item("negative", "placeholder_password", v, r.choice(["DB_PASSWORD", "PASSWORD", "SMTP_PASSWORD"]))]

    def _negative_doc_database_uri(self):
        v = self.r.choice([
            "postgres://user:password@localhost:5432/mydb",
            "postgresql://postgres:postgres@localhost/test",
            "mysql://root:${MYSQL_ROOT_PASSWORD}@db:3306/app",
            "postgres://USER:PASSWORD@HOST:5432/DATABASE",
            "mongodb+srv://<username>:<password>@cluster0.example.mongodb.net/",
            "redis://localhost:6379/0",
        ])
        return [Item("negative", "doc_database_uri", v, "DATABASE_URL")]

    def _negative_github_bad_checksum(self):
        r = self.r
        return [Item("negative", "github_bad_checksum", "ghp_" + r.tok(36), "GITHUB_TOKEN")]

    def _negative_luhn_invalid_number(self):
        r = self.r
        while True:
            v = "4" + "".join(r.choices(string.digits, k=15))
            if not luhn_ok(v):
                return [Item("negative", "luhn_invalid_number", v, "ORDER_ID")]

    def _negative_certificate(self):
        r = self.r
        b64 = base64.b64encode(bytes.fromhex("3082030d308201f5a003020102") + r.randbytes(760)).decode()
        lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
        v = "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----"
        return [Item("negative", "certificate", v, "TLS_CERT", needle="-----BEGIN CERTIFICATE-----")]

    def _negative_repeated_x_token(self):
        v = self.r.choice(["ghp_" + "x" * 36, "sk-" + "x" * 48, "AKIA" + "X" * 16, "xoxb-xxxxxxxxxx-xxxxxxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx"])
        return [Item("negative", "repeated_x_token", v, "API_KEY")]


# --------------------------------------------------------------------------------------------
# Renderers shared by content kinds
# --------------------------------------------------------------------------------------------

def env_lines(items: list[Item]) -> str:
    out = []
    for it in items:
        if it.multiline:
            out.append(f'{it.key}="' + it.value.replace("\n", "\\n") + '"')
        else:
            out.append(f"{it.key}={it.value}")
    return "\n".join(out)


def yaml_lines(items: list[Item], indent: str) -> str:
    out = []
    for it in items:
        k = it.key.lower()
        if it.multiline:
            body = ("\n" + indent + "  ").join(it.value.split("\n"))
            out.append(f"{indent}{k}: |\n{indent}  {body}")
        elif it.value[:1] in "<$*{" or it.value.startswith("*"):
            out.append(f'{indent}{k}: "{it.value}"')
        else:
            out.append(f"{indent}{k}: {it.value}")
    return "\n".join(out)


PROSE_EN = {
    "secret": [
        "I keep getting 401 Unauthorized with this key: {v} - can you check what's wrong?",
        "here is my config:\n```\n{env}\n```\nwhy does the client fail to connect?",
        "Can you fix this code?\n```python\nimport os\nclient = Client(api_key=\"{v}\")\nprint(client.list())\n```",
        "my coworker sent me {v} for the staging account, is it safe to commit it?",
        "The deploy fails with 'invalid credentials'. Env:\n{env}",
    ],
    "pii": [
        "My email is {v}, please send the invoice there.",
        "You can reach me at {v} after 6pm.",
        "Please fill the form for me: name Wei Zhang, contact {v}.",
        "The customer record shows {v}, can you format it as a table?",
    ],
    "ops": [
        "our database at {v} keeps timing out since this morning",
        "the health check against {v} returns 502, what should I check first?",
        "disk usage under {v} is at 97%, how do I clean it up safely?",
    ],
    "negative": [
        "Set it in your shell first: `export {k}={v}` and then run the script again.",
        "In the documentation the sample value is {v}; replace it with your own.",
        "Your dashboard shows the key as {v}, which is expected because keys are masked.",
        "For reference, the value in the README is {v}.",
        "Use a config like this:\n```\n{env}\n```",
    ],
}
PROSE_ZH = {
    "secret": [
        "我的密钥是 {v}，为什么一直报 401 错误？",
        "这是我的配置文件：\n{env}\n帮我看看哪里有问题",
        "请帮我调试这段代码：\n```python\nAPI_KEY = \"{v}\"\n```",
        "同事给了我这个 token：{v}，可以直接写进代码里吗？",
    ],
    "pii": [
        "我的联系方式是 {v}，请尽快联系我。",
        "客户资料：张伟，{v}，请帮我整理成表格。",
        "请把发票寄给我，信息如下：{v}",
    ],
    "ops": [
        "内网数据库 {v} 从早上开始一直连接超时。",
        "服务 {v} 的健康检查返回 502，应该先查什么？",
    ],
    "negative": [
        "请先在终端里设置：`export {k}={v}`，然后重新运行。",
        "文档里的示例值是 {v}，请替换成你自己的。",
        "控制台里显示的是 {v}，密钥被隐藏是正常的。",
    ],
}


def prose(r: Rng, label: str, items: list[Item], zh: bool) -> str:
    tpl = r.choice((PROSE_ZH if zh else PROSE_EN)[label])
    if len(items) > 1 and "{env}" not in tpl:
        v = " ".join(f"{it.key.lower()}={it.value}" for it in items)
    else:
        v = items[0].value
    return tpl.format(v=v, k=items[0].key, env=env_lines(items))


# --------------------------------------------------------------------------------------------
# Content kinds
# --------------------------------------------------------------------------------------------

class Clock:
    def __init__(self, r: Rng, start: float):
        self.r = r
        self.t = start

    def tick(self, mean: float) -> float:
        self.t += self.r.expovariate(1.0 / mean)
        return self.t

    def iso(self) -> str:
        g = time.gmtime(self.t)
        return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (g[0], g[1], g[2], g[3], g[4], g[5], int(self.t * 1000) % 1000)

    def spaced(self) -> str:
        g = time.gmtime(self.t)
        return "%04d-%02d-%02d %02d:%02d:%02d,%03d" % (g[0], g[1], g[2], g[3], g[4], g[5], int(self.t * 1000) % 1000)

    def clf(self) -> str:
        g = time.gmtime(self.t)
        return "%02d/%s/%04d:%02d:%02d:%02d +0000" % (g[2], MONTHS[g[1] - 1], g[0], g[3], g[4], g[5])


class Content:
    """One output file's generator: filler() gives benign text, plant() embeds items."""

    name = "base"
    single_line = False

    def __init__(self, r: Rng, start: float):
        self.r = r
        self.clock = Clock(r, start)

    def header(self) -> str:
        return ""

    def filler(self) -> str:
        raise NotImplementedError

    def plant(self, label: str, items: list[Item]) -> str:
        raise NotImplementedError


class Nginx(Content):
    name = "nginx"
    single_line = True

    def _line(self, path: str, referer: str | None = None, ip: str | None = None, extra: str = "") -> str:
        r = self.r
        self.clock.tick(0.05)
        status = r.choices([200, 200, 200, 304, 301, 404, 401, 500, 502], [70, 10, 5, 5, 3, 4, 1, 1, 1])[0]
        method = "POST" if path.startswith(("/api/v1/orders", "/login", "/graphql", "/v1/chat")) and r.random() < 0.5 else "GET"
        ref = referer if referer is not None else r.choice(REFERERS)
        return (f'{ip or r.public_ip()} - - [{self.clock.clf()}] "{method} {path} HTTP/1.1" {status} '
                f'{r.randrange(0, 60000)} "{ref}" "{r.choice(USER_AGENTS)}" '
                f'rt={r.randrange(1, 2500) / 1000:.3f}{extra}\n')

    def filler(self) -> str:
        return self._line(self.r.fill(self.r.choice(HTTP_PATHS)))

    def plant(self, label, items):
        r = self.r
        if label == "ops":
            v = items[0].value
            if items[0].kind == "sensitive_path":
                return self._line(f"/download?file={v}")
            return self._line("/api/v1/status", referer=f"http://{v}:8080/admin/", extra=f" upstream={v}:8080")
        qs = "&".join(f"{it.key.lower()}={it.value}" for it in items)
        path = r.choice(["/api/v1/hooks/deliver?{q}", "/oauth/callback?state={h}&{q}", "/v1/export?{q}&format=csv",
                         "/unsubscribe?{q}", "/api/v2/auth?{q}"])
        return self._line(path.format(q=qs, h=r.hexs(16)))


class JsonLog(Content):
    name = "jsonlog"

    def __init__(self, r, start):
        super().__init__(r, start)
        self.svc = r.choice(SERVICES)
        self.pod = f"{self.svc}-{r.hexs(10)}-{r.tok(5, string.ascii_lowercase + string.digits)}"

    def _base(self) -> dict:
        r = self.r
        self.clock.tick(0.02)
        level = r.choices(["info", "debug", "warn", "error"], [70, 15, 10, 5])[0]
        d = {"ts": self.clock.iso(), "level": level, "logger": r.choice(LOGGERS),
             "service": self.svc, "pod": self.pod, "msg": r.fill(r.choice(LOG_MSGS)),
             "trace_id": r.hexs(32), "span_id": r.hexs(16)}
        if r.random() < 0.6:
            d["http"] = {"method": r.choice(["GET", "GET", "POST", "PUT", "DELETE"]),
                         "path": r.fill(r.choice(HTTP_PATHS)), "status": r.choice([200, 200, 201, 204, 400, 404, 500]),
                         "duration_ms": r.randrange(1, 3000)}
        if r.random() < 0.3:
            d["user_id"] = r.randrange(1, 5_000_000)
        return d

    def filler(self) -> str:
        return json.dumps(self._base(), separators=(",", ":")) + "\n"

    def plant(self, label, items):
        r = self.r
        d = self._base()
        it = items[0]
        if label in ("secret", "negative"):
            x = r.random()
            if x < 0.35:
                d["msg"] = "loaded configuration"
                d["config"] = {i.key.lower(): i.value for i in items}
            elif x < 0.6 and not it.multiline:
                d["msg"] = "outgoing request"
                d["headers"] = {"Authorization": f"Bearer {it.value}", "Content-Type": "application/json"}
                for extra in items[1:]:
                    d["headers"][extra.key] = extra.value
            else:
                d["level"] = "error"
                d["msg"] = "upstream authentication failed"
                d["error"] = " ".join(f"{i.key.lower()}={i.value}" for i in items)
        elif label == "pii":
            d["msg"] = r.choice(["password reset requested", "profile updated", "payment method added",
                                 "kyc document uploaded"])
            d["customer"] = {"id": r.randrange(1, 5_000_000), it.key.lower(): it.value}
        else:
            d[r.choice(["peer", "db_host", "target", "data_dir"]) if it.kind != "sensitive_path" else "data_dir"] = it.value
        return json.dumps(d, separators=(",", ":"), ensure_ascii=False) + "\n"


class AppLog(Content):
    name = "applog"

    def __init__(self, r, start):
        super().__init__(r, start)
        self.java = r.random() < 0.6
        self.svc = r.choice(SERVICES)

    def _prefix(self, level: str) -> str:
        r = self.r
        self.clock.tick(0.03)
        if self.java:
            return (f"{self.clock.spaced()} {level:<5} [http-nio-8080-exec-{r.randrange(1, 200)}] "
                    f"{r.choice(JAVA_PKGS)}.{r.choice(JAVA_CLASSES)} - ")
        return f"[{self.clock.spaced()}] {level} {self.svc}.{r.choice(PY_FUNCS)}: "

    def _trace(self) -> str:
        r = self.r
        if self.java:
            lines = [r.fill(r.choice(JAVA_EXC))]
            for _ in range(r.randrange(8, 30)):
                cls = r.choice(JAVA_CLASSES)
                lines.append(f"\tat {r.choice(JAVA_PKGS)}.{cls}.{r.choice(JAVA_METHODS)}({cls}.java:{r.randrange(20, 900)})")
            if r.random() < 0.4:
                lines.append("Caused by: " + r.fill(r.choice(JAVA_EXC)))
                lines.append(f"\t... {r.randrange(5, 40)} more")
            return "\n".join(lines) + "\n"
        lines = ["Traceback (most recent call last):"]
        for _ in range(r.randrange(3, 12)):
            lines.append(f'  File "{r.choice(PY_FILES)}", line {r.randrange(10, 800)}, in {r.choice(PY_FUNCS)}')
            lines.append(f"    result = {r.choice(PY_FUNCS)}(request, timeout={r.randrange(1, 30)})")
        lines.append(r.choice(PY_EXC))
        return "\n".join(lines) + "\n"

    def filler(self) -> str:
        r = self.r
        if r.random() < 0.06:
            return self._prefix("ERROR") + "Unhandled exception while processing request\n" + self._trace()
        level = r.choices(["INFO", "DEBUG", "WARN"], [80, 12, 8])[0]
        return self._prefix(level) + r.fill(r.choice(LOG_MSGS)) + "\n"

    def plant(self, label, items):
        r = self.r
        it = items[0]
        if label == "secret" and it.kind == "database_uri":
            return (self._prefix("ERROR") + f"Could not open JDBC/DB connection to {it.value}\n" + self._trace())
        if label in ("secret", "negative"):
            if it.multiline:
                return self._prefix("DEBUG") + f"loaded {it.key.lower()} from vault:\n{it.value}\n"
            kv = ", ".join(f"{i.key.lower()}={i.value}" for i in items)
            return self._prefix(r.choice(["DEBUG", "INFO", "WARN"])) + r.choice(
                [f"initializing client with {kv}", f"environment: {kv}", f"auth failed for credentials {{{kv}}}"]) + "\n"
        if label == "pii":
            return self._prefix("INFO") + f"notification sent to {it.value} (template=order_shipped)\n"
        return self._prefix("WARN") + r.choice([f"connection to {it.value} timed out after 30000ms",
                                                 f"using data directory {it.value}",
                                                 f"registered with discovery at {it.value}"]) + "\n"


class K8sEvents(Content):
    name = "k8s"
    single_line = True

    def _event(self, typ, reason, message, node=None, planted=False) -> str:
        r = self.r
        self.clock.tick(0.5)
        ns, svc = r.choice(NAMESPACES), r.choice(SERVICES)
        pod = f"{svc}-{r.hexs(10)}-{r.tok(5, string.ascii_lowercase + string.digits)}"
        node = node or f"gke-prod-pool-{r.randrange(1, 4)}-{r.hexs(8)}-{r.tok(4, string.ascii_lowercase)}"
        if not planted:
            message = r.fill(message.replace("{ns}", ns).replace("{pod}", pod).replace("{node}", node).replace("{svc}", svc))
        ts = self.clock.iso()
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": f"{pod}.{r.hexs(16)}", "namespace": ns, "uid": r.uuid(),
                           "resourceVersion": str(r.randrange(10**6, 10**8)), "creationTimestamp": ts},
              "involvedObject": {"kind": "Pod", "namespace": ns, "name": pod, "uid": r.uuid(),
                                 "apiVersion": "v1", "fieldPath": f"spec.containers{{{svc}}}"},
              "reason": reason, "message": message, "source": {"component": "kubelet", "host": node},
              "firstTimestamp": ts, "lastTimestamp": ts, "count": r.randrange(1, 20), "type": typ}
        return json.dumps(ev, separators=(",", ":")) + "\n"

    def filler(self) -> str:
        typ, reason, msg = self.r.choice(K8S_REASONS)
        return self._event(typ, reason, msg)

    def plant(self, label, items):
        it = items[0]
        if label == "ops":
            if it.kind == "sensitive_path":
                return self._event("Warning", "FailedMount", f"MountVolume.SetUp failed for volume \"data\" : hostPath {it.value} does not exist", planted=True)
            return self._event("Warning", "Unhealthy", f"Liveness probe failed: Get \"http://{it.value}:8080/healthz\": context deadline exceeded",
                               node=it.value if it.kind == "internal_host" else None, planted=True)
        if label == "pii":
            return self._event("Normal", "Created", f"Created container notifier (owner={it.value})", planted=True)
        env = " ".join(f"{i.key}={i.value}" for i in items)
        return self._event("Warning", "Failed", f"Error: failed to start container \"app\": exec: env {env} /app/start.sh: exit status 1", planted=True)


class Chat(Content):
    """Rows of an LLM gateway's log_stream table, one JSON object per line."""

    name = "chat"

    def __init__(self, r, start):
        super().__init__(r, start)
        self.row = r.randrange(10**6, 10**8)

    def _answer(self, zh: bool) -> str:
        r = self.r
        bank = ZH_SENTENCES if zh else EN_SENTENCES
        parts = r.sample(bank, r.randrange(2, 8))
        if r.random() < 0.25:
            parts.insert(r.randrange(1, len(parts) + 1), "\n" + r.choice(CODE_SNIPPETS) + "\n")
        return ("" if zh else " ").join(parts)

    def _row(self, user: str, answer: str, zh: bool) -> str:
        r = self.r
        self.clock.tick(2.0)
        self.row += 1
        model = r.choice(MODELS)
        row = {"id": self.row, "timestamp": self.clock.iso(),
               "user_id": r.choice([str(r.randrange(10**5, 10**7)), f"u_{r.tok(12, string.ascii_lowercase + string.digits)}"]),
               "session_id": r.uuid(), "model": model}
        style = r.random()
        if style < 0.55:
            msgs = []
            if r.random() < 0.6:
                msgs.append({"role": "system", "content": r.choice(SYSTEM_PROMPTS)})
            for _ in range(r.choice([0, 0, 0, 1, 2])):
                msgs.append({"role": "user", "content": r.choice(ZH_PROMPTS if zh else EN_PROMPTS)})
                msgs.append({"role": "assistant", "content": self._answer(zh)})
            msgs.append({"role": "user", "content": user})
            msgs.append({"role": "assistant", "content": answer})
            row["messages"] = json.dumps(msgs, ensure_ascii=False) if r.random() < 0.3 else msgs
        elif style < 0.8:
            row["prompt"] = user
            row["completion"] = answer
        else:
            row["prompt"] = f"User: {user}\n\nAssistant:"
            row["completion"] = " " + answer
        row["prompt_tokens"] = r.randrange(20, 4000)
        row["completion_tokens"] = r.randrange(10, 1500)
        row["latency_ms"] = r.randrange(200, 30000)
        row["status"] = r.choices(["ok", "error", "timeout"], [95, 3, 2])[0]
        return json.dumps(row, ensure_ascii=r.random() < 0.4, separators=(",", ":")) + "\n"

    def filler(self) -> str:
        zh = self.r.random() < 0.35
        return self._row(self.r.choice(ZH_PROMPTS if zh else EN_PROMPTS), self._answer(zh), zh)

    def plant(self, label, items):
        r = self.r
        zh = r.random() < 0.35
        text = prose(r, label, items, zh)
        if label == "negative":
            return self._row(r.choice(ZH_PROMPTS if zh else EN_PROMPTS), self._answer(zh) + "\n\n" + text, zh)
        return self._row(text, self._answer(zh), zh)


class Transcript(Chat):
    """Plain-text chat exports: `User:` / `Assistant:` turns."""

    name = "transcript"

    def _row(self, user, answer, zh):
        r = self.r
        self.clock.tick(30.0)
        turns = [f"User: {r.choice(ZH_PROMPTS if zh else EN_PROMPTS)}\nAssistant: {self._answer(zh)}"
                 for _ in range(r.choice([0, 0, 1, 2]))]
        turns.append(f"User: {user}\nAssistant: {answer}")
        return (f"=== conversation {r.uuid()} | {self.clock.iso()} | model={r.choice(MODELS)} ===\n"
                + "\n\n".join(turns) + "\n\n")


class Csv(Content):
    name = "csv"
    single_line = True
    EVENTS = ["page_view", "page_view", "page_view", "add_to_cart", "checkout_start", "purchase",
              "search", "click", "signup", "login", "video_play", "scroll_depth"]
    COUNTRIES = ["US", "DE", "CN", "GB", "FR", "JP", "BR", "IN", "CA", "NL", "ES", "KR"]

    def __init__(self, r, start):
        super().__init__(r, start)
        self.schema = r.choice(["events", "events", "files"])
        self.seq = r.randrange(10**9, 10**10)

    def header(self) -> str:
        if self.schema == "events":
            return ("event_id,event_time,user_uuid,session_id,event_type,page,country,device,"
                    "duration_ms,revenue_cents,payload_sha256,ab_bucket,note\n")
        return "file_id,path,size_bytes,mtime,sha1,sha256,owner,note\n"

    def _row(self, note: str = "") -> str:
        r = self.r
        self.clock.tick(0.2)
        self.seq += 1
        if self.schema == "events":
            ev = r.choice(self.EVENTS)
            return (f"{self.seq},{self.clock.iso()},{r.uuid()},{r.hexs(16)},{ev},"
                    f"{r.fill(r.choice(HTTP_PATHS)).split('?')[0]},{r.choice(self.COUNTRIES)},"
                    f"{r.choice(['desktop', 'mobile', 'tablet'])},{r.randrange(0, 120000)},"
                    f"{r.randrange(100, 50000) if ev == 'purchase' else 0},{r.hexs(64)},"
                    f"{r.choice('AB')},{note}\n")
        return (f"{self.seq},/data/{r.choice(SERVICES)}/{r.hexs(2)}/{r.hexs(12)}.{r.choice(['parquet', 'json', 'gz', 'png'])},"
                f"{r.randrange(100, 10**9)},{int(self.clock.t)},{r.hexs(40)},{r.hexs(64)},"
                f"{r.choice(['etl', 'svc', 'root', 'airflow'])},{note}\n")

    def filler(self) -> str:
        return self._row()

    def plant(self, label, items):
        return self._row(" ".join(f"{it.key.lower()}={it.value}" for it in items))


class ConfigFile(Content):
    """A small configuration file: .env, YAML, INI, JSON, properties or TOML."""

    name = "config"

    def __init__(self, r, start, fmt: str):
        super().__init__(r, start)
        self.fmt = fmt
        self.single_line = fmt in SINGLE_LINE or fmt == "toml"
        self.svc = r.choice(SERVICES)
        self.block = 0

    def header(self) -> str:
        return {"yaml": "# Generated by helm template; do not edit\n", "json": "",
                "ini": f"; {self.svc} settings\n", "env": f"# {self.svc} environment\n",
                "properties": f"# {self.svc} application properties\n",
                "toml": f"# {self.svc} config\n"}[self.fmt]

    def filler(self) -> str:
        r = self.r
        self.block += 1
        svc, b = self.svc, self.block
        if self.fmt == "env":
            if b == 1:
                return (f"APP_ENV=production\nSERVICE_NAME={svc}\nPORT={r.choice([3000, 8000, 8080])}\n"
                        f"LOG_LEVEL=info\nTZ=UTC\nBUILD_SHA={r.hexs(40)}\n")
            out = [f"\n# {r.choice(ENV_SECTIONS)}"]
            for _ in range(r.randrange(3, 8)):
                setting = r.choice(ENV_SETTING_NAMES)
                out.append(f"{r.choice(ENV_PREFIXES)}_{setting}={r.fill(r.choice(ENV_SETTINGS[setting]))}")
            return "\n".join(out) + "\n"
        if self.fmt == "yaml":
            name = f"{svc}-{b}"
            return (f"---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {r.choice(NAMESPACES)}\n"
                    f"  labels:\n    app: {svc}\n    version: v1.{r.randrange(40)}.{r.randrange(10)}\n"
                    f"spec:\n  replicas: {r.randrange(1, 8)}\n  selector:\n    matchLabels:\n      app: {svc}\n"
                    f"  template:\n    metadata:\n      labels:\n        app: {svc}\n      annotations:\n"
                    f"        checksum/config: {r.hexs(64)}\n    spec:\n      containers:\n      - name: {svc}\n"
                    f"        image: registry.acme-corp.com/{svc}@sha256:{r.hexs(64)}\n        ports:\n"
                    f"        - containerPort: 8080\n        resources:\n          requests:\n"
                    f"            cpu: {r.randrange(100, 2000)}m\n            memory: {r.choice([128, 256, 512, 1024])}Mi\n"
                    f"        env:\n        - name: LOG_LEVEL\n          value: info\n        - name: DB_PASSWORD\n"
                    f"          valueFrom:\n            secretKeyRef:\n              name: {svc}-db\n              key: password\n")
        if self.fmt == "ini":
            sec = r.choice(["server", "cache", "logging", "metrics", "worker", "smtp", "queue"])
            return (f"\n[{sec}_{b}]\nhost = {r.choice(['0.0.0.0', '127.0.0.1', 'localhost'])}\nport = {r.randrange(1024, 65535)}\n"
                    f"timeout = {r.randrange(1, 120)}\nenabled = {r.choice(['true', 'false'])}\nmax_connections = {r.randrange(10, 500)}\n")
        if self.fmt == "properties":
            return (f"\n# block {b}\nspring.application.name={svc}\nserver.port={r.choice([8080, 8081, 9090])}\n"
                    f"management.endpoints.web.exposure.include=health,info,prometheus\n"
                    f"spring.jpa.hibernate.ddl-auto=validate\nlogging.level.com.acme={r.choice(['INFO', 'DEBUG', 'WARN'])}\n"
                    f"app.cache.ttl={r.randrange(30, 3600)}\napp.build.sha={r.hexs(40)}\n")
        if self.fmt == "toml":
            return (f"\n[service_{b}]\nname = \"{svc}\"\nport = {r.randrange(1024, 65535)}\nworkers = {r.randrange(1, 32)}\n"
                    f"tags = [\"{r.choice(NAMESPACES)}\", \"{r.choice(WORDS)}\"]\nchecksum = \"{r.hexs(64)}\"\n")
        # json: one object per line fragment, assembled by make_config_file
        return json.dumps({"name": f"{svc}-{b}", "enabled": r.random() < 0.8, "timeout_ms": r.randrange(100, 30000),
                           "retries": r.randrange(0, 6), "region": r.choice(["us-east-1", "eu-west-1", "ap-southeast-1"]),
                           "build": r.hexs(40), "owner_team": r.choice(["platform", "payments", "data", "ml"])},
                          indent=2)

    def plant(self, label, items):
        r = self.r
        if self.fmt == "env":
            return env_lines(items) + "\n"
        if self.fmt == "yaml":
            return (f"---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: {self.svc}-{r.choice(['creds', 'env', 'config'])}\n"
                    f"type: Opaque\nstringData:\n" + yaml_lines(items, "  ") + "\n")
        if self.fmt == "ini":
            return f"\n[{r.choice(['database', 'credentials', 'upstream', 'auth'])}]\n" + "\n".join(
                f"{it.key.lower()} = {it.value}" for it in items) + "\n"
        if self.fmt == "properties":
            return "\n" + "\n".join(f"app.{it.key.lower().replace('_', '.')}={it.value}" for it in items) + "\n"
        if self.fmt == "toml":
            return "\n[credentials]\n" + "\n".join(f'{it.key.lower()} = "{it.value}"' for it in items) + "\n"
        return json.dumps({i.key.lower(): i.value for i in items}, indent=2)


ENV_SECTIONS = ["cache", "queue", "storage", "observability", "feature flags", "http client", "mail",
                "search", "workers", "limits"]
ENV_PREFIXES = ["REDIS", "KAFKA", "S3", "OTEL", "FEATURE", "HTTP", "SMTP", "ELASTIC", "CELERY", "RATE_LIMIT",
                "UPLOAD", "SESSION", "CDN", "METRICS", "GRPC", "WEBHOOK", "IMAGE", "SEARCH", "EXPORT"]
ENV_SETTINGS = {
    "HOST": ["{svc}", "localhost", "{svc}.{ns}", "127.0.0.1"], "PORT": ["6379", "9092", "{p}000", "443", "9200"],
    "TIMEOUT_MS": ["30000", "5000", "{p}000"], "MAX_RETRIES": ["{p}", "3"], "ENABLED": ["true", "false"],
    "POOL_SIZE": ["{p}0", "20"], "BUCKET": ["acme-{svc}-{word}", "acme-{word}-{p}"], "REGION": ["eu-west-1", "us-east-1"],
    "TTL_SECONDS": ["3600", "{p}00", "86400"], "BATCH_SIZE": ["{p}00", "500"], "CONCURRENCY": ["{p}"],
    "ENDPOINT": ["http://localhost:{p}000", "https://{svc}.acme-corp.com/v1"], "TOPIC": ["{svc}.events", "{svc}-{word}"],
    "PREFIX": ["/{svc}/", "{word}/"], "LEVEL": ["info", "warn", "debug"],
}
ENV_SETTING_NAMES = list(ENV_SETTINGS)

CONFIG_FORMATS = [("env", "env", 18, (800, 6000)), ("yaml", "yaml", 30, (8000, 120000)),
                  ("ini", "ini", 12, (1500, 16000)), ("json", "json", 18, (2000, 60000)),
                  ("properties", "properties", 12, (1500, 16000)), ("toml", "toml", 10, (1000, 12000))]
CONTENT = {"nginx": Nginx, "jsonlog": JsonLog, "applog": AppLog, "k8s": K8sEvents, "chat": Chat,
           "transcript": Transcript, "csv": Csv}


# --------------------------------------------------------------------------------------------
# Writer
# --------------------------------------------------------------------------------------------

class Writer:
    def __init__(self, out: str, truth):
        self.out = out
        self.truth = truth
        self.files = 0
        self.bytes = 0
        self.counts: Counter = Counter()

    def write(self, rel: str, gen: Content, target: int, rates, is_json_doc: bool = False):
        r = gen.r
        planter = Planter(r)
        path = os.path.join(self.out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        labels = ("secret", "pii", "ops", "negative")
        nxt = [r.expovariate(1.0 / m) for m in rates]
        size = 0
        line = 1
        pending: list[str] = []
        pending_len = 0
        records = []
        with open(path, "wb", buffering=FLUSH_AT) as f:
            def emit(chunk: str, first: bool = False):
                nonlocal size, line, pending_len
                if is_json_doc:
                    chunk = ("  " if first else ",\n  ") + chunk.replace("\n", "\n  ")
                pending.append(chunk)
                n = len(chunk)
                pending_len += n
                size += n
                line += chunk.count("\n")
                if pending_len >= FLUSH_AT:
                    flush()

            def flush():
                nonlocal pending_len, size
                data = "".join(pending).encode("utf-8")
                size += len(data) - pending_len  # correct the estimate for multi-byte text
                f.write(data)
                pending.clear()
                pending_len = 0

            head = gen.header()
            if is_json_doc:
                head = '{\n "settings": [\n'
            if head:
                pending.append(head)
                pending_len += len(head)
                size += len(head)
                line += head.count("\n")
            first = True
            while size < target:
                which = min(range(4), key=nxt.__getitem__)
                if size >= nxt[which]:
                    label = labels[which]
                    nxt[which] = size + r.expovariate(1.0 / rates[which])
                    items = planter.pick(label, gen.single_line)
                    chunk = gen.plant(label, items)
                    base = line
                    prefix = "  " if is_json_doc and first else (",\n  " if is_json_doc else "")
                    rendered = prefix + (chunk.replace("\n", "\n  ") if is_json_doc else chunk)
                    for it in items:
                        needle = it.needle
                        at = rendered.find(needle)
                        if at < 0:
                            at = rendered.find(json.dumps(needle, ensure_ascii=False)[1:-1])
                        if at < 0:
                            at = rendered.find(json.dumps(needle)[1:-1])
                        records.append({"file": rel, "line": base + rendered.count("\n", 0, at) if at >= 0 else -1,
                                        "label": it.label, "kind": it.kind, "value": it.value})
                        self.counts[(it.label, it.kind)] += 1
                    emit(chunk, first)
                else:
                    emit(gen.filler(), first)
                first = False
            if is_json_doc:
                pending.append("\n ]\n}\n")
                pending_len += 6
            flush()
        for rec in records:
            self.truth.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self.files += 1
        self.bytes += os.path.getsize(path)
        return os.path.getsize(path)


def plan(total: int):
    """Yields (category, index, target_bytes) for the large files."""
    for cat, share in SHARES:
        if cat == "config":
            continue
        budget = total * share
        n = max(1, round(budget / FILE_TARGET))
        for i in range(n):
            yield cat, i, int(budget / n)


def rel_name(cat: str, i: int, r: Rng) -> str:
    if cat == "nginx":
        return f"logs/nginx/access-{i:03d}.log"
    if cat == "jsonlog":
        return f"logs/app/{r.choice(SERVICES)}-{i:03d}.jsonl"
    if cat == "applog":
        return f"logs/app/{r.choice(SERVICES)}-{i:03d}.log"
    if cat == "k8s":
        return f"logs/k8s/events-{i:03d}.ndjson"
    if cat == "chat":
        return f"llm/log_stream-{i:04d}.jsonl"
    if cat == "transcript":
        return f"llm/transcripts-{i:03d}.txt"
    return f"analytics/export-{i:04d}.csv"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output directory (created; must be empty or absent)")
    ap.add_argument("--mb", type=float, default=200, help="total size in MB (10^6 bytes), default 200")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--truth", help="ground-truth JSONL path (default: OUT.truth.jsonl)")
    args = ap.parse_args(argv)

    t0 = time.monotonic()
    out = args.out.rstrip("/")
    if os.path.isdir(out) and os.listdir(out):
        print(f"gen_corpus: {out} is not empty; remove it first", file=sys.stderr)
        return 2
    os.makedirs(out, exist_ok=True)
    total = int(args.mb * MB)
    start = 1_709_251_200.0  # 2024-03-01T00:00:00Z
    truth_path = args.truth or out + ".truth.jsonl"
    with open(truth_path, "w", encoding="utf-8") as truth:
        w = Writer(out, truth)
        for k, (cat, i, target) in enumerate(plan(total)):
            r = Rng(f"{args.seed}:{cat}:{i}")
            gen = CONTENT[cat](r, start + k * 86_400)
            w.write(rel_name(cat, i, r), gen, target, RATES[cat])
        # Config files: many small files until their share is used.
        budget = total * dict(SHARES)["config"]
        used = 0
        j = 0
        rc = Rng(f"{args.seed}:config")
        fmts = [f for f in CONFIG_FORMATS]
        while used < budget:
            fmt, ext, _, (lo, hi) = rc.choices(fmts, [f[2] for f in fmts])[0]
            r = Rng(f"{args.seed}:config:{j}")
            gen = ConfigFile(r, start, fmt)
            name = {"env": f"{gen.svc}.env" if r.random() < 0.5 else "production.env",
                    "yaml": r.choice(["deployment.yaml", "values.yaml", "docker-compose.yml", "secrets.yaml"]),
                    "ini": r.choice(["config.ini", "settings.ini", "my.cnf.ini"]),
                    "json": r.choice(["appsettings.json", "config.json", "settings.json"]),
                    "properties": "application.properties", "toml": "config.toml"}[fmt]
            rel = f"configs/{gen.svc}-{j:04d}/{name}"
            target = min(r.randrange(lo, hi), int(budget - used) + 200)
            used += w.write(rel, gen, target, RATES["config"], is_json_doc=(fmt == "json"))
            j += 1
    dt = time.monotonic() - t0
    by_label = Counter()
    for (label, _), n in w.counts.items():
        by_label[label] += n
    print(f"gen_corpus: {w.files} files, {w.bytes} bytes ({w.bytes / MB:.1f} MB), seed {args.seed}, "
          f"planted secret={by_label['secret']} pii={by_label['pii']} ops={by_label['ops']} "
          f"negative={by_label['negative']}, truth={truth_path}, {dt:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
