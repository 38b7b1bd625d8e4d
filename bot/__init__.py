"""A Discord bot that answers readers' questions about one news story, with cited answers."""

import os

# One question never fans out over cores: numpy's BLAS and the tokenizer stay on one thread each.
# Set before numpy or tokenizers load, which is why it lives at the package's root.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
