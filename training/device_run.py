"""Fine-tune a MiniLM experiment on another machine (a lent GPU) and bring the weights back, checked end to end.

The training loop is the one every run uses (``training.encoder_training.fit_encoder``); only where it runs moves:

1. here, ``threatscore train CONFIG --device-bundle DIR`` builds the experiment's training set exactly as
   ``threatscore train CONFIG`` would (gold, source and weak labels, gold repeats), tokenizes it and writes DIR
   (``write_bundle``): the token ids and targets, the base encoder, the config and a manifest of sha256s;
2. there, ``python -m training.device_run DIR OUT`` trains (``train_bundle``) and writes the trained parameters and
   the run's facts to OUT. It needs torch, transformers, numpy, tqdm, pydantic and PyYAML, nothing else;
3. here, ``threatscore train CONFIG --device-bundle DIR --device-result OUT`` (``DeviceRun.load``) checks that OUT
   was trained from DIR, and DIR from this config and this data, then calibrates, exports, blends, logs and
   registers as any run does, with the device's facts logged beside.

The base encoder travels in fp16 (the package's 90 MB of fp32 weights do not fit the device's 64 MiB transfer
limit; rounding moves a weight by at most 2^-11 of itself). Training starts from those values cast to fp32, and
step 3 rebuilds the model from the same fp16 folder, so the weights served are exactly the weights trained. Only the
trained parameters come back (fp32, in shards under the 16 MiB per-file limit); the frozen ones are the bundle's.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import itertools
import json
import logging
import platform
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from training.config import MiniLMExperiment, load_experiment
from training.encoder_training import (
    Targets,
    build_torch_model,
    default_model_dir,
    fit_encoder,
    text_lengths,
    tokenize_for_training,
)

logger = logging.getLogger(__name__)

BASE = "base"
TRAIN_SET = "train_set.npz"
EXPERIMENT = "experiment.yaml"
MANIFEST = "manifest.json"
FACTS = "facts.json"
#: Files of the base encoder folder that travel (the weights are rewritten in fp16).
_BASE_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
#: Largest shard of trained parameters, under the device's 16 MiB per returned file.
SHARD_BYTES = 15 * 2**20


class BundleError(ValueError):
    """A bundle or result that does not match its manifest, its config or the data it claims to come from."""


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def config_sha256(config: MiniLMExperiment) -> str:
    """Digest of the validated config (not of the YAML's spelling): what a bundle and its result must share."""
    return sha256_bytes(json.dumps(config.model_dump(mode="json"), sort_keys=True).encode())


def training_set_sha256(token_ids: Sequence[np.ndarray], lengths: np.ndarray, targets: Targets, pad_id: int) -> str:
    """Digest of the rows a model is trained on: token ids, the lengths batches are bucketed by, every target."""
    h = hashlib.sha256(str(pad_id).encode())
    h.update(np.asarray(lengths, dtype=np.int64).tobytes())
    h.update(np.asarray([len(t) for t in token_ids], dtype=np.int64).tobytes())
    h.update(np.concatenate(token_ids).astype(np.int64).tobytes() if len(token_ids) else b"")
    for field in fields(Targets):
        h.update(np.ascontiguousarray(getattr(targets, field.name), dtype=np.float64).tobytes())
    return h.hexdigest()


def _file_digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): sha256_bytes(p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def write_bundle(
    dest: Path,
    config_path: Path,
    config: MiniLMExperiment,
    token_ids: Sequence[np.ndarray],
    lengths: np.ndarray,
    targets: Targets,
    pad_id: int,
) -> Path:
    """Write the self-contained training bundle of ``config`` to ``dest`` (emptied first); returns its manifest."""
    import torch
    from safetensors.torch import load_file, save_file

    if config.encoder.init_from_run:
        raise BundleError("a device bundle starts from the base encoder; encoder.init_from_run is not supported")
    if config.optim.epochs == 0:
        raise BundleError("optim.epochs is 0: there is nothing to train on a device")
    if dest.exists():
        shutil.rmtree(dest)
    (dest / BASE).mkdir(parents=True)
    model_dir = config.encoder.model_dir or default_model_dir()
    for name in _BASE_FILES:
        if (model_dir / name).exists():
            shutil.copy2(model_dir / name, dest / BASE / name)
    weights = load_file(str(model_dir / "model.safetensors"))
    save_file(
        {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in weights.items()},
        str(dest / BASE / "model.safetensors"),
        metadata={"format": "pt"},
    )
    shutil.copy2(config_path, dest / EXPERIMENT)
    offsets = np.cumsum([0, *(len(t) for t in token_ids)])
    np.savez_compressed(
        dest / TRAIN_SET,
        token_ids=np.concatenate(token_ids).astype(np.int32),
        offsets=offsets,
        lengths=np.asarray(lengths, dtype=np.int64),
        pad_id=np.int64(pad_id),
        **{f.name: getattr(targets, f.name) for f in fields(Targets)},
    )
    manifest = {
        "config_sha256": config_sha256(config),
        "train_set_sha256": training_set_sha256(token_ids, lengths, targets, pad_id),
        "rows": len(token_ids),
        "tokens": int(offsets[-1]),
        "base_encoder": str(model_dir),
        "base_precision": "float16",
        "files": _file_digests(dest),
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    logger.info("bundle %s: %d rows, %d tokens", dest, len(token_ids), offsets[-1])
    return dest / MANIFEST


def _checked_manifest(bundle: Path) -> dict[str, Any]:
    """The bundle's manifest, after every file it lists was found with its digest."""
    path = bundle / MANIFEST
    if not path.exists():
        raise BundleError(f"{bundle}: no {MANIFEST}; write the bundle with `threatscore train CONFIG --device-bundle`")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    found = _file_digests(bundle)
    for name, digest in manifest["files"].items():
        if found.get(name) != digest:
            raise BundleError(f"{bundle}: {name} is missing or differs from the manifest")
    return manifest


def _read_train_set(bundle: Path) -> tuple[list[np.ndarray], np.ndarray, Targets, int]:
    with np.load(bundle / TRAIN_SET) as data:
        flat, offsets = data["token_ids"], data["offsets"]
        token_ids = [flat[a:b] for a, b in itertools.pairwise(offsets)]
        targets = Targets(**{f.name: data[f.name] for f in fields(Targets)})
        return token_ids, data["lengths"], targets, int(data["pad_id"])


def train_bundle(bundle: Path, out: Path, *, max_steps: int | None = None, show_progress: bool = True) -> dict:
    """Train the bundle's experiment where this runs and write the trained parameters and facts to ``out``."""
    import torch
    import transformers
    from safetensors.torch import save_file

    manifest = _checked_manifest(bundle)
    config = load_experiment(bundle / EXPERIMENT)
    if not isinstance(config, MiniLMExperiment) or config_sha256(config) != manifest["config_sha256"]:
        raise BundleError(f"{bundle / EXPERIMENT} is not the config the bundle was written for")
    token_ids, lengths, targets, pad_id = _read_train_set(bundle)
    if training_set_sha256(token_ids, lengths, targets, pad_id) != manifest["train_set_sha256"]:
        raise BundleError(f"{bundle / TRAIN_SET} does not match the manifest's training-set digest")
    torch.manual_seed(config.seed)  # before the model is built: the heads' initial weights come from it
    model, _ = build_torch_model(bundle / BASE, config.encoder.trainable_layers)
    started = time.time()
    facts = fit_encoder(
        model, token_ids, lengths, targets, config, pad_id=pad_id, show_progress=show_progress, max_steps=max_steps
    )
    trained = {n: p.detach().contiguous() for n, p in model.named_parameters() if p.requires_grad}
    out.mkdir(parents=True, exist_ok=True)
    # Consecutive parameters grouped into shards of at most SHARD_BYTES each (one larger tensor gets its own).
    groups: list[dict[str, Any]] = [{}]
    size = 0
    for name, tensor in trained.items():
        nbytes = tensor.numel() * tensor.element_size()
        if groups[-1] and size + nbytes > SHARD_BYTES:
            groups.append({})
            size = 0
        groups[-1][name] = tensor
        size += nbytes
    shards: dict[str, str] = {}
    for k, group in enumerate(groups):
        path = out / f"trained-{k:02d}.safetensors"
        save_file(group, str(path), metadata={"format": "pt"})
        shards[path.name] = sha256_bytes(path.read_bytes())
    record = {
        "bundle_manifest_sha256": sha256_bytes((bundle / MANIFEST).read_bytes()),
        "facts": facts,
        "max_steps": max_steps,
        "shards": shards,
        "device": torch.cuda.get_device_name(0) if facts["on_gpu"] else _cpu_name(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
    }
    (out / FACTS).write_text(json.dumps(record, indent=2), encoding="utf-8")
    return record


def _cpu_name() -> str:
    """The processor's model name and core count, for a run trained on a CPU."""
    import os

    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), None)
    return f"CPU {model or platform.machine()}, {os.cpu_count()} cores"


@dataclass(frozen=True)
class DeviceRun:
    """A bundle and the result trained from it elsewhere, to finish here (``training.minilm.fit_minilm``)."""

    bundle: Path
    result: Path

    @functools.cached_property
    def record(self) -> dict[str, Any]:
        """The device run's ``facts.json`` (read once)."""
        path = self.result / FACTS
        if not path.exists():
            raise BundleError(f"{self.result}: no {FACTS}; is this the OUT folder of `python -m training.device_run`?")
        return json.loads(path.read_text(encoding="utf-8"))

    def load(
        self, texts: Sequence[str], targets: Targets, config: MiniLMExperiment
    ) -> tuple[Any, Any, dict[str, float]]:
        """(model, tokenizer, training facts) like ``train_encoder``'s, from the device's weights, after checking
        that they were trained on exactly ``texts``/``targets`` under ``config``."""
        from safetensors.torch import load_file
        from transformers import AutoTokenizer

        manifest = _checked_manifest(self.bundle)
        record = self.record
        if config_sha256(config) != manifest["config_sha256"]:
            raise BundleError(f"{self.bundle} was written for another config than this experiment's")
        if record["bundle_manifest_sha256"] != sha256_bytes((self.bundle / MANIFEST).read_bytes()):
            raise BundleError(f"{self.result} was trained from another bundle than {self.bundle}")
        if record["max_steps"] is not None:
            raise BundleError(f"{self.result} is a timing probe (--max-steps {record['max_steps']}), not a whole run")
        tokenizer = AutoTokenizer.from_pretrained(str(self.bundle / BASE))
        token_ids = tokenize_for_training(tokenizer, texts, config.encoder.train_max_length)
        lengths = text_lengths(texts)
        if training_set_sha256(token_ids, lengths, targets, tokenizer.pad_token_id) != manifest["train_set_sha256"]:
            raise BundleError(f"{self.bundle} was built from other data than this run's training set")
        model, _ = build_torch_model(self.bundle / BASE, config.encoder.trainable_layers)
        trained: dict[str, Any] = {}
        for name, digest in record["shards"].items():
            if sha256_bytes((self.result / name).read_bytes()) != digest:
                raise BundleError(f"{self.result / name} differs from the digest the device recorded")
            trained.update(load_file(str(self.result / name)))
        expected = {n for n, p in model.named_parameters() if p.requires_grad}
        if set(trained) != expected:
            raise BundleError(f"{self.result}: trained parameters {sorted(set(trained) ^ expected)[:5]} do not match")
        model.load_state_dict(trained, strict=False)
        model.eval()
        facts = dict(record["facts"])
        if facts["train_steps"] < facts["train_steps_planned"]:
            planned = facts["train_steps_planned"]
            logger.warning("the device run stopped at step %d of %d", facts["train_steps"], planned)
        return model, tokenizer, facts

    def provenance_files(self) -> tuple[Path, Path]:
        """The bundle's manifest and the device run's facts: what a run finished from them logs beside it."""
        return self.bundle / MANIFEST, self.result / FACTS

    def tags(self) -> dict[str, str]:
        """Run tags naming where and with what the encoder was trained."""
        record = self.record
        return {
            "train.device": str(record["device"]),
            "train.device_torch": str(record["torch"]),
            "train.device_transformers": str(record["transformers"]),
            "train.bundle_manifest_sha256": str(record["bundle_manifest_sha256"]),
        }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m training.device_run BUNDLE OUT [--max-steps N]``."""
    parser = argparse.ArgumentParser(prog="python -m training.device_run", description=__doc__.split("\n")[0])
    parser.add_argument("bundle", type=Path, help="folder written by `threatscore train CONFIG --device-bundle`")
    parser.add_argument("out", type=Path, help="folder for the trained parameters and facts.json")
    parser.add_argument("--max-steps", type=int, default=None, help="stop after N steps (a timing probe)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        record = train_bundle(args.bundle, args.out, max_steps=args.max_steps)
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201 (command-line output)
        return 2
    facts = record["facts"]
    per_step = facts["train_minutes"] * 60 / max(1.0, facts["train_steps"])
    print(  # noqa: T201 (command-line output)
        f"{record['device']}: {facts['train_steps']:.0f} of {facts['train_steps_planned']:.0f} steps in "
        f"{facts['train_minutes']:.2f} min ({per_step:.4f} s/step), final loss "
        f"{facts.get('final_loss', float('nan')):.4f}; wrote {', '.join(record['shards'])} and {FACTS} to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
