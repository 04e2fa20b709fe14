"""Write the embeddings of the bundled library into the package (run after its texts change).

The bot looks texts up here by content hash before encoding them, so the bundled library is
never embedded on a user's machine. `tests/semantic` checks that this file is current.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from bot.answers.learning import ModelSet
from bot.app import build_engine
from bot.config import Config
from bot.semantic.vectors import pair_texts, passage_text, save_known

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    with tempfile.TemporaryDirectory() as data:
        config = Config(data_dir=Path(data))
        config = config.model_copy(
            update={"retrieval": config.retrieval.model_copy(update={"semantic": "on"})}
        )
        engine = build_engine(config, models=ModelSet.untrained())
        semantic = engine.composer.semantic_index
        assert semantic is not None
        passages = engine.library.passages
        texts = [
            *(passage_text(p) for p in passages),
            *(s for p in passages for s in p.sentences),
            *pair_texts(passages),
        ]
        vectors = np.vstack(
            [
                np.asarray(semantic.passages),
                np.asarray(semantic.sentences),
                np.asarray(semantic.pairs),
            ]
        )
        target = ROOT / "bot" / "semantic" / "shipped" / semantic.encoder.name
        save_known(target, texts, vectors.astype(np.float32))
        print(f"wrote {len(texts)} vectors to {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
