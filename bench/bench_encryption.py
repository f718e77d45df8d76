"""Chunked, deterministic envelope encryption vs the one-shot AESGCM call on the same bytes.

The reference is what a script would do: read the file, `AESGCM(key).encrypt(nonce, data, aad)`,
write it. Ours makes two passes (HMAC for the synthetic IV, then encryption) in 1 MiB
chunks, so the ratio shows what determinism and constant memory cost. Both run in the
same process, interleaved, best of N.

    .venv/bin/python bench/bench_encryption.py --mb 256 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lepton.crypto.envelope import decrypt_file, encrypt_file


def reference(src: Path, dst: Path, key: bytes) -> None:
    dst.write_bytes(AESGCM(key).encrypt(os.urandom(12), src.read_bytes(), b"ds\x00path"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    key = os.urandom(32)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "plain"
        with src.open("wb") as fh:
            for _ in range(args.mb):
                fh.write(os.urandom(1 << 20))
        best = {"reference": 1e9, "lepton_encrypt": 1e9, "lepton_decrypt": 1e9}
        for _ in range(args.repeat):
            t = time.perf_counter()
            reference(src, Path(tmp) / "ref", key)
            best["reference"] = min(best["reference"], time.perf_counter() - t)
            t = time.perf_counter()
            encrypt_file(src, Path(tmp) / "enc", key, "dk", "ds", "path")
            best["lepton_encrypt"] = min(best["lepton_encrypt"], time.perf_counter() - t)
            t = time.perf_counter()
            decrypt_file(Path(tmp) / "enc", Path(tmp) / "dec", key, "ds", "path")
            best["lepton_decrypt"] = min(best["lepton_decrypt"], time.perf_counter() - t)
    for name, secs in best.items():
        print(f"{name:16s} {args.mb / secs:8.0f} MB/s  ({secs:.3f} s)")
    print(f"ratio encrypt/reference: {best['lepton_encrypt'] / best['reference']:.2f}x")
    print(f"ratio decrypt/reference: {best['lepton_decrypt'] / best['reference']:.2f}x")


if __name__ == "__main__":
    main()
