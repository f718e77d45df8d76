"""Encryption throughput on one core, in the same run as the two references issue 6 names:
`openssl speed -evp aes-256-gcm` (what the CPU can do) and DVC's own md5 hashing of the
same file (what DVC spends on every file anyway). Also the one-shot AESGCM call a script
would make, for scale.

    .venv/bin/python bench/bench_encryption.py --mb 512 --repeat 3

Goal: encrypt and decrypt each at least as fast as DVC's hashing, and at least 25% of the
openssl figure. Everything is pinned to one core; best of N; the file sits in the page
cache, so this measures CPU, not disk.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lepton.crypto.envelope import decrypt_file, encrypt_file


def openssl_mb_s(cpu: int) -> float:
    out = subprocess.run(["taskset", "-c", str(cpu), "openssl", "speed", "-evp", "aes-256-gcm",
                          "-bytes", str(1 << 20), "-seconds", "3"], capture_output=True, text=True, check=True).stdout
    k = float(re.search(r"^AES-256-GCM\s+([0-9.]+)k", out, re.M).group(1))
    return k * 1000 / 1e6


def dvc_md5(path: Path) -> None:
    from dvc_data.hashfile.hash import file_md5
    from dvc_objects.fs.local import LocalFileSystem

    file_md5(str(path), LocalFileSystem())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=0)
    args = ap.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    key = os.urandom(32)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "plain"
        with src.open("wb") as fh:
            for _ in range(args.mb):
                fh.write(os.urandom(1 << 20))
        cases = {
            "lepton encrypt (file to file)": lambda: encrypt_file(src, Path(tmp) / "enc", key, "dk", "ds", "p"),
            "lepton decrypt (file to file)": lambda: decrypt_file(Path(tmp) / "enc", Path(tmp) / "dec", key, "ds", "p"),
            "dvc md5 of the same file": lambda: dvc_md5(src),
            "one-shot AESGCM (read, encrypt, write)": lambda: (Path(tmp) / "ref").write_bytes(
                AESGCM(key).encrypt(os.urandom(12), src.read_bytes(), b"aad")),
        }
        best = {name: float("inf") for name in cases}
        for _ in range(args.repeat):
            for name, fn in cases.items():
                t = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - t)
        assert (Path(tmp) / "dec").read_bytes() == src.read_bytes()
    mb_s = {name: args.mb * 1.048576 / secs for name, secs in best.items()}
    mb_s["openssl speed -evp aes-256-gcm (1 MiB blocks)"] = openssl_mb_s(args.cpu)
    dvc = mb_s["dvc md5 of the same file"]
    ossl = mb_s["openssl speed -evp aes-256-gcm (1 MiB blocks)"]
    print(f"{args.mb} MiB, one core (cpu {args.cpu}), best of {args.repeat}")
    print(f"| {'what':44s} | MB/s | vs DVC md5 | vs openssl |")
    print("|---|---|---|---|")
    for name, v in mb_s.items():
        print(f"| {name:44s} | {v:6.0f} | {v / dvc:5.2f}x | {v / ossl:5.1%} |")


if __name__ == "__main__":
    main()
