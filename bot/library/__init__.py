"""The library: documents, their catalogue, cleaning and passages."""
