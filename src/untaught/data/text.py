"""Bag-of-words corpora: word counts per document, float32 [N, V], with their vocabulary.

* ``python-docs``: the paragraphs (of 30 words or more) of the Python language and library reference
  topics that ship with CPython itself (``pydoc_data.topics``): a small real corpus that is always
  offline. Its contents follow the Python version, so figures are comparable on one version only.
* ``20newsgroups``: the 20 Newsgroups "bydate" release (train 11,314 / test 7,532 posts; the last
  1,000 training posts in a fixed shuffle are the validation split), downloaded once and
  hash-checked, headers removed.

Both keep the ``V`` most frequent words of the training split (500 for python-docs, 2000 for
20newsgroups; scikit-learn's English stop words removed, tokens of 3+ letters, lower case);
20newsgroups posts left with fewer than 5 vocabulary words are dropped (python-docs keeps every
paragraph). ``vocabulary(name)`` gives the words of the columns. Labels are -1 for ``python-docs``
and the newsgroup index for ``20newsgroups``.
"""

from __future__ import annotations

import functools
import re
import tarfile
from pathlib import Path

import numpy as np
import torch

from .download import cache_dir, fetch
from .registry import DatasetInfo, Split, register

VOCABULARY = 2000
DOCS_VOCABULARY = 500  # python-docs is small: 807 paragraphs of about 60 words
MIN_WORDS = 5
_TOKEN = r"(?u)\b[a-zA-Z]{3,}\b"

NEWS_URL = "https://ndownloader.figshare.com/files/5975967"
NEWS_FILE = "20newsgroups/20news-bydate.tar.gz"
NEWS_SHA256 = "8f1b2514ca22a5ade8fbb9cfa5727df95fa587f4c87b786e15c759fa66d95610"
NEWS_SIZES = {"train": 10_314, "val": 1_000, "test": 7_532}  # before dropping near-empty posts


def bag_of_words(train: list[str], others: dict[str, list[str]], size: int = VOCABULARY):
    """Fit the vocabulary on ``train``; return it and the count matrices of every part, as float32 tensors."""
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(max_features=size, stop_words="english", token_pattern=_TOKEN, lowercase=True)
    counts = {"train": vectorizer.fit_transform(train)}
    counts.update({name: vectorizer.transform(docs) for name, docs in others.items()})
    words = list(vectorizer.get_feature_names_out())
    return words, {k: torch.from_numpy(v.toarray().astype(np.float32)) for k, v in counts.items()}


def _keep(x: torch.Tensor, y: torch.Tensor) -> Split:
    full = x.sum(1) >= MIN_WORDS
    return Split(x[full].contiguous(), y[full].contiguous(), levels=None)


# -- python-docs ---------------------------------------------------------------------------------------
@functools.cache
def _python_docs_parts() -> dict[str, list[str]]:
    """The paragraphs of 30+ words, split 80 / 10 / 10 in a fixed shuffle (cheap: no vectorising)."""
    from pydoc_data.topics import topics

    paragraphs = [p for _, text in sorted(topics.items()) for p in re.split(r"\n\s*\n", text) if len(p.split()) >= 30]
    order = np.random.RandomState(0).permutation(len(paragraphs))
    n_test = n_val = len(paragraphs) // 10
    return {
        "test": [paragraphs[i] for i in order[:n_test]],
        "val": [paragraphs[i] for i in order[n_test : n_test + n_val]],
        "train": [paragraphs[i] for i in order[n_test + n_val :]],
    }


@functools.cache
def _python_docs() -> tuple[list[str], dict[str, Split]]:
    parts = _python_docs_parts()
    words, counts = bag_of_words(parts["train"], {"val": parts["val"], "test": parts["test"]}, DOCS_VOCABULARY)
    # every paragraph is kept (a few, mostly code, have no vocabulary word: empty bags), so the sizes hold
    return words, {k: Split(v, torch.full((len(v),), -1, dtype=torch.long), None) for k, v in counts.items()}


# -- 20 Newsgroups ----------------------------------------------------------------------------------------
def read_newsgroups_archive(path: str | Path) -> dict[str, tuple[list[str], list[int], list[str]]]:
    """Posts of a 20news-bydate archive: {'train' | 'test': (texts, group indices, group names)}.

    Headers (everything before the first blank line) are removed; groups are numbered in
    alphabetical order; posts are in archive order within sorted member names.
    """
    out: dict[str, tuple[list[str], list[int], list[str]]] = {}
    with tarfile.open(path, "r:gz") as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name)
        groups = sorted({Path(m.name).parts[-2] for m in members})
        for part in ("train", "test"):
            texts, labels = [], []
            for m in members:
                parts = Path(m.name).parts
                if len(parts) < 3 or not parts[-3].endswith(part):
                    continue
                raw = tar.extractfile(m).read().decode("latin-1")
                _, _, body = raw.partition("\n\n")
                texts.append(body)
                labels.append(groups.index(parts[-2]))
            out[part] = (texts, labels, groups)
    if not out.get("train", ([],))[0] or not out.get("test", ([],))[0]:
        raise ValueError(f"{path} holds no 20news-bydate-train / -test posts")
    return out


def newsgroups_splits(path: str | Path) -> tuple[list[str], dict[str, Split]]:
    """Vocabulary and splits from an archive (validation: 1,000 training posts in a fixed shuffle)."""
    posts = read_newsgroups_archive(path)
    texts, labels, _ = posts["train"]
    order = np.random.RandomState(0).permutation(len(texts))
    n_val = min(1000, len(texts) // 10)
    val_idx, train_idx = order[len(texts) - n_val :], order[: len(texts) - n_val]
    train = [texts[i] for i in train_idx]
    val = [texts[i] for i in val_idx]
    words, counts = bag_of_words(train, {"val": val, "test": posts["test"][0]})
    ys = {
        "train": torch.tensor([labels[i] for i in train_idx]),
        "val": torch.tensor([labels[i] for i in val_idx]),
        "test": torch.tensor(posts["test"][1]),
    }
    return words, {k: _keep(counts[k], ys[k]) for k in counts}


@functools.cache
def _newsgroups(root: str | None) -> tuple[list[str], dict[str, Split]]:
    return newsgroups_splits(fetch(NEWS_URL, NEWS_FILE, NEWS_SHA256, root, dataset="20newsgroups"))


def vocabulary(name: str, root: str | None = None) -> list[str]:
    """The words of the columns of bag-of-words dataset ``name``."""
    if name == "python-docs":
        return _python_docs()[0]
    if name == "20newsgroups":
        return _newsgroups(root)[0]
    raise ValueError(f"{name!r} is not a bag-of-words dataset; expected 'python-docs' or '20newsgroups'")


def _python_docs_sizes() -> dict[str, int]:
    return {k: len(v) for k, v in _python_docs_parts().items()}


register(
    DatasetInfo(
        name="python-docs",
        description="bag of words (500 words) of the Python reference topics shipped with CPython",
        shape=(DOCS_VOCABULARY,),
        levels=None,
        sizes=_python_docs_sizes(),
        loader=lambda split, root: _python_docs()[1][split],
        offline=lambda root: True,
    )
)
register(
    DatasetInfo(
        name="20newsgroups",
        description="bag of words (2000 words) of the 20 Newsgroups bydate posts, headers removed (download)",
        shape=(VOCABULARY,),
        levels=None,
        sizes=NEWS_SIZES,
        loader=lambda split, root: _newsgroups(root)[1][split],
        offline=lambda root: (cache_dir(root) / NEWS_FILE).is_file(),
    )
)
