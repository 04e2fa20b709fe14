"""Meaning-level matching: sentence embeddings that let a question meet a paraphrase.

BM25 stays the retriever; embeddings only re-score its candidates (and, in a small library,
add a few of their own), so the semantic layer scales with the library and can be missing.
"""
