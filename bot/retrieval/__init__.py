"""BM25 retrieval over passages."""
