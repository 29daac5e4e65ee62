#!/usr/bin/env python3
"""Runs the README's commands, as written, against a running local stack.

Usage: ./scripts/readme-check.py IVS_URL ADMIN_URL   (./scripts/local-stack.sh --smoke runs it)

The commands come from README.md itself, so the two cannot drift: the fenced `sh` blocks of
the sections named in GROUPS below. Each group runs in one fresh bash (no AWS_* variables from
the caller, HOME in a scratch directory, where the files the commands write go), line by line
as a reader would paste them:

- `http://127.0.0.1:4566` and `http://127.0.0.1:4567` (the local stack's default ports) become
  IVS_URL and ADMIN_URL.
- A placeholder line, `NAME=…   # channel.arn from the answer`, is filled in as the reader
  would: the JSON path its comment names (`a.b`, `a[0].b`), from the previous JSON answer, or
  from "step N's Operation" when the comment says so; "the id at the end of" takes what follows
  the last `/`. `NAME=<…>` lines are templates for the reader and are skipped.
- A `# or: <command>` line right after a command is that command's AWS CLI form: the
  walkthrough runs twice, once with the commands as written (curl) and once with each
  command that has an `# or:` form replaced by it.
- Every command must succeed: exit status 0 and, for curl, no HTTP status of 400 or more,
  unless the README says the error is expected, as `(HTTP 403)` in the comment above the
  command or in its trailing comment, or as the error code opening its trailing comment
  (`# ChannelNotBroadcasting: …`); then that error, and only it, must be what comes back.
- After a command that drives the emulator's control API (`/_emulator/…`, a simulated
  broadcaster), whose events the functions handle asynchronously, it waits until the
  functions have handled every event the emulator emitted (its /_emulator/stats and events;
  at most README_CHECK_SETTLE seconds, default 60), as a reader watching the stack's terminal
  would; a read of the IVS API whose README-stated error (the functions' work) has not come
  yet is asked again, every second for up to README_CHECK_RETRY_SECONDS (20).

Printed: every command as run and the start of its answer, stream key values and tokens
masked. Fails (exit 1) at the first command that does not do what the README says.

Run it against a fresh stack, as the smoke run does before anything else: the README's
`create-secret` succeeds once per stack, and its key pairs count towards IVS's 3.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")

# (sections, whether the `# or:` forms get a run of their own). The admin API section's first
# block defines $API and the signing options the private-channel blocks use. Those blocks
# create the playback secret, which succeeds once per stack, so they run once.
GROUPS = [
    (["Walkthrough: the automation at work, locally"], True),
    (["The admin API", "A private channel, end to end", "Rotating the playback key"], False),
]
DEFAULT_URLS = ("http://127.0.0.1:4566", "http://127.0.0.1:4567")
SETTLE = float(os.environ.get("README_CHECK_SETTLE", "60"))
# The event types the local stack routes to the functions (ivs-emulator --default-routes).
ROUTED = {"IVS Stream State Change", "IVS Stream Health Change", "IVS Limit Breach",
          "IVS Recording State Change"}
RETRY_SECONDS = float(os.environ.get("README_CHECK_RETRY_SECONDS", "20"))


def mask(text):
    text = re.sub(r"sk_[A-Za-z0-9_-]+", "sk_… (secret)", text)
    text = re.sub(r"eyJ[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]*){0,2}", "eyJ… (token)", text)
    return re.sub(r'("passphrase"\s*:\s*)"[^"]*"', r'\1"… (secret)"', text)


def say(text=""):
    print(mask(text), flush=True)


class Failure(Exception):
    pass


# ── reading the README ─────────────────────────────────────────────────────────────────────


def section_blocks(lines, heading):
    """The fenced sh blocks directly under `heading` (up to the next heading of any level), as
    (first line number, lines)."""
    blocks, in_section, fence, start = [], False, None, 0
    for number, line in enumerate(lines, 1):
        if fence is not None:
            if line.strip() == "```":
                if in_section and fence in ("sh", "bash"):
                    blocks.append((start, lines[start - 1 : number - 1]))
                fence = None
            continue
        if line.startswith("```"):
            fence, start = line[3:].strip(), number + 1
            continue
        match = re.match(r"#{1,6} (.*)$", line)
        if match:
            in_section = match.group(1).strip() == heading
    if not blocks:
        raise Failure(f'README.md has no ```sh block under the heading "{heading}"')
    return blocks


def trailing_comment(line):
    """The comment at the end of a shell line (a # starting a word, outside quotes), or ""."""
    quote, escaped = None, False
    for i, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[i + 1 :].strip()
    return ""


def parse(start, lines):
    """The block's items: commands (with their `# or:` form and what the comments say),
    placeholders and step headings."""
    items, above, i = [], [], 0
    while i < len(lines):
        text, number = lines[i], start + i
        stripped = text.strip()
        i += 1
        if not stripped:
            above = []
            continue
        if stripped.startswith("#"):
            alternative = re.match(r"#\s*or:\s*(.+)$", stripped)
            if alternative:
                if not items or items[-1]["kind"] != "cmd" or above:
                    raise Failure(f"README.md line {number}: an `# or:` line must follow the command it replaces")
                items[-1]["alt"], items[-1]["alt_line"] = alternative.group(1), number
                continue
            if re.match(r"#\s*\d+\.\s", stripped):
                items.append({"kind": "step", "text": stripped})
            elif above and items and items[-1]["kind"] == "step":
                items[-1]["text"] += "\n" + stripped  # the heading goes on
            above.append(stripped)
            continue
        while text.endswith("\\") and i < len(lines):
            text += "\n" + lines[i]
            i += 1
        comment = trailing_comment(text.split("\n")[-1])
        assignment = re.match(r"([A-Za-z_]\w*)=(\S*)", text)
        if assignment and "…" in assignment.group(2):
            items.append({"kind": "fill", "name": assignment.group(1), "comment": comment, "line": number})
        elif re.search(r"\b\w+=<[^>]*>", text):
            items.append({"kind": "template", "text": text, "line": number})
        else:
            items.append({"kind": "cmd", "text": text, "line": number, "alt": None,
                          "expect": expectation(above, comment)})
        above = []
    return items


def expectation(above, comment):
    """The error the README says a command answers: (HTTP status or None, error code or None)."""
    status = None
    for text in above + [comment]:
        match = re.search(r"\bHTTP (\d{3})\b", text)
        if match:
            status = int(match.group(1))
    code = re.match(r"([A-Z][a-z]+(?:[A-Z][a-z]+)+)\b", comment)
    return status, code.group(1) if code else None


# ── running it ─────────────────────────────────────────────────────────────────────────────


class Shell:
    """One bash, fed one command at a time; each command's output goes to files."""

    def __init__(self, work):
        self.work = work
        self.out, self.err, self.headers = (os.path.join(work, ".check", n) for n in ("out", "err", "headers"))
        os.makedirs(os.path.dirname(self.out), exist_ok=True)
        env = {"PATH": os.environ["PATH"], "HOME": work, "LANG": os.environ.get("LANG", "C.UTF-8")}
        self.bash = subprocess.Popen(["bash", "--noprofile", "--norc"], cwd=work, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=open(os.path.join(work, ".check", "bash.log"), "a"))
        # curl also writes its response headers where the check reads the status from.
        self.send(f"set -o pipefail\ncurl() {{ command curl -D {shlex.quote(self.headers)} \"$@\"; }}\n")

    def send(self, script):
        self.bash.stdin.write(script + "\necho __done $?\n")
        self.bash.stdin.flush()
        line = self.bash.stdout.readline()
        if not line.startswith("__done "):
            raise Failure(f"the shell running the README's commands stopped ({line!r})")
        return int(line.split()[1])

    def run(self, command):
        open(self.headers, "w").close()
        rc = self.send(f"__c={shlex.quote(command)}\n{{ eval \"$__c\"\n}} </dev/null >{shlex.quote(self.out)} 2>{shlex.quote(self.err)}")
        read = lambda path: open(path, errors="replace").read()
        return rc, read(self.out), read(self.err), read(self.headers)

    def close(self):
        self.bash.stdin.close()
        self.bash.wait()


def outcome(command, rc, out, err, headers):
    """(error status or None, error code or None, summary) of a command that ran."""
    status, code = None, None
    statuses = re.findall(r"^HTTP/\S+ (\d{3})", headers, re.M)
    if "curl" in command and statuses:
        status = int(statuses[-1])
        if status >= 400:
            match = re.search(r"^x-amzn-errortype:\s*([A-Za-z]+)", headers, re.M | re.I)
            code = match.group(1) if match else None
            if not code:
                try:
                    body = json.loads(out)
                    code = body.get("__type") or (body.get("error") or {}).get("code")
                except (ValueError, AttributeError):
                    pass
    match = re.search(r"An error occurred \((\w+)\)", err)
    if rc and match:
        code = match.group(1)
    summary = f"HTTP {status}" if status else f"exit {rc}"
    if code:
        summary += f" {code}"
    failed = rc != 0 or (status or 0) >= 400
    return failed, status, code, summary


def json_path(value, path):
    for part in re.findall(r"[A-Za-z]\w*|\[\d+\]", path):
        value = value[int(part[1:-1])] if part.startswith("[") else value[part]
    return value


def fill(item, answers):
    comment = item["comment"]
    path = re.search(r"[A-Za-z]\w*(?:\[\d+\])?(?:\.[A-Za-z]\w*(?:\[\d+\])?)+", comment)
    if not path:
        raise Failure(f"README.md line {item['line']}: the comment of {item['name']}=… names no JSON path ({comment!r})")
    source = re.search(r"step (\d+)'s (\w+)", comment)
    normal = lambda s: re.sub(r"[^a-z]", "", s.lower())
    for step, command, out in reversed(answers):
        if source and (step != source.group(1) or normal(source.group(2)) not in normal(command)):
            continue
        try:
            value = json_path(json.loads(out), path.group(0))
        except (ValueError, KeyError, IndexError, TypeError):
            if source:
                raise Failure(f"README.md line {item['line']}: no {path.group(0)} in step {source.group(1)}'s answer")
            continue
        value = str(value)
        if "id at the end of" in comment:
            value = value.rsplit("/", 1)[-1]
        return value
    raise Failure(f"README.md line {item['line']}: no earlier answer has {path.group(0)} for {item['name']}")


def run_group(headings, form, ivs_url, admin_url, readme):
    label = " + ".join(f'"{h}"' for h in headings)
    say(f"\n── README {label}, {form}")
    work = tempfile.mkdtemp(prefix="readme-check-")
    shell = Shell(work)
    answers, step = [], None
    try:
        for heading in headings:
            for start, block in section_blocks(readme, heading):
                text = "\n".join(block).replace(DEFAULT_URLS[0], ivs_url).replace(DEFAULT_URLS[1], admin_url)
                for item in parse(start, text.split("\n")):
                    if item["kind"] == "step":
                        step = re.match(r"#\s*(\d+)\.", item["text"]).group(1)
                        say(item["text"])
                    elif item["kind"] == "template":
                        say(f"  (line {item['line']}, a template for the reader, not run: {item['text'].split(chr(10))[0]})")
                    elif item["kind"] == "fill":
                        value = fill(item, answers)
                        shell.send(f"{item['name']}={shlex.quote(value)}")
                        say(f"$ {item['name']}={value}   # {item['comment']}")
                    else:
                        commands = [item["text"]]
                        if item["alt"]:
                            commands = [item["alt"]] if form == "the AWS CLI forms (# or:)" else (
                                [item["text"]] if form == "as written (curl)" else [item["text"], item["alt"]])
                        for command in commands:
                            line = item["alt_line"] if command is item["alt"] else item["line"]
                            run_command(shell, item, command, line, answers, step)
    finally:
        shell.close()
        shutil.rmtree(work, ignore_errors=True)


def run_command(shell, item, command, line, answers, step):
    say("$ " + command.replace("\n", "\n  "))
    rc, out, err, headers = shell.run(command)
    failed, status, code, summary = outcome(command, rc, out, err, headers)
    want_status, want_code = item["expect"]
    if want_status or want_code:
        wanted = " or ".join(x for x in (want_status and f"HTTP {want_status}", want_code) if x)
        # An outcome of the functions' work (they act asynchronously) may come a little
        # later on a slow machine: a reader would look again. Only reads of the IVS API are
        # asked again, not the control API's simulated broadcasters.
        deadline = time.monotonic() + RETRY_SECONDS
        while not failed and "/_emulator/" not in command and time.monotonic() < deadline:
            say(f"  (not yet: {summary}; asking again in 1 s)")
            time.sleep(1)
            rc, out, err, headers = shell.run(command)
            failed, status, code, summary = outcome(command, rc, out, err, headers)
        if not failed:
            raise Failure(f"README.md line {line}: the README says {wanted}; it succeeded ({summary})\n{mask(out)}")
        if status != want_status and code != want_code:
            raise Failure(f"README.md line {line}: the README says {wanted}; got {summary}\n{mask(out + err)}")
        summary += " (as the README says)"
    elif failed:
        raise Failure(f"README.md line {line} failed: {summary}\n{mask(out)}{mask(err)}")
    answer = mask(" ".join(out.split()))
    say(f"  → {summary}" + (f" · {answer[:160]}{'…' if len(answer) > 160 else ''}" if answer else ""))
    answers.append((step, command, out))
    if "/_emulator/" in command:
        settle()


IVS_URL = None


def settle():
    """Waits until the functions have handled (or the emulator dead-lettered) every event the
    emulator emitted so far (a queued record counts once the mapping deleted it)."""
    read = lambda path: json.load(urllib.request.urlopen(f"{IVS_URL}/_emulator/{path}", timeout=10))
    deadline = time.monotonic() + SETTLE
    while True:
        routed = sum(1 for event in read("events") if event.get("detail-type") in ROUTED)
        # Deliveries to the functions only ("lambda:<name>" directly, "queue:<name>" through
        # their queues: deleted once handled), not to the --events-out file.
        handled = sum(d.get("delivered", 0) + d.get("deadLettered", 0)
                      for target, d in read("stats")["deliveries"].items()
                      if target.startswith(("lambda:", "queue:")))
        if handled >= routed:
            return
        if time.monotonic() > deadline:
            raise Failure(f"the functions have not handled the emulator's events after {SETTLE:.0f} s ({handled} of {routed})")
        time.sleep(0.2)


def main():
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} IVS_URL ADMIN_URL")
    global IVS_URL
    ivs_url, admin_url = (u.rstrip("/") for u in sys.argv[1:])
    IVS_URL = ivs_url
    if not shutil.which("aws"):
        os.environ["PATH"] = os.path.join(ROOT, ".venv", "bin") + os.pathsep + os.environ["PATH"]
    readme = open(README, encoding="utf-8").read().split("\n")
    say(f"The README's commands, as written, with {DEFAULT_URLS[0]} → {ivs_url} and {DEFAULT_URLS[1]} → {admin_url}")
    try:
        for headings, own_run in GROUPS:
            has_alternatives = any(
                item["kind"] == "cmd" and item["alt"]
                for heading in headings for start, block in section_blocks(readme, heading)
                for item in parse(start, block))
            if own_run:
                if not has_alternatives:
                    raise Failure(f"README.md: no `# or:` (AWS CLI) form under {headings}")
                run_group(headings, "as written (curl)", ivs_url, admin_url, readme)
                run_group(headings, "the AWS CLI forms (# or:)", ivs_url, admin_url, readme)
            else:
                run_group(headings, "as written", ivs_url, admin_url, readme)
    except Failure as failure:
        print(f"\nreadme-check: {mask(str(failure))}", file=sys.stderr)
        sys.exit(1)
    say("\nEvery README command ran as written.")


if __name__ == "__main__":
    main()
