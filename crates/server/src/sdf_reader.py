#!/usr/bin/env python3
"""vitrina's VM-SDF reader (installed by USERDATA, seed 004).

Reads /etc/vitrina-sdf/deployment-info.json (the `deployment-info` document; JSON is YAML too),
gets the configuration as the mode says (`raw`: in the file; `kvs`: from the VM's KV store;
`ota+kvs`: redeems the one-time token once for the KV credentials, kept in a root-only file),
fetches `source`, runs the `engine` on it and reports `deployment-progress` into its KV key and
log file. It then polls the KV store and runs the engine again when a variable changed (volatile
variables reach the VM without a reboot).

Only the Python 3 standard library is used. Every path is under $VITRINA_ROOT (`/` on a real VM).
"""

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.environ.get("VITRINA_ROOT") or "/"
HOME = os.path.join(ROOT, "etc/vitrina-sdf")
INFO = os.path.join(HOME, "deployment-info.json")
CREDS = os.path.join(HOME, "kvs.json")
WORK = os.path.join(ROOT, "var/lib/vitrina-sdf")


def at_root(path):
    return os.path.join(ROOT, path.lstrip("/"))


def log(message):
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    line = "%s %s" % (stamp, message)
    print(line, flush=True)
    target = STATE.get("log")
    if target:
        try:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError:
            pass


STATE = {}


def call(method, url, secret=None, body=None, timeout=20):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if secret:
        req.add_header("Authorization", "Bearer " + secret)
    with urllib.request.urlopen(req, timeout=timeout) as answer:
        text = answer.read()
    return json.loads(text) if text else None


def kv_url(creds, key=None):
    base = creds["endpoint"].rstrip("/") + "/" + urllib.parse.quote(creds["name"], safe="")
    return base if key is None else base + "/" + urllib.parse.quote(key, safe="")


def report(state, message=""):
    """The progress into the KV key (`deployment-progress.vm-key`) and the log."""
    log("progress: %s %s" % (state, message))
    creds, key = STATE.get("creds"), STATE.get("progress_key")
    if not creds or not key:
        return
    value = {"state": state, "message": message, "at": int(time.time())}
    try:
        call("PUT", kv_url(creds, key), creds["secret"], value)
        logs = creds["endpoint"].rstrip("/").rsplit("/kv", 1)[0] + "/logs/"
        call("POST", logs + urllib.parse.quote(creds["name"], safe=""), creds["secret"],
             {"lines": [{"level": "error" if state == "failed" else "info",
                         "message": "%s %s" % (state, message)}]})
    except (OSError, ValueError) as e:
        log("cannot report progress: %s" % e)


def unflatten(pairs):
    """`a.b.c` keys back into a tree; mappings whose keys are 0..n-1 become lists."""
    tree = {}
    for key, value in pairs.items():
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = {}
                node[part] = nxt
            node = nxt
        node[parts[-1]] = value

    def lists(v):
        if isinstance(v, dict):
            v = {k: lists(x) for k, x in v.items()}
            if v and all(k.isdigit() for k in v) and sorted(int(k) for k in v) == list(range(len(v))):
                return [v[str(i)] for i in range(len(v))]
        return v

    return lists(tree)


def secure_write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def kv_credentials(pointer):
    mode = pointer.get("mode")
    if mode == "kvs":
        return pointer["kvs"]
    if mode == "ota+kvs":
        if os.path.exists(CREDS):
            with open(CREDS, encoding="utf-8") as f:
                return json.load(f)
        ota = pointer["ota+kvs"]
        creds = call("POST", ota["endpoint"], None, {"token": ota["token"]})
        secure_write(CREDS, json.dumps(creds))
        log("the one-time token was redeemed")
        return creds
    return None


def read_config(pointer):
    """The whole `deployment-info` (engine, source, variables, …) and the KV credentials."""
    if pointer.get("mode", "raw") == "raw":
        feature = (pointer.get("features") or {}).get("vm-key-value-storage")
        return pointer, feature
    creds = kv_credentials(pointer)
    values = call("GET", kv_url(creds), creds["secret"])["values"]
    tree = unflatten(values).get("deployment-info", {})
    return tree, creds


def fetch_source(url, dest):
    with urllib.request.urlopen(url, timeout=60) as answer:
        blob = answer.read()
    if os.path.isdir(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as tar:
        for member in tar.getmembers():
            name = os.path.normpath(member.name)
            if name.startswith("..") or os.path.isabs(name) or member.issym() or member.islnk():
                raise ValueError("unsafe path in the source archive: %s" % member.name)
        tar.extractall(dest)
    return hashlib.sha256(blob).hexdigest()


def env_name(var):
    return "SDF_VAR_" + "".join(c.upper() if c.isalnum() else "_" for c in var)


def run_engine(config, variables):
    engine = config.get("engine") or "shell"
    app_dir = os.path.join(WORK, "app")
    vars_file = os.path.join(WORK, "variables.json")
    secure_write(vars_file, json.dumps(variables, indent=2, sort_keys=True))
    env = dict(os.environ)
    env["SDF_VARIABLES"] = vars_file
    env["VITRINA_ROOT"] = ROOT
    for name, value in variables.items():
        if value is None:
            text = ""
        elif isinstance(value, (dict, list)):
            text = json.dumps(value)
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        env[env_name(name)] = text
    if engine == "shell":
        script = os.path.join(app_dir, "deploy.sh")
        if not os.path.exists(script):
            raise RuntimeError("the source has no deploy.sh for the shell engine")
        argv = ["/bin/sh", script]
    elif engine == "ansible":
        if shutil.which("ansible-playbook") is None:
            raise RuntimeError("ansible-playbook is missing (Debian package `ansible`)")
        argv = ["ansible-playbook", "-i", "localhost,", "-c", "local", "site.yml",
                "-e", "@" + vars_file]
    else:
        raise RuntimeError("unknown engine `%s`" % engine)
    done = subprocess.run(argv, cwd=app_dir, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=3600, check=False)
    for line in done.stdout.decode("utf-8", "replace").splitlines()[-50:]:
        log("engine: " + line)
    if done.returncode != 0:
        raise RuntimeError("the %s engine exited with %d" % (engine, done.returncode))


def main():
    with open(INFO, encoding="utf-8") as f:
        pointer = json.load(f)["deployment-info"]
    poll = float(pointer.get("poll-seconds") or 30)
    applied = None
    source_done = None
    while True:
        try:
            config, creds = read_config(pointer)
            STATE["creds"] = creds
            progress = config.get("deployment-progress") or {}
            STATE["progress_key"] = progress.get("vm-key")
            if progress.get("log"):
                STATE["log"] = at_root(progress["log"])
            variables = config.get("variables") or {}
            if variables != applied:
                first = applied is None
                report("deploying" if first else "reconfiguring")
                source = config.get("source")
                if source and source != source_done:
                    report("fetching", source)
                    fetch_source(source, os.path.join(WORK, "app"))
                    source_done = source
                report("running", config.get("engine") or "shell")
                run_engine(config, variables)
                applied = variables
                report("deployed" if first else "reconfigured")
        except Exception as e:  # pylint: disable=broad-except
            report("failed", str(e))
        if pointer.get("mode", "raw") == "raw":
            # The configuration is in USERDATA: it changes only with a new VM.
            return 0
        time.sleep(poll)


if __name__ == "__main__":
    sys.exit(main())
